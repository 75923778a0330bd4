"""The one import point for citation handling, for the layers above `evidence`.

Re-exports what the rest of the site uses from `evidence.identifiers` (DOI, PMID and
PMCID), `evidence.formats` (reading bibliography files), `evidence.designs` (the
study-design guess) and `evidence.references` (the NLM/Vancouver formatter). Text in,
data or HTML out; no database access (STYLE.md): services call these functions.
"""

from evidence.designs import PRIMARY_DESIGNS, STUDY_DESIGNS, guess_study_design
from evidence.formats import FORMATS, BibliographyError, format_for_path, read_bibliography
from evidence.formats.common import csl_date, dump_csl_json
from evidence.identifiers import (
    IdentifierError,
    doi_url,
    http_url,
    identifier_value,
    item_identifiers,
    normalize_doi,
    normalize_pmcid,
    normalize_pmid,
    pmc_url,
    pubmed_url,
)
from evidence.references import (
    format_reference_html,
    format_reference_text,
    minimal_page_range,
)

__all__ = [
    "FORMATS",
    "PRIMARY_DESIGNS",
    "STUDY_DESIGNS",
    "BibliographyError",
    "IdentifierError",
    "csl_date",
    "doi_url",
    "dump_csl_json",
    "format_for_path",
    "format_reference_html",
    "format_reference_text",
    "guess_study_design",
    "http_url",
    "identifier_value",
    "item_identifiers",
    "minimal_page_range",
    "normalize_doi",
    "normalize_pmcid",
    "normalize_pmid",
    "pmc_url",
    "pubmed_url",
    "read_bibliography",
]
