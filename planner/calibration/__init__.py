"""Benchmark results -> calibration profiles and the efficiencies estimates use.
The only store of calibration state; nothing is loaded unless a caller asks.
"""
