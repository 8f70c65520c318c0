"""Copy the current connector package to DEST and apply proposed changes, to measure them.

    PYTHONPATH=/work/main .venv/bin/python bench/proposals/make_variant.py /tmp/variant --startup --partition-fields
    PYTHONPATH=/work/main .venv/bin/python bench/run.py --connector-src /tmp/variant ...

The repo is never modified. Each change is a literal text substitution that fails loudly when the
code it expects has moved on.

--startup           source_convert/__init__.py: stop serpyco_rs (imported by airbyte_cdk.models) from
                    reading and ast-parsing the source of every protocol dataclass to collect attribute
                    docstrings for JSON-schema descriptions nobody uses (about 0.5 s CPU per start).
--partition-fields  manifest.yaml: replace the per-record Jinja AddFields of changed_at (5 streams),
                    aggregated_reports and daily_reports by components.PartitionFields.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

STARTUP_OLD = 'from source_convert.source import SourceConvert'
STARTUP_NEW = '''try:  # before airbyte_cdk is imported: serpyco_rs builds its serializers at import time
    import attributes_doc as _attributes_doc

    # serpyco_rs reads and parses the source of every protocol class only to put attribute
    # docstrings into JSON-schema descriptions; the connector never uses those schemas.
    _attributes_doc.get_attributes_doc = lambda cls: {}
except ImportError:  # pragma: no cover - a serpyco_rs without attributes_doc needs nothing
    pass

from source_convert.source import SourceConvert  # noqa: E402'''

MANIFEST_SUBSTITUTIONS = [
    ('''  add_changed_at:
    type: AddFields
    fields:
      - path: ["changed_at"]
        value: "{{ stream_partition.changed_at }}"
        value_type: integer
''', '''  add_changed_at:
    type: CustomTransformation
    class_name: source_convert.components.PartitionFields
    integer_fields: {changed_at: changed_at}
'''),
    ('''    transformations:
      - type: AddFields
        fields:
          - path: ["experience_id"]
            value: "{{ stream_partition.experience_id }}"
            value_type: integer

''', '''    transformations:
      - type: CustomTransformation
        class_name: source_convert.components.PartitionFields
        integer_fields: {experience_id: experience_id}

'''),
    ('''    transformations:
      - type: AddFields
        fields:
          - path: ["experience_id"]
            value: "{{ stream_partition.experience_id }}"
            value_type: integer
          - path: ["metric"]
            value: "{{ parameters.metric }}"
          - path: ["report_type"]
            value: "{{ parameters.report_type }}"''', '''    transformations:
      - type: CustomTransformation
        class_name: source_convert.components.PartitionFields
        integer_fields: {experience_id: experience_id}
        constant_fields: {metric: "{{ parameters.metric }}", report_type: "{{ parameters.report_type }}"}'''),
]


def substitute(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    if text.count(old) != 1:
        raise SystemExit(f"{path}: expected exactly one occurrence of:\n{old}\n(found {text.count(old)})")
    path.write_text(text.replace(old, new), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest")
    parser.add_argument("--startup", action="store_true")
    parser.add_argument("--partition-fields", action="store_true")
    args = parser.parse_args()
    dest = Path(args.dest)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(REPO / "source_convert", dest / "source_convert", ignore=shutil.ignore_patterns("__pycache__"))
    package = dest / "source_convert"
    if args.startup:
        substitute(package / "__init__.py", STARTUP_OLD, STARTUP_NEW)
    if args.partition_fields:
        shutil.copy(HERE / "partition_fields.py", package / "components" / "partition_fields.py")
        with open(package / "components" / "__init__.py", "a", encoding="utf-8") as handle:
            handle.write("\nfrom source_convert.components.partition_fields import PartitionFields  # noqa: E402\n\n"
                         "__all__ += [\"PartitionFields\"]\n")
        for old, new in MANIFEST_SUBSTITUTIONS:
            substitute(package / "manifest.yaml", old, new)
    print(f"variant at {dest} (startup={args.startup}, partition_fields={args.partition_fields})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
