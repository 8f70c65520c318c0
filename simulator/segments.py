"""Report numbers by segment: how the simulator splits an unfiltered report over the ``segments`` filter.

Every dimension partitions each variation's visitors (and their conversions, revenue and products) into
parts, with deterministic weights per (seed, experience, variation, dimension, part): the parts of one
dimension add up exactly to the unfiltered numbers. A filter value names one part or, for the device
categories ``all_phones`` and ``all_tablets``, several (so those overlap ``iPhone``, ``iPad`` and the
others by design). Values of one dimension are OR-ed (their parts are added), dimensions are AND-ed
(split after each other, as if independent). Parts no value names (visitors from another country, with
no campaign, in no segmentation audience) are never selected alone.

The enums are the published ``ReportingSegmentsFilters`` values; countries are free ISO alpha-2 codes
(the simulator's visitors come from ``COUNTRY_PARTS`` and "elsewhere"), campaigns are the experience's
``report_settings`` campaign names, custom segments its project's audiences of type ``segmentation``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from . import contract
from .reports import Totals, _hash

DEVICE_PARTS = ("desktop", "iPhone", "other_phones", "iPad", "other_tablets")
DEVICE_VALUES = {"desktop": ("desktop",), "iPhone": ("iPhone",), "other_phones": ("other_phones",),
                 "all_phones": ("iPhone", "other_phones"), "iPad": ("iPad",), "other_tablets": ("other_tablets",),
                 "all_tablets": ("iPad", "other_tablets")}
# The published dimensions and, where they have one, their enums (``contract.segment_dimensions``).
ENUMS: Dict[str, Tuple[str, ...]] = {name: values for name, values in contract.segment_dimensions().items() if values}
DIMENSIONS = tuple(contract.segment_dimensions())
COUNTRY_PARTS = ("US", "GB", "DE", "FR", "IN", "BR", "CA", "AU")
CAMPAIGN_NAMES = ("spring_sale", "newsletter_weekly", "retargeting_q3", "brand_search", "partner_launch")
_ELSEWHERE = "\x00rest"  # the part no filter value names


def campaigns_of(seed: int, exp_id: int) -> List[str]:
    """The utm_campaign names an experience's visitors came with (0 to 3 of ``CAMPAIGN_NAMES``)."""
    count = _hash(seed, exp_id, 41) % 4
    start = _hash(seed, exp_id, 42) % len(CAMPAIGN_NAMES)
    return [CAMPAIGN_NAMES[(start + i) % len(CAMPAIGN_NAMES)] for i in range(count)]


def parts_of(dimension: str, seed: int, exp_id: int, segment_ids: Sequence[int]) -> Tuple[str, ...]:
    """The parts a dimension splits an experience's visitors into (every part, "elsewhere" included)."""
    if dimension == "devices":
        return DEVICE_PARTS
    if dimension in ENUMS:
        return ENUMS[dimension]
    if dimension == "countries":
        return COUNTRY_PARTS + (_ELSEWHERE,)
    if dimension == "campaigns":
        return tuple(campaigns_of(seed, exp_id)) + (_ELSEWHERE,)
    return tuple(str(i) for i in segment_ids) + (_ELSEWHERE,)


def selected_parts(dimension: str, values: Sequence[Any]) -> set:
    """The parts the filter values of one dimension select."""
    if dimension == "devices":
        return {part for value in values for part in DEVICE_VALUES[value]}
    return {str(value) for value in values}


def _split(amount: int, weights: Sequence[int]) -> List[int]:
    """``amount`` in whole parts proportional to ``weights``, adding up to ``amount`` exactly."""
    whole, cumulated, previous, out = sum(weights), 0, 0, []
    for weight in weights:
        cumulated += weight
        upto = (2 * amount * cumulated + whole) // (2 * whole)
        out.append(upto - previous)
        previous = upto
    return out


def split(totals: Totals, seed: int, exp_id: int, var_id: int, dimension: str,
          parts: Sequence[str]) -> Dict[str, Totals]:
    """One variation's numbers per part of ``dimension``; they add up to ``totals`` exactly."""
    index = DIMENSIONS.index(dimension)
    # Mostly the experience's mix, a little each variation's own (so segment results differ by variation).
    weights = [10 * (1 + _hash(seed, exp_id, index, i, 43) % 9) + _hash(seed, exp_id, var_id, index, i, 44) % 4
               for i in range(len(parts))]
    columns = [_split(totals.visitors, weights), _split(totals.conversions, weights),
               _split(int(round(totals.revenue * 100)), weights), _split(totals.products, weights)]
    return {part: Totals(columns[0][i], columns[1][i], columns[2][i] / 100, columns[3][i])
            for i, part in enumerate(parts)}


def filtered(totals: Totals, seed: int, exp_id: int, var_id: int, segments: Optional[Mapping[str, Sequence[Any]]],
             segment_ids: Sequence[int]) -> Totals:
    """One variation's numbers for the visitors that match every dimension of ``segments``."""
    for dimension in DIMENSIONS:
        values = (segments or {}).get(dimension)
        if not values:  # null or an empty list: no filter on this dimension
            continue
        chosen = selected_parts(dimension, values)
        by_part = split(totals, seed, exp_id, var_id, dimension, parts_of(dimension, seed, exp_id, segment_ids))
        kept = [numbers for part, numbers in by_part.items() if part in chosen]
        totals = Totals(sum(t.visitors for t in kept), sum(t.conversions for t in kept),
                        round(sum(t.revenue for t in kept), 2), sum(t.products for t in kept))
    return totals
