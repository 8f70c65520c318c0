"""Convert's daily-report ``totals``: each day's own number, or a running total since the experience started.

The published contract makes ``totals`` one number per stats entry, per the requested metric: the
conversions (``conversion_rate``), the sum of revenue (``avg_revenue_per_visitor``), the sum of ordered
products (``avg_products_ordered_per_visitor``), and "the sum of the average order value" or "of the
average products per order" (``average_order_value``, ``average_products_per_order``). It does not say
whether that number is the day's own or a running total. Each stats entry also has ``value`` (the metric
for that day alone: the request is ``non_cumulative``) and the day's ``visitors``, so one response tells
(``decide``): only one of the two readings gives own numbers that match ``value``.

- Per-visitor metrics (``RATIOS``): ``value`` is ``totals * scale / visitors`` with the day's own
  ``totals``; ``conversion_rate`` in percent or as a fraction (one scale for the whole response).
- Averages per order (``AVERAGES``): a sum of the day's average over one day is that average, so
  ``value`` equals the day's own ``totals``. Any other reading (the day's revenue, say) fits neither
  and fails loudly: the number's meaning would be unknown.

The window contract: the report is requested from one day ``B`` before the first day delivered
(``baseline_day``). Days up to ``B`` are baseline only and never delivered, in either reading; under
the running reading they give the total the next day's difference starts from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

Number = Union[int, float]

# What ``totals`` counts, per metric (for messages and docs).
TOTALS = {
    "conversion_rate": "conversions",
    "avg_revenue_per_visitor": "revenue",
    "avg_products_ordered_per_visitor": "products",
    "average_order_value": "average order value",
    "average_products_per_order": "average products per order",
}
# ``value`` = own totals * scale / visitors; conversion_rate as a percentage or a fraction.
RATIOS: Dict[str, Tuple[int, ...]] = {
    "conversion_rate": (100, 1),
    "avg_revenue_per_visitor": (1,),
    "avg_products_ordered_per_visitor": (1,),
}
AVERAGES = frozenset({"average_order_value", "average_products_per_order"})  # ``value`` = own totals
ROUNDING = 0.01  # ``value`` may be rounded (or cut) to 2 decimals: it may be off by up to one unit of the 2nd decimal
SLACK = 1e-6  # floating-point noise, in the unit of the compared number


class Reading(str, Enum):
    """What ``totals`` hold; the value is how messages name it."""

    OWN = "each day's own numbers"
    RUNNING = "running totals since the experience started"


@dataclass(frozen=True)
class Day:
    """One stats entry: its day in the report time zone (``YYYY-MM-DD``) and its numbers as Convert gave them."""

    day: str
    visitors: Optional[Number]
    value: Optional[Number]
    totals: Optional[Number] = None


Variations = Sequence[Tuple[str, Sequence[Day]]]  # (label for messages, e.g. "variation 7", its entries)
Own = Optional[Number]  # a delivered day's own totals (``None`` where Convert gives none)


class Undecidable(ValueError):
    """Neither reading fits a response, or both fit and give different numbers; the message says which checks failed."""


@dataclass(frozen=True)
class Decision:
    """``reading``: the only reading that fits, or ``None`` when both fit with the same numbers.
    ``own``: per variation, aligned with its entries, whether each entry is delivered and its own totals
    (``(False, None)`` for baseline days)."""

    reading: Optional[Reading]
    own: List[List[Tuple[bool, Own]]]


def baseline_day(start_time: Any, utc_offset: Any) -> Optional[str]:
    """``B``: the UTC date of ``start_time + max(utc_offset, 0)`` (both seconds, as the request body has them).

    ``None`` when ``start_time`` is not a number (or a string of one); an unreadable offset counts as 0."""
    start, offset = _as_number(start_time), _as_number(utc_offset) or 0
    try:
        return dt.datetime.fromtimestamp(int(start + max(offset, 0)), tz=dt.timezone.utc).strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError, OSError):  # no start_time, or none a date can have
        return None


def own_numbers(days: Sequence[Day], baseline: str, reading: Reading) -> List[Tuple[bool, Own]]:
    """Whether each entry of one variation is delivered, and its own totals (aligned with ``days``); days up
    to ``baseline`` are not delivered.

    Running: a day's totals minus those of the variation's latest earlier entry (its baseline entry, or the
    previous day), or minus 0 when it has none: Convert has an entry for every day an experience ran.
    Totals Convert gives as null (on the day or on that earlier entry) stay ``None``."""
    own: List[Tuple[bool, Own]] = [(False, None)] * len(days)
    previous: Optional[Day] = None
    for index in sorted(range(len(days)), key=lambda i: days[i].day):
        day = days[index]
        if day.day > baseline:
            if reading is Reading.OWN:
                own[index] = (True, day.totals)
            else:
                own[index] = (True, _minus(day.totals, previous.totals if previous else 0))
        previous = day
    return own


def problems(variations: Variations, metric: str, baseline: str, reading: Reading) -> List[str]:
    """Why ``reading`` does not fit one response (all its variations together); empty when it fits.

    Over the delivered days: no own totals below 0 (running totals never decrease); own conversions not
    above the day's visitors (days with 0 visitors too); and ``value`` matching the own totals within
    ``ROUNDING``, at one scale for every day of the response. Per-visitor metrics compare numerators
    (``|value * visitors / scale - totals| <= ROUNDING * visitors / scale + SLACK``) and leave out days
    with 0 visitors; averages compare ``|value - totals| <= ROUNDING + SLACK``. Days without ``value`` or
    totals are left out of the value test."""
    found: Dict[str, List[str]] = {}
    scales = RATIOS.get(metric, (1,))
    misfits: Dict[Number, List[str]] = {scale: [] for scale in scales}
    checked = 0
    for label, days in variations:
        for day, (delivered, own) in zip(days, own_numbers(days, baseline, reading)):
            if not delivered:
                continue
            place = f"{day.day} of {label}"
            if _below(own, 0):
                found.setdefault("totals decrease" if reading is Reading.RUNNING else "totals below 0", []).append(place)
            if metric == "conversion_rate" and day.visitors is not None and _below(day.visitors, own):
                found.setdefault("conversions exceed visitors", []).append(place)
            if day.value is None or own is None:
                continue
            if metric in AVERAGES:
                checked += 1
                if abs(day.value - own) > ROUNDING + SLACK:
                    misfits[1].append(place)
                continue
            if not day.visitors:
                continue
            checked += 1
            for scale, places in misfits.items():
                if abs(day.value * day.visitors / scale - own) > ROUNDING * day.visitors / scale + SLACK:
                    places.append(place)
    messages = [f"{check} on {_days(len(places))}, first on {places[0]}" for check, places in found.items()]
    if all(misfits.values()):  # every scale misses some day (no checked day: it fits)
        places = min(misfits.values(), key=len)
        if metric in AVERAGES:
            expected = f"the {TOTALS[metric]}"
        else:
            expected = f"{TOTALS[metric]}/visitors" + (" (as a percent or a fraction)" if len(scales) > 1 else "")
        messages.append(f"value does not match {expected} on {len(places)} of {_days(checked)} checked, first on {places[0]}")
    return messages


def decide(variations: Variations, metric: str, baseline: str) -> Decision:
    """The reading that fits one response, and the own totals of its delivered days.

    Raises ``Undecidable`` when a variation has two entries for one day, when neither reading fits, or
    when both fit but give different numbers for a delivered day."""
    if metric not in TOTALS:
        raise Undecidable(f"the metric {metric!r} is not one this connector can check")
    for label, days in variations:
        seen = [day.day for day in days]
        twice = sorted({day for day in seen if seen.count(day) > 1})
        if twice:
            raise Undecidable(f"{label} has more than one entry for {twice[0]}")
    failed = {reading: problems(variations, metric, baseline, reading) for reading in Reading}
    fitting = [reading for reading in Reading if not failed[reading]]
    if not fitting:
        raise Undecidable("; ".join(f"as {reading.value}: {', and '.join(failed[reading])}" for reading in Reading))
    own = {reading: [own_numbers(days, baseline, reading) for _, days in variations] for reading in fitting}
    if len(fitting) == 1:
        return Decision(fitting[0], own[fitting[0]])
    for (label, days), as_own, as_running in zip(variations, own[Reading.OWN], own[Reading.RUNNING]):
        for day, (delivered, one), (_, other) in zip(days, as_own, as_running):
            if delivered and not _same(one, other):
                raise Undecidable(f"both readings fit but give different numbers for {day.day} of {label}")
    return Decision(None, own[Reading.OWN])


def _days(count: int) -> str:
    return f"{count} day{'' if count == 1 else 's'}"


def _as_number(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _minus(value: Optional[Number], earlier: Optional[Number]) -> Optional[Number]:
    """``value - earlier`` in decimal (``310.1 - 300.0`` is ``10.1``); ``None`` when either is ``None``."""
    if value is None or earlier is None:
        return None
    if isinstance(value, int) and isinstance(earlier, int):
        return value - earlier
    return float(Decimal(repr(value)) - Decimal(repr(earlier)))


def _below(value: Optional[Number], bound: Optional[Number]) -> bool:
    return value is not None and bound is not None and value < bound - SLACK


def _same(one: Optional[Number], other: Optional[Number]) -> bool:
    return one is None and other is None or one is not None and other is not None and abs(one - other) <= SLACK
