"""The Llama-style reference transformer and what is measured on it: the architecture (transformer),
the stdlib corpus, the trained reference checkpoint (benchmarks/checkpoints/), int8 weight-only
quantisation with its perplexity gate and kernel choice, and the timed workloads (training step,
prefill, decode). Imports measure/ for the device, the timer and the results file; never
collectives/ or the suite above it.
"""
