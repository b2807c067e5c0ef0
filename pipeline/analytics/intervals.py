"""Confidence intervals the report draws: Wilson for a share, MOVER for NPS (a difference of two
shares), normal for a mean. Pure functions; the charts and the benches use the same ones."""

from __future__ import annotations

import math

Z95 = 1.959964


def wilson(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a share k/n (0..1); (0, 1) without answers."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def nps_interval(promoters: float, detractors: float, n: float, z: float = Z95) -> tuple[float, float, float]:
    """NPS and its 95% interval in points, by MOVER on Wilson intervals of the two shares."""
    if n <= 0:
        raise ValueError("nps_interval needs at least one answer")
    p1, p2 = promoters / n, detractors / n
    l1, u1 = wilson(promoters, n, z)
    l2, u2 = wilson(detractors, n, z)
    r = -math.sqrt(p1 * p2 / ((1 - p1) * (1 - p2))) if 0 < p1 < 1 and 0 < p2 < 1 else 0.0
    d = p1 - p2
    lo = d - math.sqrt(max(0.0, (p1 - l1) ** 2 + (u2 - p2) ** 2 - 2 * r * (p1 - l1) * (u2 - p2)))
    hi = d + math.sqrt(max(0.0, (u1 - p1) ** 2 + (p2 - l2) ** 2 - 2 * r * (u1 - p1) * (p2 - l2)))
    return 100 * d, 100 * max(-1.0, lo), 100 * min(1.0, hi)


def mean_interval(values: list[float], z: float = Z95) -> tuple[float, float, float]:
    """Mean and its normal 95% interval (standard error from the sample SD); a zero-width interval for
    fewer than two values."""
    n = len(values)
    if n == 0:
        raise ValueError("mean_interval needs at least one value")
    m = sum(values) / n
    if n < 2:
        return m, m, m
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    half = z * sd / math.sqrt(n)
    return m, m - half, m + half
