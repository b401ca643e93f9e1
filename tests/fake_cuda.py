"""A fake CUDA for CPU tests: torch.cuda's calls and NVML replaced, tensors on the CPU.

`install(monkeypatch)` returns an Accel of kind "cuda" whose tensors live on the CPU, so the
suite's GPU-only branches (CUDA events and L2 flush, CUDA-graph capture, fp8 _scaled_mm with
fast accumulation, the int8 kernel race including the compiled candidate, NVML sampling on
the device found by UUID, catalog peaks) run here and a crash in them fails CI.
"""
from __future__ import annotations

import sys
import time
import types
from contextlib import contextmanager

import torch

from benchmarks.measure import graphs
from benchmarks.measure.accel import Accel
from benchmarks.model import quantize

DEVICE_NAME = "NVIDIA H100 80GB HBM3"  # a catalog GPU, so catalog peaks and physics checks apply
UUID = "GPU-12345678-aaaa-bbbb-cccc-0123456789ab"
L2_BYTES = 2**20  # small, so 4x-L2 buffers stay cheap on a CPU


class Event:
    created = 0

    def __init__(self, enable_timing: bool = False):
        Event.created += 1
        self.t = None

    def record(self, stream=None):
        self.t = time.perf_counter()

    def elapsed_time(self, end: "Event") -> float:
        return (end.t - self.t) * 1e3  # ms, as torch reports


class Graph:
    captured = 0

    def __init__(self):
        self.replays, self.step = 0, None

    def replay(self):  # re-runs the captured step eagerly, so timings and rates stay physical
        self.replays += 1
        self.step()


def record(g: Graph, step):
    """graphs.record on a CPU: remember the step for replay() and run it once, as capture does."""
    Graph.captured += 1
    g.step = step
    return step()


class Stream:
    def __init__(self, device=None):
        self.device = device

    def wait_stream(self, other):
        pass


@contextmanager
def stream(s):
    yield


def properties(index=0):
    return types.SimpleNamespace(name=DEVICE_NAME, major=9, minor=0, total_memory=80 * 2**30,
                                 multi_processor_count=132, L2_cache_size=L2_BYTES, uuid=UUID[4:])


def fake_pynvml() -> types.ModuleType:
    nv = types.ModuleType("pynvml")
    nv.NVML_CLOCK_SM, nv.NVML_CLOCK_MEM, nv.NVML_TEMPERATURE_GPU = 0, 1, 0
    nv.handles = []

    class NVMLError(Exception):
        pass

    nv.NVMLError = NVMLError
    nv.nvmlInit = nv.nvmlShutdown = lambda: None
    nv.nvmlDeviceGetHandleByUUID = lambda u: nv.handles.append(("uuid", u)) or "h"
    nv.nvmlDeviceGetHandleByIndex = lambda i: nv.handles.append(("index", i)) or "h"
    nv.nvmlSystemGetDriverVersion = lambda: b"570.00"
    nv.nvmlDeviceGetName = lambda h: DEVICE_NAME.encode()
    nv.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(total=80 * 2**30)
    nv.nvmlDeviceGetMaxClockInfo = lambda h, c: 1980 if c == 0 else 2619
    nv.nvmlDeviceGetClockInfo = lambda h, c: 1755 if c == 0 else 2619
    nv.nvmlDeviceGetPowerManagementLimit = lambda h: 700_000
    nv.nvmlDeviceGetPowerUsage = lambda h: 412_000
    nv.nvmlDeviceGetTemperature = lambda h, s: 51
    return nv


def install(monkeypatch) -> Accel:
    cuda = torch.cuda
    for name, value in {"is_available": lambda: True, "device_count": lambda: 1, "current_device": lambda: 0,
                        "get_device_name": lambda i=0: DEVICE_NAME, "get_device_properties": properties,
                        "get_device_capability": lambda i=0: (9, 0), "synchronize": lambda i=None: None,
                        "empty_cache": lambda: None, "set_device": lambda i: None, "Event": Event, "CUDAGraph": Graph,
                        "Stream": Stream, "stream": stream, "current_stream": lambda i=None: Stream(i),
                        # dynamo saves and restores the CUDA RNG around every compile when CUDA is available
                        "get_rng_state": lambda device="cuda": torch.empty(0, dtype=torch.uint8),
                        "set_rng_state": lambda state, device="cuda": None}.items():
        monkeypatch.setattr(cuda, name, value)
    monkeypatch.setattr(graphs, "record", record)
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    # The compiled int8 candidate through dynamo without a code generator (inductor would compile C++ here).
    monkeypatch.setattr(quantize, "COMPILE_BACKEND", "eager")
    quantize._compiled.cache_clear()
    Event.created = Graph.captured = 0
    return Accel("cuda", 0, "cpu")
