"""Evidence integrity: identifiers, duplicate and unused citations, and retractions.

`citations_check` runs every check `manage.py check_citations` reports. Rules enforced:

- A citation's retraction status only ever rises automatically (none < corrected <
  expression of concern < retracted). Lowering it (after a reinstatement, say) is an
  editor's decision in the admin; the check reports what the source says.
- When a source becomes retracted or under an expression of concern, every article
  whose live version cites it shows readers a notice above the live version and goes
  back to clinical review (`article_flag_for_rereview`): published -> in review, and
  an approval not yet published is void. The live version stays up; the notice goes
  when a version a clinician approved afterwards goes live (`version_publish`).
  Articles whose draft alone cites it get a review comment; the approval gates
  already refuse a retracted source.
- A merge keeps the oldest citation, repoints every claim link and bibliography key to
  it without losing one, carries over identifiers it lacked, and leaves a ReviewEvent
  on each article it touched. Citations with different DOIs, PMIDs or PMCIDs are never
  merged automatically.
"""

from editorial.services.integrity.check import (
    CheckReport,
    citations_check,
)
from editorial.services.integrity.common import (
    FLAGGING,
    FlaggedArticle,
    citation_identifiers,
    citation_label,
)
from editorial.services.integrity.duplicates import (
    DuplicateGroup,
    MergeError,
    MergeResult,
    citation_duplicates,
    citations_merge,
    citations_unused,
    title_key,
)
from editorial.services.integrity.identifiers import (
    IdentifierProblem,
    citation_identifier_problems,
)
from editorial.services.integrity.online import (
    CrossrefUnavailable,
    OnlineCheck,
    crossref_client,
    online_check,
)
from editorial.services.integrity.retractions import (
    EVIDENCE_FIELDS,
    EVIDENCE_SOURCES,
    NOTICE_TAIL,
    EvidenceChangeRefused,
    RetractionFinding,
    article_flag_for_rereview,
    citation_articles_flag,
    citation_evidence_set,
    citation_relying_articles,
    citation_retraction_apply,
    evidence_editor,
    notice_with,
)

__all__ = [
    "EVIDENCE_FIELDS",
    "EVIDENCE_SOURCES",
    "FLAGGING",
    "NOTICE_TAIL",
    "CheckReport",
    "CrossrefUnavailable",
    "DuplicateGroup",
    "EvidenceChangeRefused",
    "FlaggedArticle",
    "IdentifierProblem",
    "MergeError",
    "MergeResult",
    "OnlineCheck",
    "RetractionFinding",
    "article_flag_for_rereview",
    "citation_articles_flag",
    "citation_duplicates",
    "citation_evidence_set",
    "citation_identifier_problems",
    "citation_identifiers",
    "citation_label",
    "citation_relying_articles",
    "citation_retraction_apply",
    "citations_check",
    "citations_merge",
    "citations_unused",
    "crossref_client",
    "evidence_editor",
    "notice_with",
    "online_check",
    "title_key",
]
