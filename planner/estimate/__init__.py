"""The performance model: transformer arithmetic, training, inference and serving estimates.
Imports core, catalog and calibration.
"""
