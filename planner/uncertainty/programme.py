"""The pretraining programme's bands (and its final run's overhead factor), sampled per Monte Carlo sample.

compare() carries each [programme] figure (ablations, failed runs, data licences, post-training, ...;
data/programme.toml) as a p10/p50/p90 Band. The Monte Carlo draws each one per sample from a
split normal through those three percentiles: below the median a normal with sd (p50 - p10) / z90,
above it one with sd (p90 - p50) / z90, clipped at 0 (every programme figure is a fraction, $, FTE or
months). Its p10, p50 and p90 are the Band's exactly (clipping at 0 only moves draws below a p10 >= 0).

Why not triangular_from_band (the efficiencies'): these bands are skewed further than any triangular can
be (ablations 0.1 / 0.3 / 1.0; data licences $0 / $1M / $20M), so no triangular matches them; a lognormal
has two parameters for three percentiles, and a p10 of 0 (failed runs, licences) has no logarithm.
The split normal's tails beyond p10 and p90 are judgement: the data give only three percentiles.
"""
from __future__ import annotations

import dataclasses
import zlib

import numpy as np
from scipy.special import ndtri

from ..core.band import Band
from ..decide.distributions import Z90
from ..estimate.training_run import RUN_OVERHEAD

PREFIX = "programme."
OVERHEAD = "run.overhead_factor"


def programme_bands(scenario) -> dict[str, Band]:
    """Each [programme] figure's band (a point where the scenario gives the value), keyed 'programme.<name>',
    and the final run's overhead factor (restarts, failures, pauses: pretraining's RUN_OVERHEAD),
    'run.overhead_factor'."""
    prog = scenario.programme
    return {**{PREFIX + f.name: prog.band(f.name)[0] for f in dataclasses.fields(prog)}, OVERHEAD: RUN_OVERHEAD}


def split_normal_of_z(band: Band, z: np.ndarray) -> np.ndarray:
    """The split normal through band's p10/p50/p90 at standard-normal deviates z, clipped at 0, computed in z."""
    sds = np.array([(band.p90 - band.p50) / Z90, (band.p50 - band.p10) / Z90])  # above, below the median
    z *= sds[np.less(z, 0).view(np.uint8)]  # z x the side's sd (a lookup: 2x faster than np.where on n draws)
    z += band.p50
    return np.maximum(z, 0.0, out=z)


def split_normal_ppf(band: Band, q: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The split normal through band's p10/p50/p90 at quantiles q (0 < q < 1), clipped at 0; in `out` if given."""
    return split_normal_of_z(band, ndtri(q, out=out))


def uniforms(seed: int, path: str, n: int) -> np.ndarray:
    """n uniforms in (0, 1) on the input's own stream, seeded by (seed, path) as Engine.sample's are."""
    rng = np.random.default_rng([seed, zlib.crc32(path.encode())])
    # rng.uniform(tiny, 1.0, n)'s draws (tiny + (1 - tiny) x u is u for every u above ~1e-292), 3x faster
    u = rng.random(n)
    return np.maximum(u, np.finfo(float).tiny, out=u)


def sample_programme(bands: dict[str, Band], seed: int, n: int, shared: np.ndarray | None = None) -> dict:
    """n draws of each uncertain programme band (point bands are left to their p50). Independent draws: each band's
    standard normals on its own stream seeded by (seed, path) (numpy's ziggurat: 2x faster than the quantile
    transform of uniforms, which they replaced on 2026-12-08 with the same distribution and other draws). `shared`:
    one quantile per sample used for every band (comonotone draws, as compare()'s Band arithmetic assumes)."""
    uncertain = {p: b for p, b in bands.items() if b.p90 > b.p10}
    if shared is not None:
        z = ndtri(shared)  # once for every band
        return {p: split_normal_of_z(b, z.copy()) for p, b in uncertain.items()}
    return {p: split_normal_of_z(b, np.random.default_rng([seed, zlib.crc32(p.encode())]).standard_normal(n))
            for p, b in uncertain.items()}


def programme_values(bands: dict[str, Band], values: dict, shape=(-1, 1)) -> dict[str, np.ndarray | float]:
    """Each figure by its name after the first dot: the sampled column reshaped to `shape` ((n, 1) by default)
    where `values` has it, else the band's p50."""
    return {p.split(".", 1)[1]: (np.asarray(values[p], dtype=float).reshape(shape) if p in values else b.p50)
            for p, b in bands.items()}
