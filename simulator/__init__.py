"""A strict local simulator of the Convert Experiences REST API v2 for end-to-end tests.

    from simulator import ConvertSimulator, Dataset, Fault
    with ConvertSimulator(dataset=Dataset.generate(seed=7)) as sim:
        config = sim.config()

``Dataset(now=...)`` is the data clock: every timestamp, run day and report derives from it, never from
the machine clock (only signature expiry is checked against the machine clock, as Convert does).
``Dataset.advance(days)`` moves it and writes changes in every project.

Projects: 200002 web (large), 200003 fullstack (small), 200004 web "Blog" (small); ``Dataset.add_project``
and ``remove_project`` change the set. Simulator options: ``daily_totals``, ``vanished_experiences``,
``key_projects``, ``experience_edits_in_project_history``; ``peak_in_flight`` measures concurrency.
"""

from .dataset import DEFAULT_NOW, Dataset
from .faults import Fault
from .generator import ACCOUNT_ID, BLOG_PROJECT_ID, DAY, FULLSTACK_PROJECT_ID, WEB_PROJECT_ID
from .render import HISTORY_ID_STYLES
from .routes import DAILY_TOTALS
from .server import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, ConvertSimulator, RequestLog
from .signing import compute_signature, is_compact_json, verify_request

__all__ = [
    "ACCOUNT_ID", "BLOG_PROJECT_ID", "DAILY_TOTALS", "DAY", "DEFAULT_KEY_ID", "DEFAULT_KEY_SECRET", "DEFAULT_NOW",
    "FULLSTACK_PROJECT_ID",
    "HISTORY_ID_STYLES", "WEB_PROJECT_ID", "ConvertSimulator", "Dataset", "Fault", "RequestLog", "compute_signature",
    "is_compact_json", "verify_request",
]
