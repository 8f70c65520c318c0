"""Custom low-code components: Convert's HMAC signing, envelope extraction and page-number paging."""

from source_convert.components.authenticator import ConvertHmacAuthenticator
from source_convert.components.extractor import ConvertDataExtractor
from source_convert.components.paginator import ConvertPageIncrement

__all__ = ["ConvertHmacAuthenticator", "ConvertDataExtractor", "ConvertPageIncrement"]
from source_convert.components.reports import (  # noqa: E402
    AggregatedReportExtractor,
    DailyReportExtractor,
    ExperienceGoalPartitionRouter,
)

__all__ += ["AggregatedReportExtractor", "DailyReportExtractor", "ExperienceGoalPartitionRouter"]
from source_convert.components.distinct import DistinctRecordFilter  # noqa: E402

__all__ += ["DistinctRecordFilter"]
from source_convert.components.changes import ChangedObjectsPartitionRouter  # noqa: E402

__all__ += ["ChangedObjectsPartitionRouter"]
from source_convert.components.backoff import ConvertBackoffStrategy, ConvertErrorHandler  # noqa: E402

__all__ += ["ConvertBackoffStrategy", "ConvertErrorHandler"]
from source_convert.components.partition_fields import PartitionFields  # noqa: E402

__all__ += ["PartitionFields"]
