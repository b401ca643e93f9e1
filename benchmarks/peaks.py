"""Peak FLOP/s and bytes/s that MFU and MBU divide by.

On a GPU the planner catalog's dense datasheet peak (the convention of published MFU
figures); on a CPU, or a GPU the catalog lacks, the best GEMM and copy measured in this run
(bias: a measured peak is below the datasheet's, so MFU reads higher than it would).
"""
from __future__ import annotations

from planner.catalog.devices import PEAK_KEY, catalog_gpu


def measured_peaks(points: list[dict], dtype: str) -> dict:
    gemm = [p["flops_per_s"] for p in points if p["kind"] == "gemm" and p.get("dtype") == dtype and "skipped" not in p]
    copy = [p["bytes_per_s"] for p in points if p["kind"] == "bandwidth" and "skipped" not in p]
    out = {}
    if gemm:
        out |= {"flops_per_s": max(gemm), "flops_source": f"best {dtype} GEMM measured in this run"}
    if copy:
        out |= {"bytes_per_s": max(copy), "bytes_source": "best copy bandwidth measured in this run"}
    return out


def find_peaks(c) -> dict:
    """Peaks for context `c` (a suite.Context): catalog first on CUDA, measured otherwise."""
    out = measured_peaks(c.points, c.plan.compute_dtype)
    if c.device != "cuda":
        return out
    spec = catalog_gpu(_device_name())
    key = PEAK_KEY.get(c.plan.compute_dtype)
    if spec is not None and key in spec.peak_flops:
        out |= {"flops_per_s": spec.peak_flops[key], "flops_source": f"catalog {spec.name} dense {key} peak"}
    if spec is not None:
        out |= {"bytes_per_s": spec.memory_bytes_per_s, "bytes_source": f"catalog {spec.name} memory bandwidth"}
    return out


def _device_name() -> str:
    import torch
    return torch.cuda.get_device_name(0)
