"""Fetching citation metadata by DOI (Crossref) or PMID (PubMed E-utilities).

- `transport`: the guarded HTTPS client (allow-list, address pinning, no redirects,
  deadlines, size cap): the only outbound requests the site makes;
- `crossref`, `pubmed`: the services' records -> CSL items and update notices;
- `records`: what a lookup returns; `client.MetadataClient`: the lookups themselves;
- `eutils`: saved literature searches on PubMed (esearch, esummary), the publication-
  type classification and NCBI's rate limit (`LiteratureClient`).

No database access here: `articles.services.library` stores what this returns.
"""

from evidence.fetching.client import MetadataClient
from evidence.fetching.crossref import crossref_to_csl
from evidence.fetching.eutils import FoundWork, LiteratureClient, SearchResult
from evidence.fetching.pubmed import medline_updates
from evidence.fetching.records import FetchedCitation, RetractionInfo, classify_identifier
from evidence.fetching.transport import (
    DEFAULT_ALLOWED_HOSTS,
    DEFAULT_BASE_URLS,
    BadResponse,
    FetchError,
    NotAllowed,
    NotFound,
    Redirected,
    SafeHttpClient,
    Timeout,
    TooLarge,
    Unreachable,
)

__all__ = [
    "DEFAULT_ALLOWED_HOSTS",
    "DEFAULT_BASE_URLS",
    "BadResponse",
    "FetchError",
    "FetchedCitation",
    "FoundWork",
    "LiteratureClient",
    "MetadataClient",
    "NotAllowed",
    "NotFound",
    "Redirected",
    "RetractionInfo",
    "SafeHttpClient",
    "SearchResult",
    "Timeout",
    "TooLarge",
    "Unreachable",
    "classify_identifier",
    "crossref_to_csl",
    "medline_updates",
]
