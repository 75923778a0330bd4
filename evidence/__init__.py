"""evidence: what a citation is, independent of any article.

Owns: citation identifiers (DOI, PMID, PMCID), reading bibliography files
(`formats`: CSL-JSON/YAML, BibTeX, RIS, MEDLINE), the study-design guess, NLM/Vancouver
reference formatting, fetching metadata from Crossref and PubMed through the guarded
transport (`fetching`), and reading retraction notices (`retractions`).

May import: the standard library, third-party parsers and Django settings. Never
imports `articles` or any app above it: articles cite evidence, evidence knows
nothing of articles. Nothing here touches the database; the services that store
citations and apply retraction checks live with the Citation model
(`articles.services.library`, `editorial.services.integrity`) until that model
moves here.
"""
