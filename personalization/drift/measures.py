"""The statistics of drift: population stability index, and a two-sample test per kind.

PSI reads the reference's own quantiles as bins, so it is comparable across signals; 0.1 is
commonly read as "some shift" and 0.2 as "moved". A large sample makes any test significant,
so a signal counts as moved only when PSI says so, or when the test is significant *and*
the change is large enough to matter (KS distance, or a relative change of a rate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

PSI_MOVED = 0.2
P_VALUE = 0.01
KS_MIN_DISTANCE = 0.1
RATE_MIN_RELATIVE_CHANGE = 0.25
SHARE_MIN_CHANGE = 0.10
MIN_SAMPLES = 30
_EPSILON = 1e-4


@dataclass(frozen=True)
class SignalDrift:
    signal: str
    reference_n: int
    current_n: int
    reference_value: float | None  # mean or rate
    current_value: float | None
    psi: float | None
    test: str
    statistic: float | None
    p_value: float | None
    moved: bool
    note: str

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def psi(reference: Sequence[float], current: Sequence[float], bins: int = 10) -> float:
    """PSI over the reference's quantile bins (ties collapse bins, never empty ones)."""
    values = np.asarray(reference, dtype=float)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:  # one value: below it, and from it on
        edges = np.array([-np.inf, edges[0], np.inf])
    else:
        edges[0], edges[-1] = -np.inf, np.inf
    ref = np.histogram(reference, edges)[0] / len(reference)
    cur = np.histogram(current, edges)[0] / len(current)
    return _psi(ref, cur)


def psi_of_shares(reference: dict[str, int], current: dict[str, int]) -> float:
    """PSI of categorical counts (labels, or yes/no for a rate)."""
    keys = sorted(set(reference) | set(current))
    ref = np.array([reference.get(k, 0) for k in keys], dtype=float)
    cur = np.array([current.get(k, 0) for k in keys], dtype=float)
    return _psi(ref / ref.sum(), cur / cur.sum())


def _psi(ref: np.ndarray, cur: np.ndarray) -> float:
    ref, cur = np.clip(ref, _EPSILON, None), np.clip(cur, _EPSILON, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def continuous(signal: str, reference: Sequence[float], current: Sequence[float]) -> SignalDrift:
    """A distribution of values (confidence, sentiment score): PSI and the KS test."""
    if min(len(reference), len(current)) < MIN_SAMPLES:
        return _too_few(signal, reference, current, "Kolmogorov-Smirnov")
    index = psi(reference, current)
    result = stats.ks_2samp(reference, current)
    moved = index >= PSI_MOVED or (result.pvalue < P_VALUE and result.statistic >= KS_MIN_DISTANCE)
    return SignalDrift(
        signal,
        len(reference),
        len(current),
        float(np.mean(reference)),
        float(np.mean(current)),
        index,
        "Kolmogorov-Smirnov",
        float(result.statistic),
        float(result.pvalue),
        moved,
        f"mean {np.mean(reference):.3f} -> {np.mean(current):.3f}",
    )


def rate(signal: str, reference: tuple[int, int], current: tuple[int, int]) -> SignalDrift:
    """A rate (hits, trials), such as fallbacks per message: PSI and a two-proportion test."""
    (ref_hits, ref_n), (cur_hits, cur_n) = reference, current
    if min(ref_n, cur_n) < MIN_SAMPLES:
        return SignalDrift(
            signal,
            ref_n,
            cur_n,
            _share(ref_hits, ref_n),
            _share(cur_hits, cur_n),
            None,
            "two-proportion z-test",
            None,
            None,
            False,
            f"not enough data (at least {MIN_SAMPLES} on each side)",
        )
    before, after = ref_hits / ref_n, cur_hits / cur_n
    index = psi_of_shares(
        {"yes": ref_hits, "no": ref_n - ref_hits}, {"yes": cur_hits, "no": cur_n - cur_hits}
    )
    pooled = (ref_hits + cur_hits) / (ref_n + cur_n)
    se = math.sqrt(pooled * (1 - pooled) * (1 / ref_n + 1 / cur_n))
    z = (after - before) / se if se else 0.0
    p = float(2 * stats.norm.sf(abs(z)))
    relative = abs(after - before) / before if before else (math.inf if after else 0.0)
    moved = index >= PSI_MOVED or (p < P_VALUE and relative >= RATE_MIN_RELATIVE_CHANGE)
    return SignalDrift(
        signal,
        ref_n,
        cur_n,
        before,
        after,
        index,
        "two-proportion z-test",
        z,
        p,
        moved,
        f"rate {before:.3f} -> {after:.3f}",
    )


def categorical(signal: str, reference: dict[str, int], current: dict[str, int]) -> SignalDrift:
    """Shares of labels (negative, neutral, positive): PSI and the chi-square test; moved
    when PSI says so, or the test is significant and a share changed by 10 points."""
    ref_n, cur_n = sum(reference.values()), sum(current.values())
    if min(ref_n, cur_n) < MIN_SAMPLES:
        return SignalDrift(
            signal,
            ref_n,
            cur_n,
            None,
            None,
            None,
            "chi-square",
            None,
            None,
            False,
            f"not enough data (at least {MIN_SAMPLES} on each side)",
        )
    keys = sorted(set(reference) | set(current))
    table = np.array([[reference.get(k, 0) for k in keys], [current.get(k, 0) for k in keys]])
    table = table[:, table.sum(axis=0) > 0]
    chi2, p, _, _ = stats.chi2_contingency(table)
    index = psi_of_shares(reference, current)
    largest = max(abs(reference.get(k, 0) / ref_n - current.get(k, 0) / cur_n) for k in keys)
    shares = ", ".join(
        f"{k} {reference.get(k, 0) / ref_n:.2f}->{current.get(k, 0) / cur_n:.2f}" for k in keys
    )
    return SignalDrift(
        signal,
        ref_n,
        cur_n,
        None,
        None,
        index,
        "chi-square",
        float(chi2),
        float(p),
        index >= PSI_MOVED or (p < P_VALUE and largest >= SHARE_MIN_CHANGE),
        shares,
    )


def _share(hits: int, n: int) -> float | None:
    return hits / n if n else None


def _too_few(
    signal: str, reference: Sequence[float], current: Sequence[float], test: str
) -> SignalDrift:
    return SignalDrift(
        signal,
        len(reference),
        len(current),
        float(np.mean(reference)) if len(reference) else None,
        float(np.mean(current)) if len(current) else None,
        None,
        test,
        None,
        None,
        False,
        f"not enough data (at least {MIN_SAMPLES} on each side)",
    )
