"""A dense model's forward pass (perf.forward_s) as one table of coefficients per (model, degree, Kernels, Numerics).

Every term of a dense forward pass is max(compute x rows_c, fixed + memory x rows_m) for some rows:

- each linear layer and the output head: gemm.coefficients (kept by perf._dense_linears), rows_c the rows with
  Hockney's tile fill (gemm.from_coefficients), rows_m the rows;
- attention: max(FLOPs / FLOP/s, K/V bytes / bytes/s) (perf.attention_s): compute 1 / FLOP/s on the pass's
  attention FLOPs, memory 1 / bytes/s on its K/V bytes, no fixed part (perf._attention_rates);
- the element-wise work: seconds per row (perf._elementwise_s_per_row) on the rows, no memory part;

each weighted by its layers, plus the fixed costs (each GEMM's overhead, perf.overheads_s). The table holds the
coefficients as columns after the rates' axes, so a few stacked passes (inference.py's prefill, decode step and the
decode step's roofline bound) are timed in about eight array operations instead of some thirty. The coefficients
come from perf's own functions: this is the same model evaluated in one pass, equal to perf.forward_s to float
round-off (tests/test_speed_plumbing.py and tests/test_call_paths.py hold them equal at random points).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..catalog.specs import ModelSpec
from ..core.memo import by_identity
from . import arithmetic as ar
from . import perf


@dataclass(frozen=True, eq=False)
class Table:
    """Coefficients (rates' axes..., columns) of a dense forward pass; `n_gemms` columns of GEMMs (the head last),
    then attention, then the element-wise work."""

    per_row: np.ndarray  # (2, rates..., columns): seconds per compute row, seconds of memory traffic per memory row
    fixed: np.ndarray  # seconds of memory traffic per pass
    layers: np.ndarray  # (columns,): how many times each column runs per pass
    n_gemms: int
    half_rows: float  # Kernels.gemm_half_rows
    fixed_s: float  # per pass: every GEMM's overhead and perf.overheads_s


@by_identity()  # a replica's kernels are built once (inference._replica)
def stacked_peaks(kern: perf.Kernels) -> perf.Kernels:
    """`kern` with its peaks on a leading axis of 4 (a column): as given for the prefill and the decode step, then
    unlimited FLOP/s and unlimited bandwidth for the decode step's roofline bound (perf.decode_step_and_bound)."""
    f, b = kern.peak_flops_per_s, kern.peak_bytes_per_s
    return replace(kern, peak_flops_per_s=np.array([[f], [f], [np.inf], [f]]),
                   peak_bytes_per_s=np.array([[b], [b], [b], [np.inf]]))


@by_identity()  # pure: a catalog model, a degree and a device's (immutable) rates and formats
def table(m: ModelSpec, tp: int, kern: perf.Kernels, num: perf.Numerics) -> Table | None:
    """The forward pass of a dense `m` on one GPU of a `tp`-way replica as a Table; None where perf.forward_s must
    answer itself (an MoE model, a degree per layout, a GEMM overhead or tile fill that is uncertain)."""
    if ar.n_moe_layers(m) or ar.ndim_of(tp) or type(kern.gemm_half_rows) is not float \
            or type(kern.gemm_overhead_s) is not float or np.ndim(perf.overheads_s(m, kern)):
        return None
    (c_gemm, f_gemm, p_gemm), counts, _, _, _, _ = perf._dense_linears(m, tp, kern, num, False)
    per_flop, per_byte = perf._attention_rates(m, tp, kern)
    per_row = perf._elementwise_s_per_row(m, tp, kern, num)
    lead = np.broadcast_shapes(c_gemm.shape[:-1], np.shape(per_flop), np.shape(per_byte), np.shape(per_row))

    def columns(gemms, attention, elementwise):  # (lead..., n_gemms + 2)
        extra = np.stack([np.broadcast_to(attention, lead), np.broadcast_to(elementwise, lead)], axis=-1)
        return np.ascontiguousarray(np.concatenate([np.broadcast_to(gemms, lead + gemms.shape[-1:]), extra], axis=-1))
    return Table(per_row=np.stack([columns(c_gemm, 1.0 / per_flop, per_row), columns(p_gemm, 1.0 / per_byte, 0.0)]),
                 fixed=columns(f_gemm, 0.0, 0.0), layers=np.concatenate([counts, [1.0, 1.0]]),
                 n_gemms=len(counts), half_rows=kern.gemm_half_rows,
                 fixed_s=kern.gemm_overhead_s * float(counts.sum()) + float(perf.overheads_s(m, kern)))


def rows_of(tab: Table, *, batch: float, new_tokens: float, attn_flops_per_token: float, kv_bytes_per_seq: float,
            logit_rows: float) -> tuple[list[float], list[float]]:
    """(compute rows, memory rows) of one pass per column, as Python floats (perf.forward_s's arguments, one number
    each): the stack's GEMMs on batch x new_tokens rows, the head on `logit_rows`, attention on its FLOPs and K/V."""
    rows = batch * new_tokens
    h = tab.half_rows
    stack_c, head_c = rows + (h if rows > 1.0 else 0.0), logit_rows + (h if logit_rows > 1.0 else 0.0)
    n = tab.n_gemms - 1
    return ([stack_c] * n + [head_c, rows * attn_flops_per_token, rows],
            [rows] * n + [logit_rows, batch * kv_bytes_per_seq, 0.0])


def forward_s(tab: Table, passes: list[tuple[list[float], list[float]]]) -> np.ndarray:
    """Seconds of each pass in `passes` (rows_of, one per position of the table's first axis: Kernels whose peaks
    lie on a leading axis, as stacked_peaks gives) at each rate: (passes, rates...)."""
    flat: list[float] = []
    for c, _ in passes:
        flat += c
    for _, mem in passes:
        flat += mem
    x = np.fromiter(flat, float, len(flat))  # np.array on a list of floats costs about twice as much
    x = x.reshape((2, len(passes)) + (1,) * (tab.fixed.ndim - 2) + tab.layers.shape)  # (2, passes, 1..., columns)
    seconds = tab.per_row * x  # compute and memory in one product
    return np.maximum(seconds[0], tab.fixed + seconds[1]) @ tab.layers + tab.fixed_s
