"""The three editorial roles and the model permissions each group carries.

Used by the data migration that creates the groups and by `manage.py setup_roles`,
so the two can never drift apart. The workflow rules themselves (who may approve,
publish, ...) are checked by group membership in `editorial.services.workflow`.
"""

AUTHORS = "Authors"
CLINICAL_REVIEWERS = "Clinical reviewers"
PUBLISHERS = "Publishers"
ROLES = (AUTHORS, CLINICAL_REVIEWERS, PUBLISHERS)

_VIEW_ALL = [
    "articles.view_article",
    "articles.view_section",
    "articles.view_claim",
    "articles.view_citation",
    "articles.view_articlecitation",
    "articles.view_claimcitation",
    "articles.view_articleversion",
    "articles.view_reviewevent",
    "articles.view_evidencefactchange",
    "articles.view_topic",
    "articles.view_topictranslation",
    "articles.view_staffprofile",
    "articles.view_literaturesearch",
    "articles.view_searchclaim",
    "articles.view_foundevidence",
    "articles.view_articletranslation",
    "articles.view_translationversion",
    "articles.view_translationevent",
]
# Deciding about a work the evidence watch found (add it, dismiss it, re-review).
_DECIDE_FOUND = ["articles.change_foundevidence"]
# The translation's page in the admin: Authors translate, Clinical reviewers send back or
# approve, Publishers publish (the rules are editorial.services.translations').
_TRANSLATE = ["articles.change_articletranslation"]
# The reader-report queue (editorial/admin_reports.py): every role sees it, as the
# dashboard counts it for everyone; Clinical reviewers and Publishers decide.
_SEE_REPORTS = ["articles.view_readerreport"]
_DECIDE_REPORTS = ["articles.change_readerreport"]

ROLE_PERMISSIONS = {
    AUTHORS: [
        *_VIEW_ALL,
        "articles.add_article",
        "articles.change_article",
        "articles.change_section",
        "articles.add_citation",
        "articles.change_citation",
        *_DECIDE_FOUND,
        "articles.add_articletranslation",
        *_TRANSLATE,
        *_SEE_REPORTS,
    ],
    CLINICAL_REVIEWERS: [
        *_VIEW_ALL,
        "articles.change_claim",
        # Only a Clinical reviewer writes an article's literature searches.
        "articles.add_literaturesearch",
        "articles.change_literaturesearch",
        "articles.add_searchclaim",
        "articles.change_searchclaim",
        "articles.delete_searchclaim",
        *_DECIDE_FOUND,
        *_TRANSLATE,
        *_SEE_REPORTS,
        *_DECIDE_REPORTS,
    ],
    PUBLISHERS: [
        *_VIEW_ALL,
        "articles.change_article",
        "articles.add_topic",
        "articles.change_topic",
        # A topic's names in the translation languages (the topic page's inline).
        "articles.add_topictranslation",
        "articles.change_topictranslation",
        "articles.delete_topictranslation",
        "articles.change_citation",
        *_TRANSLATE,
        *_SEE_REPORTS,
        *_DECIDE_REPORTS,
    ],
}


def roles_ensure(*, group_model, permission_model) -> list[str]:
    """Create the groups and set exactly their permissions; returns the groups created."""
    created = []
    for name, codes in ROLE_PERMISSIONS.items():
        group, was_created = group_model.objects.get_or_create(name=name)
        if was_created:
            created.append(name)
        permissions = []
        for code in codes:
            app_label, codename = code.split(".")
            permissions.append(
                permission_model.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(permissions)
    return created


def roles_migrate(apps, schema_editor) -> None:
    """A data migration's step (RunPython): create the permissions of the models the
    migration state has so far, then set every role to ROLE_PERMISSIONS. Migrations 0003
    (the roles), 0007, 0010, 0012, 0014 and 0018 (new models and permissions) run it."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    roles_ensure(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
    )
