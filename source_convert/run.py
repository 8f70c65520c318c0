"""Command-line entrypoint: ``source-convert spec|check|discover|read``.

``spec`` is answered from ``spec.json`` without importing the CDK (about a second of start-up, and
the platform asks for the spec often); every other command goes to ``commands.py``.
"""

from __future__ import annotations

import json
import pkgutil
import sys
from typing import Any, Dict, List, Optional, Sequence

import orjson

# What the CDK's serializer writes for a spec.json with these keys: the protocol's field order,
# and the two flags it always includes. unit_tests/test_spec_line.py holds this to the CDK's output.
_SPEC_FIELD_ORDER = ("connectionSpecification", "documentationUrl", "changelogUrl")
_SPEC_FLAGS = {"supportsNormalization": False, "supportsDBT": False}


def spec_line() -> Optional[str]:
    """The SPEC message for ``spec.json``; None when the file has keys this shortcut does not order."""
    spec: Dict[str, Any] = json.loads(pkgutil.get_data("source_convert", "spec.json") or b"{}")
    if not set(spec) <= set(_SPEC_FIELD_ORDER) or "connectionSpecification" not in spec:
        return None
    ordered = {key: spec[key] for key in _SPEC_FIELD_ORDER if spec.get(key) is not None}
    return orjson.dumps({"type": "SPEC", "spec": {**ordered, **_SPEC_FLAGS}}).decode()


def run(argv: Optional[Sequence[str]] = None) -> None:
    """Answer ``spec`` at once; hand every other command to the CDK-based ``commands.run_command``."""
    arguments: List[str] = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["spec"] and set(arguments[1:]) <= {"--debug"}:
        line = spec_line()
        if line is not None:
            print(line, flush=True)
            return
    from source_convert.commands import run_command  # imports the CDK: about a second

    run_command(arguments)


if __name__ == "__main__":
    run()
