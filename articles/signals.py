"""What happened to an article's public face, for whoever needs to react.

The services send these after their transaction commits (`send_after_commit`), so a
receiver never acts on a change that is rolled back. The public site's page cache
(`publicsite.caching`) listens and purges; services never import it.

Each signal is sent with `sender=Article` and `article=<Article>`.
"""

from django.db import transaction
from django.dispatch import Signal

from articles.models import Article

# A version went live: first publication, a new version, or a scheduled publication.
article_published = Signal()
# The live version was taken down; readers see the tombstone.
article_withdrawn = Signal()
# The notice shown above the live version (a retracted or flagged source) changed.
article_notice_changed = Signal()
# A translation version went live, or a live translation was taken down (issue 18);
# also sent with `translation=<ArticleTranslation>`.
translation_published = Signal()
translation_withdrawn = Signal()


def send_after_commit(signal: Signal, *, article: Article, **kwargs) -> None:
    transaction.on_commit(lambda: signal.send(sender=Article, article=article, **kwargs))
