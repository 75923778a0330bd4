"""schema.org metadata (JSON-LD) for the public pages.

Everything comes from the published version, never from the draft or from today's
date: `lastReviewed` is the day a clinician approved this version.
"""

import html
import re

from django.conf import settings
from django.urls import reverse

from evidence.text import plain_text

# The reference list's public hooks (spec/article-format.md): one entry per cited work,
# in Vancouver order, with its DOI link where known.
_REFERENCE_RE = re.compile(r'<li id="ref-\d+">(.*?)</li>', re.S)
_DOI_LINK_RE = re.compile(r'href="(https://doi\.org/[^"]+)"')
_LINK_RE = re.compile(r'href="(https?://[^"]+)"')

PTSD = {
    "@type": "MedicalCondition",
    "name": "Post-traumatic stress disorder",
    "alternateName": "PTSD",
    "code": {"@type": "MedicalCode", "codeValue": "6B40", "codingSystem": "ICD-11"},
}


def publisher() -> dict:
    return {"@type": "Organization", "name": settings.PTSDINFO_PUBLISHER}


def medical_web_page(request, *, article, version, topics=(), first_published=None) -> dict:
    return {
        **medical_web_page_static(version=version, topics=topics, first_published=first_published),
        **medical_web_page_urls(request, article=article),
    }


def medical_web_page_urls(request, *, article) -> dict:
    """The parts of an article's JSON-LD that name the site's own address (taken from the
    request): everything else is fixed when the version is published."""
    url = request.build_absolute_uri(article.get_absolute_url())
    return {
        "@id": url,
        "url": url,
        "isPartOf": {"@type": "WebSite", "name": "ptsdinfo", "url": _home(request)},
    }


def medical_web_page_static(*, version, topics=(), first_published=None) -> dict:
    """An article's JSON-LD without its addresses: it depends only on the published
    version (and the publisher's name), so it is built once at publication."""
    snapshot = version.snapshot
    audience = "Clinician" if snapshot.get("audience") == "clinician" else "Patient"
    data = {
        "@context": "https://schema.org",
        "@type": "MedicalWebPage",
        "name": version.title,
        "headline": version.title,
        "description": version.summary,
        "inLanguage": "en",
        "publisher": publisher(),
        "medicalAudience": {"@type": "MedicalAudience", "audienceType": audience},
        "specialty": "https://schema.org/Psychiatric",
        "about": PTSD,
        "citation": references(version.html),
        "version": str(version.number),
    }
    if topics:
        data["keywords"] = ", ".join(topic.name for topic in topics)
    if version.last_reviewed:
        data["lastReviewed"] = version.last_reviewed.isoformat()
    if version.published_at:
        data["datePublished"] = (first_published or version.published_at).isoformat()
        data["dateModified"] = version.published_at.isoformat()
    if version.reviewer_name:
        reviewer = {"@type": "Person", "name": version.reviewer_name}
        if version.reviewer_credentials:
            reviewer["jobTitle"] = version.reviewer_credentials
        data["reviewedBy"] = reviewer
    return data


def web_site(request) -> dict:
    """The site itself, with its search, for the home page."""
    home = _home(request)
    search = request.build_absolute_uri(reverse("articles:search"))
    return {
        "@context": "https://schema.org",
        "@type": "WebSite",
        "name": "ptsdinfo",
        "url": home,
        "inLanguage": "en",
        "publisher": publisher(),
        "potentialAction": {
            "@type": "SearchAction",
            "target": {"@type": "EntryPoint", "urlTemplate": f"{search}?q={{search_term_string}}"},
            "query-input": "required name=search_term_string",
        },
    }


def _home(request) -> str:
    return request.build_absolute_uri(reverse("home"))


def references(rendered_html: str) -> list[dict]:
    """The works the page cites, as schema.org CreativeWorks, read from the rendered
    reference list itself (the same text, in the same order, as readers see; and no
    formatting work at request time)."""
    works = []
    for entry in _REFERENCE_RE.findall(rendered_html):
        work = {"@type": "CreativeWork", "name": plain_text(entry)}
        if doi := _DOI_LINK_RE.search(entry):
            work["sameAs"] = html.unescape(doi.group(1))
        elif link := _LINK_RE.search(entry):
            work["url"] = html.unescape(link.group(1))
        works.append(work)
    return works
