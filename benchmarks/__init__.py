"""Micro-benchmarks that calibrate the planner: GEMM, bandwidth, training, prefill, decode, collectives.

torch lives here and never in planner/. Results files follow benchmarks/SCHEMA.md and
are read back with the torch-free `planner.calibration.results_file` (re-exported as `benchmarks.schema`).
"""
