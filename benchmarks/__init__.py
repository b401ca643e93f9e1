"""Micro-benchmarks that calibrate the planner: GEMM, bandwidth, training, prefill, decode, collectives.

torch lives here and never in planner/. Grouped by what each part does, imports pointing one way:
measure/ (device, timer, environment, micro-benchmarks, results file) <- model/ (reference
transformer, quantisation, quality gate, workloads) and collectives/; the suite (suite.py,
plans.py), validate.py and the command line (__main__.py) sit on top. Results files follow
benchmarks/SCHEMA.md and are read back with the torch-free `planner.calibration.results_file`
(re-exported as `benchmarks.measure.schema`). The planner's own speed is measured by
scripts/bench_*.py, outside this package.
"""
