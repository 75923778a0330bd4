"""editorial: how an article gets from a draft to readers, and stays true there.

Owns: the workflow transitions and who may take them (`services.workflow`), the
publication gates (`services.gates`) and the reading grade (`readability`), review
reminders, reader reports (`services.reports`: the form's one write, and the editors'
triage), the citation-library integrity checks (duplicates, identifiers, retractions,
`services.integrity`), claim-aware diffs (`diffing`), and the admin: the article editor,
the review page, the citation intake and the staff endpoints (`admin*.py`), with the
`editorial` template tags and the workflow management commands.

May import: `articles` and `evidence`. Never imports `publicsite`, `ops` or `accounts`.
Only `publicsite.reports` imports it (`services.reports.report_submit`), and `ops`
(the demo walks the workflow). It owns no models: what it writes lives in `articles`.
"""
