"""Collective communication over N processes on torch.distributed: ops (what each rank times and
checks) and launch (spawning the ranks, turning rank 0's times into `collective` points, the
alpha-beta fit). Imports measure/ only; the command line that drives it is benchmarks/__main__.py.
"""
