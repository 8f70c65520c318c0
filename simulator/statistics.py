"""The stats engine of the simulator: ``metrics[]`` of an aggregated report from a goal's totals.

Deterministic closed forms (no sampling), so tests compute the same numbers from the same totals:

- ``metric_total`` (an integer, as published): conversions, revenue or products; ``metric_value`` =
  total / visitors (or / conversions for the per-order metrics), a fraction (0.05 is 5 %);
  ``metric_change`` = relative difference to the baseline's value (0.2 is +20 %; 0 for the baseline).
- Statistics (conversion_rate, avg_revenue_visitor, avg_products_ordered_visitor only): standard error
  ``se`` (binomial for the rate, value / sqrt(conversions) for per-visitor amounts), ``metric_interval`` =
  1.96 se, ``z`` = (value - baseline value) / sqrt(se^2 + baseline se^2).
  Frequentist: ``confidence`` = 100 erf(|z| / sqrt 2) (percent), significant at 95; the sample needed per
  variation to see a 10 % relative change at 80 % power gives ``remaining_samples`` and
  ``estimated_progress`` (percent); ``observed_power`` = 100 Phi(|z| - 1.96), ``powerful`` at 80;
  ``done`` = significant and powerful. Bayesian: ``chance_to_win`` = 100 Phi(z) (50 for the baseline),
  ``expected`` = metric_change x chance_to_win / 100, ``risk`` = [expected loss of choosing the
  variation, of keeping the baseline], ``done`` at chance_to_win >= 95 and risk[0] < 0.01.
- ``srm``/``srm_pvalue``: chi-square of the visitors against the traffic split, pairwise against the
  baseline per metric (null for the baseline) and over all variations per goal; srm when p < 0.01.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from . import contract
from .reports import Totals

AGGREGATED_METRICS = contract.enum("MetricTypes")  # the aggregated report's own metric names
WITH_STATISTICS = AGGREGATED_METRICS[:3]
METHODOLOGIES = ("frequentist", "bayesian")
SRM_ALPHA = 0.01
UNKNOWN_METRIC = "median_time_to_convert"  # a metric type the published enum does not have (simulator option)
UNKNOWN_STATISTIC = "posterior_shape"  # a statistic the published schema does not have (simulator option)


def methodology(experience: Mapping[str, Any], body: Mapping[str, Any]) -> str:
    """The request's ``stats_engine_processing.stats_type``, else the experience's setting, else a fixed
    choice per experience id (every third experience bayesian)."""
    for settings in (body.get("stats_engine_processing"), (experience.get("settings") or {}).get("stats_engine_processing")):
        if isinstance(settings, Mapping) and settings.get("stats_type") in METHODOLOGIES:
            return str(settings["stats_type"])
    return "bayesian" if experience["id"] % 3 == 0 else "frequentist"


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _parts(metric: str, t: Totals) -> Tuple[float, int]:
    """(numerator, denominator) of a metric."""
    numerator = {"conversion_rate": t.conversions, "avg_revenue_visitor": t.revenue, "average_order_value": t.revenue}.get(
        metric, t.products)
    denominator = t.conversions if metric in ("average_order_value", "average_products_per_order") else t.visitors
    return numerator, denominator


def value(metric: str, t: Totals) -> float:
    numerator, denominator = _parts(metric, t)
    return round(numerator / denominator, 6) if denominator else 0.0


def _se(metric: str, t: Totals) -> float:
    v = value(metric, t)
    if metric == "conversion_rate":
        return math.sqrt(v * (1 - v) / t.visitors) if t.visitors else 0.0
    return v / math.sqrt(t.conversions) if t.conversions else 0.0


def srm_pvalue(visitors: Sequence[int], shares: Sequence[float]) -> Optional[float]:
    """Chi-square p-value of ``visitors`` against the traffic ``shares`` (2 or 3 groups); None without visitors."""
    total, weight = sum(visitors), sum(shares)
    if not total or not weight or len(visitors) < 2:
        return None
    stat = sum((n - total * s / weight) ** 2 / (total * s / weight) for n, s in zip(visitors, shares) if s)
    p = math.erfc(math.sqrt(stat / 2)) if len(visitors) == 2 else math.exp(-stat / 2)
    return round(p, 6)


def _srm(p: Optional[float]) -> Optional[bool]:
    return None if p is None else p < SRM_ALPHA


def metric(name: str, method: str, t: Totals, base: Totals, is_baseline: bool, share: float,
           base_share: float) -> Dict[str, Any]:
    """One item of a variation's ``metrics[]``."""
    numerator, _ = _parts(name, t)
    v, b = value(name, t), value(name, base)
    item: Dict[str, Any] = {"metric_type": name, "metric_total": int(round(numerator)),
                            "metric_value": v, "metric_change": 0.0 if is_baseline or not b else round((v - b) / b, 6)}
    if name not in WITH_STATISTICS:
        return item
    se, base_se = _se(name, t), _se(name, base)
    spread = math.sqrt(se ** 2 + base_se ** 2)
    z = 0.0 if is_baseline or not spread else (v - b) / spread
    item["metric_interval"] = round(1.96 * se, 6)
    pairwise = None if is_baseline else srm_pvalue([t.visitors, base.visitors], [share, base_share])
    _, denominator = _parts(name, t)
    unit_variance = se ** 2 * denominator if denominator else 0.0
    needed = math.ceil(2 * (1.96 + 0.84) ** 2 * unit_variance / (0.1 * b) ** 2) if b and unit_variance else None
    progress = None if needed is None else round(min(100.0, 100.0 * denominator / needed), 2)
    if method == "frequentist":
        confidence = round(100 * math.erf(abs(z) / math.sqrt(2)), 2)
        power = None if is_baseline else round(100 * _phi(abs(z) - 1.96), 2)
        significant = confidence >= 95
        item.update({
            "confidence": confidence, "statistically_significant": significant, "estimated_progress": progress,
            "remaining_samples": None if needed is None else max(0, needed - denominator),
            "observed_power": power, "powerful": None if power is None else power >= 80,
            "done": bool(significant and power is not None and power >= 80),
        })
    else:
        chance = round(100 * _phi(z), 2)
        change = item["metric_change"]
        risk = [round(max(0.0, -change) * (1 - chance / 100), 6), round(max(0.0, change) * chance / 100, 6)]
        item.update({
            "chance_to_win": chance, "expected": round(change * chance / 100, 6), "risk": risk,
            "estimated_progress": progress, "done": chance >= 95 and risk[0] < 0.01,
        })
    item.update({"srm": _srm(pairwise), "srm_pvalue": pairwise})
    return item


def goal_report(method: str, variations: List[Mapping[str, Any]], totals: Mapping[int, Totals],
                metrics: Sequence[str]) -> Tuple[Dict[str, Any], Dict[int, List[Dict[str, Any]]]]:
    """(the goal's ``srm``/``srm_pvalue``, each variation's ``metrics[]``)."""
    baseline = next((v for v in variations if v["is_baseline"]), variations[0] if variations else None)
    p = srm_pvalue([totals[v["id"]].visitors for v in variations], [v["traffic_distribution"] for v in variations])
    per_variation: Dict[int, List[Dict[str, Any]]] = {}
    for v in variations:
        per_variation[v["id"]] = [
            metric(name, method, totals[v["id"]], totals[baseline["id"]], v is baseline, v["traffic_distribution"],
                   baseline["traffic_distribution"])
            for name in metrics
        ]
    return {"srm": _srm(p), "srm_pvalue": p}, per_variation
