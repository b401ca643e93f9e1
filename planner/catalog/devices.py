"""Device names as the frameworks report them -> catalog GPU names, and torch dtypes -> peak keys.

The one copy of this map: the benchmark suite, calibration and the dashboard all use it.
Exact names only (after trimming and case-folding): a PCIe card must never borrow an SXM
part's peaks, so a name that is not listed maps to no catalog GPU and the caller says so.
Names are what `torch.cuda.get_device_name()` / `nvidia-smi` print (ROCm builds print the
AMD marketing name).
"""
from __future__ import annotations

DEVICE_NAMES = {
    "NVIDIA A100-SXM4-40GB": "A100 40GB SXM",
    "NVIDIA A100-SXM4-80GB": "A100 80GB SXM",
    "NVIDIA H100 80GB HBM3": "H100 SXM",
    "NVIDIA H100": "H100 SXM",
    "NVIDIA H800": "H800 SXM",
    "NVIDIA H800 80GB HBM3": "H800 SXM",
    "NVIDIA H200": "H200 SXM",
    "NVIDIA H200 141GB HBM3e": "H200 SXM",
    "NVIDIA B200": "B200",
    "NVIDIA GB200": "GB200",
    "NVIDIA L4": "L4",
    "NVIDIA L40S": "L40S",
    "NVIDIA A10G": "A10G",
    "NVIDIA RTX A6000": "RTX A6000",
    "NVIDIA RTX 6000 Ada Generation": "RTX 6000 Ada",
    "NVIDIA H100 PCIe": "H100 PCIe",
    "NVIDIA H100 NVL": "H100 NVL",
    "Tesla V100-SXM2-16GB": "V100 SXM2 16GB",
    "AMD Instinct MI300X": "MI300X",
    "AMD Instinct MI325X": "MI325X",
}
# Sources for the names added on 2026-11-29 (nvidia-smi / torch output quoted in public GitHub
# files found by code search): "NVIDIA H100 NVL" (Azure NC80adis_H100_v5 records), "NVIDIA H100 PCIe",
# "NVIDIA RTX A6000" and "NVIDIA RTX 6000 Ada Generation" (device-name tables and run logs),
# "NVIDIA A10G" (nvidia-smi JSON from AWS g5), "Tesla V100-SXM2-16GB" (`nvidia-smi --list-gpus`),
# "NVIDIA GB200" (a Slurm run record's gpu_model), "AMD Instinct MI325X" (clinfo board name).
# MI250X, MI355X, H20 and the Gaudi/TPU parts are left out: no printed device name was found.
_BY_KEY = {k.casefold(): v for k, v in DEVICE_NAMES.items()}

# torch dtype name -> key of GPUSpec.peak_flops (the dense datasheet peak for that dtype)
PEAK_KEY = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "float8_e4m3fn": "fp8", "int8": "int8"}


def catalog_gpu_name(device_name: str) -> str | None:
    """The catalog GPU a device name is; None for CPUs and for GPUs the table does not list."""
    return _BY_KEY.get(" ".join(str(device_name).split()).casefold())


def catalog_gpu(device_name: str):
    """The catalog GPUSpec for a device name, or None (see catalog_gpu_name)."""
    from .lookup import gpu
    name = catalog_gpu_name(device_name)
    return gpu(name) if name else None
