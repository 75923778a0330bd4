"""`MetadataClient`: look a citation up by DOI (Crossref) or PMID (PubMed E-utilities)
through the guarded transport of `evidence.fetching.transport`."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from evidence.fetching.crossref import crossref_to_csl, crossref_updates
from evidence.fetching.pubmed import medline_updates
from evidence.fetching.records import FetchedCitation, classify_identifier
from evidence.fetching.transport import BadResponse, NotFound, SafeHttpClient
from evidence.formats import BibliographyError, read_bibliography
from evidence.identifiers import IdentifierError, normalize_doi, normalize_pmid


class MetadataClient(SafeHttpClient):
    """Fetches citation metadata from Crossref and PubMed under the transport's rules."""

    def fetch(self, identifier: str) -> FetchedCitation:
        """Fetch by DOI or PMID, whichever `identifier` is."""
        kind, value = classify_identifier(identifier)
        return self.fetch_doi(value) if kind == "doi" else self.fetch_pmid(value)

    def fetch_doi(self, doi: str) -> FetchedCitation:
        doi = normalize_doi(doi)
        # Every character outside unreserved is escaped, "/" included, so a DOI such as
        # "10.1234/../x?y#z" can never change the path, query or fragment of the request.
        url = self.base_urls["crossref"] + quote(doi, safe="")
        described = f"Crossref (looking up DOI {doi})"
        body = self.get(url, accept="application/json", described=described)
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise BadResponse(
                f"{described} sent a reply that is not valid JSON; try again later."
            ) from error
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, dict):
            raise BadResponse(f"{described} sent JSON without a work record in it.")
        try:
            item = crossref_to_csl(message)
        except IdentifierError as error:
            raise BadResponse(
                f"{described} sent a record with an invalid identifier: {error}"
            ) from error
        updated_by, update_to = crossref_updates(message, item["DOI"])
        return FetchedCitation(
            item=item, source="crossref", url=url, updated_by=updated_by, update_to=update_to
        )

    def fetch_pmid(self, pmid: str | int) -> FetchedCitation:
        pmid = normalize_pmid(pmid)
        query = {"db": "pubmed", "id": pmid, "rettype": "medline", "retmode": "text"}
        if self.contact:  # NCBI asks tools to identify themselves with tool= and email=
            query |= {"tool": "ptsdinfo", "email": self.contact}
        url = self.base_urls["pubmed"] + "?" + urlencode(query)
        described = f"PubMed (looking up PMID {pmid})"
        body = self.get(url, accept="text/plain", described=described)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadResponse(f"{described} sent a reply that is not UTF-8 text.") from error
        if not text.strip():
            raise NotFound(f"PubMed has no record with PMID {pmid}.")
        if text.lstrip().startswith("<") or not text.lstrip().startswith("PMID-"):
            raise BadResponse(f"{described} sent something other than a MEDLINE record.")
        try:
            items = read_bibliography(text, "nbib")
        except BibliographyError as error:
            raise BadResponse(
                f"{described} sent a record that could not be read: {error}"
            ) from error
        item = next((item for item in items if item.get("PMID") == pmid), None)
        if item is None:
            raise NotFound(f"PubMed has no record with PMID {pmid}.")
        updated_by, update_to = medline_updates(text, pmid=pmid, doi=item.get("DOI", ""))
        return FetchedCitation(
            item=item, source="pubmed", url=url, updated_by=updated_by, update_to=update_to
        )
