"""Convert's daily-report ``totals``: each day's own numbers, or running totals since the experience started.

The API reference does not say which. Each stats entry also has ``value`` (the metric for that day
alone: the request is ``non_cumulative``) and the day's ``visitors``, so one response tells:
``value`` matches ``numerator / visitors`` with the day's own numerator, and only one of the two
readings gives it (``decide``). The metric's numerator is ``conversions`` for ``conversion_rate``,
``revenue`` for ``avg_revenue_per_visitor`` and ``products`` for ``avg_products_ordered_per_visitor``.

The window contract: the report is requested from one day ``B`` before the first day delivered
(``baseline_day``). Days up to ``B`` are baseline only and never delivered, in either reading; under
the running reading they give the totals the next day's difference starts from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import Enum
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

Number = Union[int, float]

NUMERATORS = {
    "conversion_rate": "conversions",
    "avg_revenue_per_visitor": "revenue",
    "avg_products_ordered_per_visitor": "products",
}
SCALES = {"conversion_rate": (100, 1)}  # a percentage or a fraction; the other metrics are per visitor (scale 1)
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
    conversions: Optional[Number] = None
    revenue: Optional[Number] = None
    products: Optional[Number] = None


@dataclass(frozen=True)
class Own:
    """A delivered day's own numbers (``None`` where Convert gives none)."""

    conversions: Optional[Number]
    revenue: Optional[Number]
    products: Optional[Number]


FIELDS = tuple(field.name for field in fields(Own))
Variations = Sequence[Tuple[str, Sequence[Day]]]  # (label for messages, e.g. "variation 7", its entries)


class Undecidable(ValueError):
    """Neither reading fits a response, or both fit and give different numbers; the message says which checks failed."""


@dataclass(frozen=True)
class Decision:
    """``reading``: the only reading that fits, or ``None`` when both fit with the same numbers.
    ``own``: per variation, aligned with its entries, the own numbers of each delivered day, ``None`` for baseline days."""

    reading: Optional[Reading]
    own: List[List[Optional[Own]]]


def baseline_day(start_time: Any, utc_offset: Any) -> Optional[str]:
    """``B``: the UTC date of ``start_time + max(utc_offset, 0)`` (both seconds, as the request body has them).

    ``None`` when ``start_time`` is not a number (or a string of one); an unreadable offset counts as 0."""
    start, offset = _as_number(start_time), _as_number(utc_offset) or 0
    try:
        return dt.datetime.fromtimestamp(int(start + max(offset, 0)), tz=dt.timezone.utc).strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError, OSError):  # no start_time, or none a date can have
        return None


def own_numbers(days: Sequence[Day], baseline: str, reading: Reading) -> List[Optional[Own]]:
    """The own numbers of each entry of one variation (aligned with ``days``); ``None`` for days up to ``baseline``.

    Running: a day's totals minus those of the variation's latest earlier entry (its baseline entry, or the
    previous day), or minus 0 when it has none: Convert has an entry for every day an experience ran.
    A field Convert gives as null (on the day or on that earlier entry) stays ``None``."""
    own: List[Optional[Own]] = [None] * len(days)
    previous: Optional[Day] = None
    for index in sorted(range(len(days)), key=lambda i: days[i].day):
        day = days[index]
        if day.day > baseline:
            if reading is Reading.OWN:
                own[index] = Own(day.conversions, day.revenue, day.products)
            else:
                own[index] = Own(*(_minus(getattr(day, name), getattr(previous, name) if previous else 0) for name in FIELDS))
        previous = day
    return own


def problems(variations: Variations, metric: str, baseline: str, reading: Reading) -> List[str]:
    """Why ``reading`` does not fit one response (all its variations together); empty when it fits.

    Over the delivered days: no own number below 0 (running totals never decrease); own conversions not
    above the day's visitors (days with 0 visitors too); and ``value`` equal to ``numerator * scale / visitors``
    within ``ROUNDING``, compared as numerators (``|value * visitors / scale - numerator| <= ROUNDING *
    visitors / scale + SLACK``), at one scale for every day of the response (``conversion_rate``: percent
    or fraction). Days with 0 visitors, or without ``value`` or numerator, are left out of the value test."""
    numerator = NUMERATORS[metric]
    found: Dict[str, List[str]] = {}
    misfits: Dict[Number, List[str]] = {scale: [] for scale in SCALES.get(metric, (1,))}
    checked = 0
    for label, days in variations:
        for day, own in zip(days, own_numbers(days, baseline, reading)):
            if own is None:
                continue
            place = f"{day.day} of {label}"
            below = [name for name in FIELDS if _below(getattr(own, name), 0)]
            for check in ["totals decrease"] if below and reading is Reading.RUNNING else [f"{name} below 0" for name in below]:
                found.setdefault(check, []).append(place)
            if day.visitors is not None and _below(day.visitors, own.conversions):
                found.setdefault("conversions exceed visitors", []).append(place)
            counted = getattr(own, numerator)
            if not day.visitors or day.value is None or counted is None:
                continue
            checked += 1
            for scale, places in misfits.items():
                if abs(day.value * day.visitors / scale - counted) > ROUNDING * day.visitors / scale + SLACK:
                    places.append(place)
    messages = [f"{check} on {_days(len(places))}, first on {places[0]}" for check, places in found.items()]
    if all(misfits.values()):  # every scale misses some day (no checked day: it fits)
        scales = " (as a percent or a fraction)" if len(misfits) > 1 else ""
        places = min(misfits.values(), key=len)
        messages.append(f"value does not match {numerator}/visitors{scales} on {len(places)} of {_days(checked)} "
                        f"checked, first on {places[0]}")
    return messages


def decide(variations: Variations, metric: str, baseline: str) -> Decision:
    """The reading that fits one response, and the own numbers of its delivered days.

    Raises ``Undecidable`` when a variation has two entries for one day, when neither reading fits, or
    when both fit but give different numbers for a delivered day."""
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
        for day, one, other in zip(days, as_own, as_running):
            if one is not None and not all(_same(getattr(one, name), getattr(other, name)) for name in FIELDS):
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
