"""Multivariate (MVT) experiences and their sections: deterministic, stored per experience.

Convert's sections: ``id`` (1-2 characters), ``name``, ``concurrency_key`` and ``versions`` (ids, or
objects ``{id, name, changes, variations}`` with ``include``/``expand`` ``versions``; the versions'
``changes`` as ids, or as change objects with ``versions.changes``).

The web project "Blog" (200004) gets two MVT experiences (``MVT_POSITIONS`` of its experiences by id;
the other projects' records stay exactly as before): the first, a completed experience, is archived
since (so it cannot change any more), the second is running. Each has two sections:

* ``a`` "Headline": one version per variation (ids ``a0``, ``a1`` ... in variation order), applying that
  variation's changes;
* ``b`` "Call to action": an "Original" version ``b0`` for the baseline variation and one version ``b1``
  shared by the other variations, without changes.

Section and version ids are 1-2 character strings, as the reference's schema says (``^[0-9a-z]{1,2}$``).

A version's changes are the live change objects of its variations, so ``edit_variation_change`` shows in
the sections too. An MVT experience created later (``add_experience(type="mvt")``) has no stored
sections; the route then answers one section ``A`` whose versions mirror the variations.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Dict, Iterable, List

if TYPE_CHECKING:  # pragma: no cover
    from .dataset import Dataset

MVT_POSITIONS = (1, 3)  # of the blog's experiences by id: one completed (archived here), one active (seed 7)
OPTIONS = ("versions", "versions.changes")


def make_mvt(ds: "Dataset", project_id: int, positions: Iterable[int] = MVT_POSITIONS) -> List[int]:
    """Turn the experiences at ``positions`` (by id) of a project into MVT experiences with stored sections;
    the first of them, if it has stopped, is archived."""
    experiences = sorted(ds.store[project_id]["experiences"].values(), key=lambda e: e["id"])
    chosen = []
    for position in positions:
        if position >= len(experiences):
            continue
        exp = experiences[position]
        exp["type"] = "mvt"
        exp["multipage_pages"] = []
        if not chosen and exp.get("end_time"):
            exp["status"] = "archived"
        ds.mvt_sections[exp["id"]] = _sections_of(exp)
        chosen.append(exp["id"])
    return chosen


def _sections_of(exp: Dict[str, Any]) -> List[Dict[str, Any]]:
    variations = exp.get("variations") or []
    baseline = [v["id"] for v in variations if v["is_baseline"]]
    others = [v["id"] for v in variations if not v["is_baseline"]]
    headline = {"id": "a", "name": "Headline",
                "versions": [{"id": f"a{index}", "name": v["name"], "variations": [v["id"]]}
                             for index, v in enumerate(variations)]}
    versions = [{"id": "b0", "name": "Original", "variations": baseline}]
    if others:
        versions.append({"id": "b1", "name": "Call to action 1", "variations": others})
    return [headline, {"id": "b", "name": "Call to action", "versions": versions}]


def sections(ds: "Dataset", exp: Dict[str, Any], wanted: Iterable[str]) -> List[Dict[str, Any]]:
    """The sections of an MVT experience as the API renders them for the include/expand values ``wanted``."""
    wanted = set(wanted)
    stored = ds.mvt_sections.get(exp["id"])
    variations = {v["id"]: v for v in exp.get("variations") or []}
    if stored is None:  # created after generation: one section mirroring the variations
        stored = [{"id": "A", "name": "Section A",
                   "versions": [{"id": v, "name": variations[v]["name"], "variations": [v]} for v in variations]}]
        if not wanted:
            return [{"id": "A", "name": "Section A", "concurrency_key": f"{exp['id']}-A-1", "versions": list(variations)}]
    out = []
    for section in stored:
        versions: List[Any] = []
        for version in section["versions"]:
            if not wanted:
                versions.append(version["id"])
                continue
            changes = _version_changes(version, variations, exp["id"], section["id"])
            versions.append({"id": version["id"], "name": version["name"], "variations": list(version["variations"]),
                             "changes": copy.deepcopy(changes) if "versions.changes" in wanted
                             else [change["id"] for change in changes]})
        out.append({"id": section["id"], "name": section["name"], "concurrency_key": f"{exp['id']}-{section['id']}-1",
                    "versions": versions})
    return out


def _version_changes(version: Dict[str, Any], variations: Dict[int, Dict[str, Any]], experience_id: int,
                     section_id: str) -> List[Dict[str, Any]]:
    """The first section's versions apply their variation's changes; other sections' versions none."""
    if section_id not in ("a", "A") or len(version["variations"]) != 1:
        return []
    variation = variations.get(version["variations"][0])
    return list(variation.get("changes") or []) if variation else []
