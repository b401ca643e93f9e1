"""The environment next to every figure: hardware, software, settings. No hostname, no user."""
from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import re
import subprocess
from pathlib import Path

import torch

from .accel import Accel, as_accel, cpu_model
from .telemetry import nvml_info

__all__ = ["cpu_model", "cpu_jiffies", "environment", "nvml_info", "other_cpu_fraction", "slug"]


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def device_name(device: str | Accel) -> str:
    return as_accel(device).name()


def slug(device: str | Accel) -> str:
    """A file-name slug for the device: "nvidia-h200", "cpu-amd-epyc"."""
    accel = as_accel(device)
    s = re.sub(r"[^a-z0-9]+", "-", accel.name().lower()).strip("-")
    return s if accel.is_cuda else f"cpu-{s}"


def _loadavg() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def environment(device: str | Accel, dtype: torch.dtype) -> dict:
    accel = as_accel(device)
    env = {
        "device": accel.kind,
        "device_name": accel.name(),
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_isa": torch.backends.cpu.get_cpu_capability(),  # a VM moved to another host type shows here
        "torch": torch.__version__,
        "numpy": _version("numpy"),
        "python": platform.python_version(),
        "dtype": str(dtype).removeprefix("torch."),
        "threads": torch.get_num_threads(),
        # "highest": fp32 GEMMs in fp32; "high"/"medium" would allow TF32/bf16 (the suite pins "highest").
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        # Other work on the machine skews timings; the 1-minute load average says whether there was any.
        "loadavg_1min_start": _loadavg(),
    }
    if accel.is_cuda:
        props = accel.properties()
        env |= {"cuda": torch.version.cuda, "device_index": accel.index, "capability": "{}.{}".format(*accel.capability()),
                "memory_bytes": props.total_memory, "sm_count": props.multi_processor_count,
                "l2_cache_bytes": accel.l2_bytes(), "gpu_uuid": accel.uuid(),
                "cudnn": torch.backends.cudnn.version()}
    else:
        env["memory_bytes"] = _mem_total_bytes()
    env |= nvml_info(accel)
    if accel.is_cuda and "driver" not in env:  # no nvidia-ml-py: the driver still belongs beside every figure
        env["driver"] = _smi_driver()
    return env


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _smi_driver() -> str | None:
    """The NVIDIA driver's version from nvidia-smi, or None (no nvidia-smi, or it failed)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.strip().splitlines() if out.returncode == 0 else []
    return lines[0].strip() if lines else None


def _mem_total_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def cpu_jiffies() -> tuple[int, int, int] | None:
    """(busy, total) clock ticks of all CPUs and this process's own ticks, from /proc; None elsewhere."""
    try:
        cpu = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    idle = cpu[3] + cpu[4]  # idle + iowait
    return sum(cpu) - idle, sum(cpu), int(own[11]) + int(own[12])  # utime + stime, all threads


def other_cpu_fraction(before, after) -> float | None:
    """Share of all CPU capacity used by other processes between two cpu_jiffies() samples.

    Another process on the same cores slows every CPU figure; a point with a high share is suspect.
    """
    if before is None or after is None or after[1] <= before[1]:
        return None
    other = (after[0] - before[0]) - (after[2] - before[2])
    return max(0.0, other / (after[1] - before[1]))
