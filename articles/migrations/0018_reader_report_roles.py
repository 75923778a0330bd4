"""The editorial roles get the reader-report queue: every role sees it (the dashboard
counts it for everyone, and its link answered 403), Clinical reviewers and Publishers
decide (articles.roles)."""

from django.db import migrations

from articles.roles import roles_migrate


class Migration(migrations.Migration):
    dependencies = [("articles", "0017_article_list_indexes")]

    operations = [migrations.RunPython(roles_migrate, migrations.RunPython.noop)]
