"""Custom low-code components: Convert's HMAC signing, envelope extraction and page-number paging."""

from source_convert.components.authenticator import ConvertHmacAuthenticator
from source_convert.components.extractor import ConvertDataExtractor
from source_convert.components.paginator import ConvertPageIncrement

__all__ = ["ConvertHmacAuthenticator", "ConvertDataExtractor", "ConvertPageIncrement"]
