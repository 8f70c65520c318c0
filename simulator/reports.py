"""Deterministic report numbers: per (experience, variation, goal, local day) cells and their aggregates.

A day is a local calendar day in the report's ``utc_offset``. Its numbers depend only on the seed, the ids
and that calendar date, never on the request window or ``Dataset.now``, so re-reading an older day always
returns the same values, and for one offset the daily cells of a window add up to the aggregated totals.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from . import contract

_M64 = (1 << 64) - 1


def _hash(*parts: int) -> int:
    """splitmix64-style mixing of integers into one 64-bit value."""
    x = 0x243F6A8885A308D3
    for part in parts:
        x = ((x ^ (part & _M64)) + 0x9E3779B97F4A7C15) & _M64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
        x ^= x >> 31
    return x


def _unit(*parts: int) -> float:
    return _hash(*parts) / float(1 << 64)


class Cell(NamedTuple):
    visitors: int
    conversions: int
    revenue: float
    products: int


class Totals(NamedTuple):
    visitors: int
    conversions: int
    revenue: float
    products: int

    def plus(self, cell: Cell) -> "Totals":
        return Totals(self.visitors + cell.visitors, self.conversions + cell.conversions,
                      round(self.revenue + cell.revenue, 2), self.products + cell.products)


ZERO = Totals(0, 0, 0.0, 0)


class ReportModel:
    """Memoised deterministic report cells for one dataset seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._cache: Dict[Tuple[int, ...], Cell] = {}
        self._lock = threading.Lock()

    def cell(self, exp_id: int, var_id: int, baseline: bool, goal_id: int, revenue_goal: bool, day: int,
             utc_offset: int = 0) -> Cell:
        """Numbers of the local day starting at UTC second ``day`` (a local midnight in UTC+``utc_offset``)."""
        day = day + utc_offset  # the local calendar date, as local-clock seconds of its midnight
        key = (exp_id, var_id, int(baseline), goal_id, int(revenue_goal), day)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        s = self.seed
        volume = 150 + _hash(s, exp_id, 1) % 700
        visitors = int(volume * (0.7 + 0.6 * _unit(s, exp_id, var_id, day, 2)))
        rate = 0.02 + 0.10 * _unit(s, exp_id, goal_id, 3)
        if not baseline:
            rate *= 1 + (_unit(s, exp_id, var_id, goal_id, 4) - 0.4) * 0.3
        conversions = min(visitors, int(visitors * rate * (0.85 + 0.3 * _unit(s, exp_id, var_id, goal_id, day, 5)) + 0.5))
        revenue = round(conversions * (25 + 75 * _unit(s, exp_id, var_id, goal_id, day, 6)), 2) if revenue_goal else 0.0
        products = conversions * (1 + _hash(s, exp_id, var_id, goal_id, day, 7) % 3) if revenue_goal else 0
        result = Cell(visitors, conversions, revenue, products)
        with self._lock:
            self._cache[key] = result
        return result

    def totals(self, exp_id: int, variation: Dict[str, Any], goal_id: int, revenue_goal: bool,
               days: List[int], utc_offset: int = 0) -> Totals:
        """Sum of the cells of ``days`` (local midnights in UTC+``utc_offset``, as UTC seconds)."""
        acc = ZERO
        for day in days:
            acc = acc.plus(self.cell(exp_id, variation["id"], variation["is_baseline"], goal_id, revenue_goal, day,
                                     utc_offset))
        return acc


def noise(*parts: int) -> int:
    """A deterministic pseudo-random integer in 0..96."""
    return _hash(*parts) % 97


def rate(conversions: float, visitors: int) -> float:
    """Conversion rate in percent, 4 decimals."""
    return round(100.0 * conversions / visitors, 4) if visitors else 0.0


def per_visitor(amount: float, visitors: int) -> float:
    return round(amount / visitors, 6) if visitors else 0.0


def confidence(base: Totals, other: Totals) -> float:
    """Two-proportion z-test confidence (percent) that ``other`` differs from ``base``."""
    if not base.visitors or not other.visitors:
        return 0.0
    p1, p2 = base.conversions / base.visitors, other.conversions / other.visitors
    pooled = (base.conversions + other.conversions) / (base.visitors + other.visitors)
    se = math.sqrt(pooled * (1 - pooled) * (1 / base.visitors + 1 / other.visitors)) if 0 < pooled < 1 else 0.0
    if se == 0:
        return 0.0
    z = abs(p2 - p1) / se
    return round(100.0 * math.erf(z / math.sqrt(2)), 2)


def change(base: Totals, other: Totals) -> Optional[float]:
    """Relative conversion-rate change (percent) versus the baseline."""
    base_rate = base.conversions / base.visitors if base.visitors else 0.0
    if not base_rate or not other.visitors:
        return 0.0
    return round(100.0 * ((other.conversions / other.visitors) - base_rate) / base_rate, 2)


def metric_value(metric: str, totals: Totals) -> float:
    if metric == "avg_revenue_per_visitor":
        return per_visitor(totals.revenue, totals.visitors)
    if metric == "avg_products_ordered_per_visitor":
        return per_visitor(totals.products, totals.visitors)
    return rate(totals.conversions, totals.visitors)


DAILY_METRICS = contract.enum("DailyReportMetrics")
AVERAGE_METRICS = DAILY_METRICS[3:]  # per order: their daily ``totals`` is the sum of the day's average


def daily_value(metric: str, totals: Totals) -> float:
    """A daily report's ``value``: conversion rate in percent (4 decimals), revenue or products per visitor,
    average order value or average products per order (6 decimals; 0.0 without visitors or conversions)."""
    if metric == "average_order_value":
        return per_visitor(totals.revenue, totals.conversions)
    if metric == "average_products_per_order":
        return per_visitor(totals.products, totals.conversions)
    return metric_value(metric, totals)


def daily_total(metric: str, totals: Totals) -> float:
    """A daily report's ``totals`` for ``totals``' numbers: conversions, revenue, products, or for the averages
    per order the sum of the average over these numbers' one day, i.e. ``daily_value``."""
    if metric == "conversion_rate":
        return totals.conversions
    if metric == "avg_revenue_per_visitor":
        return totals.revenue
    if metric == "avg_products_ordered_per_visitor":
        return totals.products
    return daily_value(metric, totals)


def is_mab(seed: int, exp_id: int) -> bool:
    """Whether an experience allocates its traffic automatically (multi-armed bandit): about one in three."""
    return _hash(seed, exp_id, 11) % 3 == 0


def traffic_allocation(seed: int, exp_id: int, variations: List[Dict[str, Any]], day: int, utc_offset: int = 0) -> Dict[int, float]:
    """Each variation's share of the traffic (percent, 2 decimals, adding up to 100) on the local day starting at
    UTC second ``day``: for a MAB experience a share that moves from day to day, for the others its
    ``traffic_distribution``."""
    if not is_mab(seed, exp_id):
        return {v["id"]: v["traffic_distribution"] for v in variations}
    local = day + utc_offset  # the local calendar date, as for the report cells
    weights = {v["id"]: 0.2 + _unit(seed, exp_id, v["id"], local, 12) for v in variations}
    total = sum(weights.values())
    shares = {vid: round(100.0 * weight / total, 2) for vid, weight in weights.items()}
    if shares:
        last = variations[-1]["id"]
        shares[last] = round(100.0 - sum(share for vid, share in shares.items() if vid != last), 2)
    return shares
