"""Peak FLOP/s and bytes/s that MFU and MBU divide by.

On a GPU the planner catalog knows (planner/catalog/devices.py, the one name map): its dense
datasheet peak, the convention of published MFU figures. Elsewhere (a CPU, a GPU the catalog
lacks): the run's own best, the highest FLOP/s of any GEMM or model point in the compute
dtype and the highest bytes/s of any copy or decode point, re-taken after every point. A
model point can beat every GEMM (a CPU decode of a model that fits in cache reads faster
than a DRAM copy); with its own best as the peak, no fraction exceeds 1.
Bias: a measured peak is below the datasheet's, so MFU and MBU read higher than against one.
"""
from __future__ import annotations

from planner.catalog.devices import PEAK_KEY, catalog_gpu

FLOP_KINDS = ("gemm", "train", "prefill")
BYTE_KINDS = ("bandwidth", "decode")


def catalog_peaks(device_name: str, dtype: str) -> dict:
    """The catalog's dense peak for `dtype` and memory bandwidth; {} for a device it does not list."""
    spec = catalog_gpu(device_name)
    key = PEAK_KEY.get(dtype)
    out = {}
    if spec is not None and key in spec.peak_flops:
        out |= {"flops_per_s": spec.peak_flops[key], "flops_source": f"catalog {spec.name} dense {key} peak"}
    if spec is not None:
        out |= {"bytes_per_s": spec.memory_bytes_per_s, "bytes_source": f"catalog {spec.name} memory bandwidth"}
    return out


def measured_peaks(points: list[dict], dtype: str) -> dict:
    """The best FLOP/s (compute dtype) and bytes/s measured among `points`."""
    live = [p for p in points if "skipped" not in p]
    flops = [p["flops_per_s"] for p in live if p["kind"] in FLOP_KINDS and p.get("dtype") == dtype
             and p.get("flops_per_s")]
    bytes_ = [p["bytes_per_s"] for p in live if p["kind"] in BYTE_KINDS and p.get("bytes_per_s")]
    out = {}
    if flops:
        out |= {"flops_per_s": max(flops), "flops_source": f"best {dtype} FLOP/s measured in this run"}
    if bytes_:
        out |= {"bytes_per_s": max(bytes_), "bytes_source": "best bytes/s measured in this run"}
    return out


def update_peaks(peaks: dict, points: list[dict], *, device_name: str, is_cuda: bool, dtype: str) -> None:
    """Set `peaks` (in place) and every point's mfu/mbu to match them."""
    known = catalog_peaks(device_name, dtype) if is_cuda else {}
    peaks.clear()
    peaks.update(measured_peaks(points, dtype) | known)
    for p in points:
        if "skipped" in p or p["kind"] not in ("train", "prefill", "decode"):
            continue
        if p["kind"] == "decode":
            p["peak_bytes_per_s"] = peaks.get("bytes_per_s")
            p["mbu"] = p["bytes_per_s"] / p["peak_bytes_per_s"] if p["peak_bytes_per_s"] else None
        else:
            p["peak_flops_per_s"] = peaks.get("flops_per_s")
            p["mfu"] = p["flops_per_s"] / p["peak_flops_per_s"] if p["peak_flops_per_s"] else None
