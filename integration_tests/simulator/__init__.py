"""A strict local simulator of the Convert Experiences REST API v2 for end-to-end tests.

    from integration_tests.simulator import ConvertSimulator, Dataset, Fault
    with ConvertSimulator(dataset=Dataset.generate(seed=7)) as sim:
        config = sim.config()
"""

from .dataset import DEFAULT_NOW, Dataset
from .faults import Fault
from .generator import ACCOUNT_ID, DAY, FULLSTACK_PROJECT_ID, WEB_PROJECT_ID
from .server import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, ConvertSimulator, RequestLog
from .signing import compute_signature, is_compact_json, verify_request

__all__ = [
    "ACCOUNT_ID", "DAY", "DEFAULT_KEY_ID", "DEFAULT_KEY_SECRET", "DEFAULT_NOW", "FULLSTACK_PROJECT_ID",
    "WEB_PROJECT_ID", "ConvertSimulator", "Dataset", "Fault", "RequestLog", "compute_signature",
    "is_compact_json", "verify_request",
]
