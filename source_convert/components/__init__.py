"""Custom low-code components: Convert's HMAC signing, envelope extraction and page-number paging,
report flattening and partitions (overall and by segment), change-history re-reads, the per-experience calls, pages shared by
two streams, retries and partition fields."""

from source_convert.components.authenticator import ConvertAuthenticator
from source_convert.components.backoff import ConvertBackoffStrategy, ConvertErrorHandler
from source_convert.components.changes import ChangedObjectReference, ChangedObjectsPartitionRouter
from source_convert.components.distinct import DistinctRecordFilter
from source_convert.components.experience_objects import ExperienceCallErrorHandler, ExperiencePartitionRouter
from source_convert.components.extractor import ConvertDataExtractor
from source_convert.components.paginator import ConvertPageIncrement
from source_convert.components.partition_fields import PartitionFields
from source_convert.components.aggregated_reports import (
    AggregatedReportExtractor,
    SegmentedExperiencesPartitionRouter,
    SegmentReportExtractor,
)
from source_convert.components.reports import (
    DailyReportExtractor,
    DayWindowPartitionRouter,
    ExperienceGoalMetricPartitionRouter,
    RanUntil,
    RecentExperiencesPartitionRouter,
    TrafficAllocationExtractor,
)
from source_convert.components.shared_pages import SharedPageRequester
from source_convert.components.variations import VariationChangeExtractor, VariationExtractor

__all__ = [
    "AggregatedReportExtractor",
    "ChangedObjectReference",
    "ChangedObjectsPartitionRouter",
    "ConvertBackoffStrategy",
    "ConvertDataExtractor",
    "ConvertErrorHandler",
    "ConvertAuthenticator",
    "ConvertPageIncrement",
    "DailyReportExtractor",
    "DayWindowPartitionRouter",
    "DistinctRecordFilter",
    "ExperienceCallErrorHandler",
    "ExperiencePartitionRouter",
    "ExperienceGoalMetricPartitionRouter",
    "PartitionFields",
    "RanUntil",
    "RecentExperiencesPartitionRouter",
    "SegmentReportExtractor",
    "SegmentedExperiencesPartitionRouter",
    "SharedPageRequester",
    "TrafficAllocationExtractor",
    "VariationChangeExtractor",
    "VariationExtractor",
]
