"""schema.org metadata for the public article page."""

from articles import citations


def medical_web_page(request, *, article, version) -> dict:
    snapshot = version.snapshot
    url = request.build_absolute_uri(article.get_absolute_url())
    data = {
        "@context": "https://schema.org",
        "@type": "MedicalWebPage",
        "name": version.title,
        "headline": version.title,
        "description": version.summary,
        "url": url,
        "inLanguage": "en",
        "medicalAudience": {
            "@type": "MedicalAudience",
            "audienceType": "Clinician" if snapshot.get("audience") == "clinician" else "Patient",
        },
        "about": {"@type": "MedicalCondition", "name": "Post-traumatic stress disorder"},
        "citation": [_creative_work(item) for item in snapshot.get("bibliography", {}).values()],
    }
    if version.last_reviewed:
        data["lastReviewed"] = version.last_reviewed.isoformat()
    if version.published_at:
        data["datePublished"] = version.published_at.date().isoformat()
    if version.reviewer_name:
        reviewer = {"@type": "Person", "name": version.reviewer_name}
        if version.reviewer_credentials:
            reviewer["jobTitle"] = version.reviewer_credentials
        data["reviewedBy"] = reviewer
    return data


def _creative_work(item: dict) -> dict:
    work = {"@type": "CreativeWork", "name": citations.format_reference_text(item)}
    doi = item.get("DOI")
    if doi:
        work["sameAs"] = citations.doi_url(doi)
    elif str(item.get("URL", "")).startswith(("http://", "https://")):
        work["url"] = item["URL"]
    return work
