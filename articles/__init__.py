"""articles: the content, and nothing about who works on it.

Owns: the content model (Article, Section, Claim, ArticleVersion, Topic, the citation
library's Citation and the links between them, and the append-only audit rows the
editorial workflow and security log write), the article file format (`articlefile`),
the renderer (`markup`, `markdown_rules`, `mdit_compat`, `sanitize`, `rendering`: pure,
text in, HTML out, no database), plain text for search (`plaintext`), the roles (the
groups and their permissions on these models), and the services that write content:
drafts, snapshots and hashing, versions, the citation library and exports.

May import: `evidence`. Never imports `editorial`, `ops`, `publicsite` or `accounts`:
side effects of a publication leave through `articles.signals`. Models call nothing
above them; the renderer touches no database.
"""
