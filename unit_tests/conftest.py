"""Every unit test starts a sync of its own: nothing a component read or said once for another test is reused."""

import pytest

from source_convert.components import shared_reads


@pytest.fixture(autouse=True)
def a_new_sync():
    shared_reads.clear()
    yield
    shared_reads.clear()
