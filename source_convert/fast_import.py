"""Start-up shortcut, applied before airbyte_cdk is imported.

serpyco_rs (under ``airbyte_cdk.models``) reads and parses the source code of every protocol class at
import time only to copy attribute docstrings into JSON-schema descriptions that the connector never
uses: about 0.5 s of every command's start-up (profiled in ``bench/README.md``). Turning the docstring
lookup off leaves every message byte-identical.
"""

from __future__ import annotations


def skip_attribute_docstrings() -> None:
    """Make ``attributes_doc.get_attributes_doc`` return nothing; a no-op if the module is absent."""
    try:
        import attributes_doc
    except ImportError:  # a serpyco_rs without attributes_doc needs nothing
        return
    attributes_doc.get_attributes_doc = lambda cls: {}
