"""Facts with sources: GPU and model specs, their TOML data, the HF config reader, API prices.
Imports only planner.core.
"""
