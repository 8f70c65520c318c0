"""Refresh ``convert-v2.json`` from Convert's published OpenAPI description.

Usage: ``python -m simulator.contract.extract path/to/convert-openapi.yml``

Keeps, for every operation the connector calls (``OPERATIONS``), the JSON Schema of its JSON request
body and of its 200 answer, the error answer (``ErrorResponse``), the object schemas the streams are
compared with (``OBJECTS``) and every component schema these reach. Prose and annotations are left out;
OpenAPI 3.0 ``nullable`` becomes a JSON Schema type union; discriminators are dropped and a ``oneOf``
whose branches are not told apart by their JSON type becomes ``anyOf`` (see README.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

import yaml

OUTPUT = Path(__file__).with_name("convert-v2.json")
SCHEMA_REF = "#/components/schemas/"

_ACC = "/accounts/{account_id}"
_PRJ = _ACC + "/projects/{project_id}"
_EXP = _PRJ + "/experiences/{experience_id}"
# name -> (method, path template as the spec writes it)
OPERATIONS: Dict[str, Tuple[str, str]] = {
    "getAccountsList": ("GET", "/accounts"),
    "getAccountDetails": ("GET", _ACC + "/details"),
    "getAccountUsersAccessesList": ("GET", _ACC + "/users-accesses"),
    "getProjectsList": ("POST", _ACC + "/projects"),
    "getProject": ("GET", _PRJ),
    "getExperiencesList": ("POST", _PRJ + "/experiences"),
    "getExperience": ("GET", _EXP),
    "getGoalsList": ("POST", _PRJ + "/goals"),
    "getGoal": ("GET", _PRJ + "/goals/{goal_id}"),
    "getAudiencesList": ("POST", _PRJ + "/audiences"),
    "getAudience": ("GET", _PRJ + "/audiences/{audience_id}"),
    "getLocationsList": ("POST", _PRJ + "/locations"),
    "getLocation": ("GET", _PRJ + "/locations/{location_id}"),
    "getHypothesesList": ("POST", _PRJ + "/hypotheses"),
    "getHypothesis": ("GET", _PRJ + "/hypotheses/{hypothesis_id}"),
    "getKnowledgeBasesList": ("POST", _PRJ + "/knowledge-bases"),
    "getKnowledgeBase": ("GET", _PRJ + "/knowledge-bases/{knowledge_base_id}"),
    "getObservationsList": ("POST", _PRJ + "/observations"),
    "getObservation": ("GET", _PRJ + "/observations/{observation_id}"),
    "getTagsList": ("POST", _PRJ + "/tags"),
    "getTag": ("GET", _PRJ + "/tags/{tag_id}"),
    "getDomainsList": ("POST", _PRJ + "/domains"),
    "getDomain": ("GET", _PRJ + "/domains/{domain_id}"),
    "getFeaturesList": ("POST", _PRJ + "/features"),
    "getFeature": ("GET", _PRJ + "/features/{feature_id}"),
    "getProjectHistory": ("POST", _PRJ + "/change-history"),
    "getExperienceHistory": ("POST", _EXP + "/change-history"),
    "getSections": ("GET", _EXP + "/sections"),
    "getExperienceReportSettings": ("GET", _EXP + "/report_settings"),
    "getExperienceAggregatedReport": ("POST", _EXP + "/aggregated_report"),
    "getExperienceDailyReport": ("POST", _EXP + "/daily_report"),
    "getExperienceDailyTrafficAllocation": ("POST", _EXP + "/daily_traffic_allocation"),
}

# simple name -> the spec's schema of one object as the connector reads it (list items where it lists)
OBJECTS: Dict[str, str] = {
    "Project": SCHEMA_REF + "Project",
    "Experience": SCHEMA_REF + "Experience",
    "Goal": SCHEMA_REF + "Goal",
    "Audience": SCHEMA_REF + "Audience",
    "Location": SCHEMA_REF + "Location",
    "Hypothesis": SCHEMA_REF + "HypothesisData",  # as listed; a single GET answers "Hypothesis"
    "HypothesisDetails": SCHEMA_REF + "Hypothesis",
    "KnowledgeBase": SCHEMA_REF + "KnowledgeBase",
    "Observation": SCHEMA_REF + "Observation",
    "Tag": SCHEMA_REF + "Tag",
    "Domain": SCHEMA_REF + "Domain",
    "Feature": SCHEMA_REF + "Feature",
    "AccountDetails": SCHEMA_REF + "AccountDetails",
    "AccountUserAccesses": SCHEMA_REF + "AccountUserAccesses",
    "ChangeHistory": SCHEMA_REF + "ChangeHistory",
    "ExperienceSection": SCHEMA_REF + "ExperienceSection",
    "ExperienceVariation": SCHEMA_REF + "ExpandedExperienceVariationData",
    "ExperienceChange": SCHEMA_REF + "ExperienceChange",
    "ReportSettings": SCHEMA_REF + "ExperienceReportSettingsData/properties/data",
    "AggregatedReport": SCHEMA_REF + "ExperienceAggregatedReport",
    "DailyReport": SCHEMA_REF + "ExperienceDailyReport",
    "DailyTrafficAllocation": SCHEMA_REF + "ExperienceDailyTrafficAllocationReport",
}

# Keywords that carry prose or annotations only; they never change what validates.
_DROPPED = {"description", "summary", "title", "example", "examples", "externalDocs", "xml", "deprecated",
            "readOnly", "writeOnly", "default", "discriminator", "$comment"}
# Keywords whose value is a map of name -> schema (the names are data, never dropped).
_SCHEMA_MAPS = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
_SCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems"}
_SCHEMA_VALUES = {"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
                  "unevaluatedProperties", "unevaluatedItems"}


class Spec:
    """The OpenAPI document and the conversion of its schemas."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.doc = document
        self.schemas: Mapping[str, Any] = document["components"]["schemas"]

    # ------------------------------------------------------------------ lookups
    def resolve(self, ref: str) -> Any:
        node: Any = self.doc
        for part in ref.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _deref(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        while isinstance(node, Mapping) and "$ref" in node:
            node = self.resolve(node["$ref"])
        return node

    def json_schema_of(self, holder: Optional[Mapping[str, Any]]) -> Optional[Any]:
        """The ``application/json`` schema of a request body or response (after its ``$ref``)."""
        if holder is None:
            return None
        content = self._deref(holder).get("content") or {}
        media = content.get("application/json")
        return None if media is None else media.get("schema")

    def operation(self, method: str, path: str) -> Mapping[str, Any]:
        try:
            return self.doc["paths"][path][method.lower()]
        except KeyError:
            raise SystemExit(f"the spec has no {method} {path}") from None

    # ------------------------------------------------------------------ conversion
    def convert(self, node: Any) -> Any:
        """A JSON Schema (2020-12) of one OpenAPI schema node: prose dropped, ``nullable`` and ``oneOf`` converted."""
        if not isinstance(node, Mapping):
            return node
        out: Dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED or key == "nullable" or key.startswith("x-"):
                continue
            if key in _SCHEMA_MAPS:
                out[key] = {name: self.convert(sub) for name, sub in value.items()}
            elif key in _SCHEMA_LISTS:
                out[key] = [self.convert(sub) for sub in value]
            elif key in _SCHEMA_VALUES:
                out[key] = self.convert(value)
            else:
                out[key] = value
        if "oneOf" in out and not self._exclusive(node["oneOf"]):
            branches = out.pop("oneOf")
            if "anyOf" in out:
                out["allOf"] = out.get("allOf", []) + [{"anyOf": branches}]
            else:
                out["anyOf"] = branches
        if node.get("nullable") is True:
            out = _nullable(out)
        return out

    def _exclusive(self, branches: List[Any]) -> bool:
        """True when every branch has one JSON type and no two share one (integer counts as number)."""
        seen: Set[str] = set()
        for branch in branches:
            kind = self._deref(branch).get("type") if isinstance(branch, Mapping) else None
            if not isinstance(kind, str):
                return False
            kind = "number" if kind == "integer" else kind
            if kind in seen:
                return False
            seen.add(kind)
        return True


def _nullable(schema: Dict[str, Any]) -> Dict[str, Any]:
    """``schema`` that also accepts null: a type union where the schema is one plain type, else anyOf."""
    kind = schema.get("type")
    composite = any(k in schema for k in ("$ref", "allOf", "anyOf", "oneOf", "not"))
    if isinstance(kind, str) and not composite:
        out = dict(schema, type=[kind, "null"])
        if "enum" in out and None not in out["enum"]:
            out["enum"] = list(out["enum"]) + [None]
        return out
    if isinstance(kind, list) and not composite:
        return dict(schema, type=kind + (["null"] if "null" not in kind else []))
    if not schema:
        return {}
    return {"anyOf": [schema, {"type": "null"}]}


def _refs(node: Any) -> Set[str]:
    found: Set[str] = set()
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
            found.add(ref[len(SCHEMA_REF):].split("/")[0])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def extract(document: Mapping[str, Any]) -> Dict[str, Any]:
    """The contract file's content for one OpenAPI document."""
    spec = Spec(document)
    operations: Dict[str, Any] = {}
    for name, (method, path) in OPERATIONS.items():
        op = spec.operation(method, path)
        if op.get("operationId") != name:
            raise SystemExit(f"{method} {path} is {op.get('operationId')!r} in the spec, expected {name!r}")
        request = spec.json_schema_of(op.get("requestBody"))
        response = spec.json_schema_of((op.get("responses") or {}).get("200"))
        if response is None:
            raise SystemExit(f"{name}: the spec declares no JSON 200 answer")
        operations[name] = {"method": method, "path": path, "operation_id": name,
                            "request": None if request is None else spec.convert(request),
                            "response": spec.convert(response)}
    error = spec.convert(spec.json_schema_of(document["components"]["responses"]["ErrorResponse"]))
    objects = {name: {"$ref": ref} for name, ref in OBJECTS.items()}
    wanted = _refs([operations, error, objects])
    kept: Dict[str, Any] = {}
    while wanted:
        name = wanted.pop()
        if name in kept:
            continue
        kept[name] = spec.convert(spec.schemas[name])
        wanted |= _refs(kept[name]) - set(kept)
    servers = document.get("servers") or [{}]
    return {
        "source": {"title": document["info"].get("title"), "version": document["info"].get("version"),
                   "openapi": document.get("openapi")},
        "base_path": "/" + (servers[0].get("url") or "").split("://", 1)[-1].split("/", 1)[-1],
        "operations": operations,
        "error": error,
        "objects": objects,
        "components": {"schemas": dict(sorted(kept.items()))},
    }


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m simulator.contract.extract path/to/convert-openapi.yml", file=sys.stderr)
        return 2
    document = yaml.safe_load(Path(argv[0]).read_text(encoding="utf-8"))
    content = extract(document)
    OUTPUT.write_text(json.dumps(content, indent=1, sort_keys=False, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT.name}: {len(content['operations'])} operations, "
          f"{len(content['components']['schemas'])} component schemas")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
