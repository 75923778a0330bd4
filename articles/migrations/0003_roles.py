"""Create the Authors, Clinical reviewers and Publishers groups with their permissions."""

from django.db import migrations

from articles.roles import roles_migrate


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0002_immutability_triggers"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(roles_migrate, migrations.RunPython.noop)]
