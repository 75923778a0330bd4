"""The content model: articles, their draft sections and claims, the shared citation
library, immutable published versions and the append-only review trail.

Every choice and invariant is backed by a database constraint, so it holds whichever
way a row is written. Business rules live in `articles.services`, not in `save()`.

One module per concept: `common`, `content`, `citations`, `versions`, `audit`, `people`,
`reports`, `watch`, `translations`. Import models from `articles.models`."""

from articles.models.audit import (
    EvidenceFactChange,
    ReviewEvent,
    ReviewEventKind,
    SecurityEvent,
    SecurityEventKind,
)
from articles.models.citations import (
    ArticleCitation,
    Citation,
    ClaimCitation,
    Relation,
    Retraction,
    StudyDesign,
)
from articles.models.common import (
    CLAIM_ID_PATTERN,
    DOI_PATTERN,
    PMCID_PATTERN,
    PMID_PATTERN,
    choices_constraint,
)
from articles.models.content import (
    Article,
    ArticleQuerySet,
    ArticleStatus,
    Audience,
    Certainty,
    Claim,
    Section,
    Topic,
)
from articles.models.people import StaffProfile
from articles.models.reports import (
    ReaderReport,
    ReaderReportKind,
    ReaderReportState,
    ReviewReminder,
)
from articles.models.translations import (
    ArticleTranslation,
    TopicTranslation,
    TranslationEvent,
    TranslationEventKind,
    TranslationStatus,
    TranslationVersion,
)
from articles.models.versions import ArticleVersion, ArticleVersionQuerySet
from articles.models.watch import (
    FoundEvidence,
    FoundEvidenceKind,
    FoundEvidenceState,
    LiteratureSearch,
    SearchClaim,
)

__all__ = [
    "CLAIM_ID_PATTERN",
    "DOI_PATTERN",
    "PMCID_PATTERN",
    "PMID_PATTERN",
    "Article",
    "ArticleCitation",
    "ArticleQuerySet",
    "ArticleStatus",
    "ArticleTranslation",
    "ArticleVersion",
    "ArticleVersionQuerySet",
    "Audience",
    "Certainty",
    "Citation",
    "Claim",
    "ClaimCitation",
    "EvidenceFactChange",
    "FoundEvidence",
    "FoundEvidenceKind",
    "FoundEvidenceState",
    "LiteratureSearch",
    "ReaderReport",
    "ReaderReportKind",
    "ReaderReportState",
    "Relation",
    "Retraction",
    "ReviewEvent",
    "ReviewEventKind",
    "ReviewReminder",
    "SearchClaim",
    "Section",
    "SecurityEvent",
    "SecurityEventKind",
    "StaffProfile",
    "StudyDesign",
    "Topic",
    "TopicTranslation",
    "TranslationEvent",
    "TranslationEventKind",
    "TranslationStatus",
    "TranslationVersion",
    "choices_constraint",
]
