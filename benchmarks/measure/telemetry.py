"""NVML on the GPU in use: static facts once, and clocks, power and temperature sampled during the run.

The device is found by its UUID (from torch), so the figures are those of the GPU being
measured whatever CUDA_VISIBLE_DEVICES says; NVML index 0 is used only if the UUID is
unknown, and the record says so. NVML (the nvidia-ml-py package) is optional: without it
the run records why and goes on.
"""
from __future__ import annotations

import statistics
import threading
import time

from .accel import Accel

SAMPLE_INTERVAL_S = 0.1
METRICS = ("sm_clock_mhz", "mem_clock_mhz", "power_w", "temperature_c")


def _nvml():
    import pynvml  # nvidia-ml-py
    return pynvml


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _handle(nv, accel: Accel) -> tuple[object, str]:
    uuid = accel.uuid()
    why = "no UUID from torch"
    if uuid:
        try:
            return nv.nvmlDeviceGetHandleByUUID(uuid.encode()), f"uuid {uuid}"
        except nv.NVMLError as e:
            why = f"NVML does not know UUID {uuid}: {e}"
    return nv.nvmlDeviceGetHandleByIndex(accel.index), f"index {accel.index} ({why}; may be another GPU)"


def nvml_info(accel: Accel | None = None) -> dict:
    """Driver, memory, max clocks and power limit of the GPU in use; {"nvml": "no NVML: why"} where absent."""
    if accel is None or not accel.is_cuda:
        return {"nvml": "no NVML: not a CUDA run"}
    try:
        nv = _nvml()
    except ImportError as e:
        return {"nvml": f"no NVML: {e}"}
    try:
        nv.nvmlInit()
        try:
            h, found_by = _handle(nv, accel)
            return {
                "nvml": "ok", "nvml_device": found_by,
                "driver": _text(nv.nvmlSystemGetDriverVersion()),
                "gpu_name": _text(nv.nvmlDeviceGetName(h)),
                "memory_bytes": nv.nvmlDeviceGetMemoryInfo(h).total,
                "sm_clock_max_mhz": nv.nvmlDeviceGetMaxClockInfo(h, nv.NVML_CLOCK_SM),
                "mem_clock_max_mhz": nv.nvmlDeviceGetMaxClockInfo(h, nv.NVML_CLOCK_MEM),
                "power_limit_w": nv.nvmlDeviceGetPowerManagementLimit(h) / 1000.0,
            }
        finally:
            nv.nvmlShutdown()
    except nv.NVMLError as e:
        return {"nvml": f"no NVML: {e}"}


class Sampler:
    """A background thread reading SM and memory clocks, power and temperature every interval.

    `window(t0, t1)` summarizes the samples taken between two time.monotonic() readings as
    [min, median, max] per metric; use it per point. A no-op where NVML is missing.
    """

    def __init__(self, accel: Accel, interval_s: float = SAMPLE_INTERVAL_S):
        self.accel, self.interval_s = accel, interval_s
        self.samples: list[tuple[float, dict]] = []
        self.error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._nv = self._h = None

    def start(self) -> "Sampler":
        if not self.accel.is_cuda:
            self.error = "not a CUDA run"
            return self
        try:
            self._nv = _nvml()
            self._nv.nvmlInit()
            self._h, _ = _handle(self._nv, self.accel)
        except Exception as e:  # ImportError or NVMLError: telemetry is optional
            self.error = f"no NVML: {e}"
            return self
        self._thread = threading.Thread(target=self._run, name="nvml-sampler", daemon=True)
        self._thread.start()
        return self

    def _read(self) -> dict:
        nv, h = self._nv, self._h
        return {"sm_clock_mhz": nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM),
                "mem_clock_mhz": nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM),
                "power_w": nv.nvmlDeviceGetPowerUsage(h) / 1000.0,
                "temperature_c": nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)}

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), self._read()))
            except Exception as e:  # a failing read ends sampling, never the run
                self.error = f"NVML read failed: {e}"
                return
            self._stop.wait(self.interval_s)

    def window(self, t0: float, t1: float) -> dict | None:
        """[min, median, max] per metric over samples in [t0, t1]; the nearest sample if none fell inside."""
        samples = list(self.samples)
        inside = [s for t, s in samples if t0 <= t <= t1]
        if not inside and samples:
            inside = [min(samples, key=lambda ts: abs(ts[0] - (t0 + t1) / 2))[1]]
        if not inside:
            return None
        return {m: [min(v), statistics.median(v), max(v)] for m in METRICS
                if (v := [s[m] for s in inside if s.get(m) is not None])} | {"samples": len(inside)}

    def stop(self) -> dict:
        """Stop sampling; a run-level summary for env["telemetry"]."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * self.interval_s + 1)
        if self._nv is not None and self._h is not None:
            try:
                self._nv.nvmlShutdown()
            except Exception:
                pass
        summary = self.window(float("-inf"), float("inf")) if self.samples else None
        return {"source": "nvml" if summary else (self.error or "no samples"), "interval_s": self.interval_s,
                "run": summary}
