"""How a figure is taken and written down: the device (accel), the timer, the environment and NVML
telemetry recorded beside every figure, CUDA graphs, the GEMM and bandwidth micro-benchmarks, the
device's peaks, the progress line, and the results file (schema; benchmarks/SCHEMA.md).
Knows no model: imports nothing else from benchmarks, and from planner only the torch-free
calibration.results_file and catalog.devices.
"""
