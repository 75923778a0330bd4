"""The Atom feed of publications: new articles and re-reviewed versions of live ones."""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from publicsite import selectors


class PlainTextAtomFeed(Atom1Feed):
    """Atom with a plain-text summary.

    Django's Atom1Feed declares the summary `type="html"` but writes our plain text escaped
    only once, so a feed reader would decode it and render any markup in a title, summary or
    reviewer name as HTML. Every text we send is plain text, so it is declared as such."""

    def add_item_elements(self, handler, item):
        description = item["description"]
        super().add_item_elements(handler, {**item, "description": None})
        if description is not None:
            handler.addQuickElement("summary", description, {"type": "text"})


class PublicationsFeed(Feed):
    feed_type = PlainTextAtomFeed
    title = "ptsdinfo: new and re-reviewed articles"
    subtitle = (
        "Clinician-reviewed information about PTSD. Each entry is a version a clinician "
        "approved and we published: a new article, or a re-review of one."
    )

    def link(self):
        return reverse("home")

    def feed_url(self):
        return reverse("articles:feed")

    def author_name(self):
        return settings.PTSDINFO_PUBLISHER

    def items(self):
        return selectors.feed_versions()

    def item_title(self, version):
        if version.number == 1:
            return version.title
        reviewed = version.last_reviewed
        if reviewed is None:
            return version.title
        return f"{version.title} (reviewed {reviewed.day} {reviewed:%B %Y})"

    def item_description(self, version):
        parts = [version.summary]
        if version.number > 1 and version.change_summary:
            parts.append(f"What changed: {version.change_summary}")
        if version.reviewer_name:
            reviewer = version.reviewer_name
            if version.reviewer_credentials:
                reviewer += f", {version.reviewer_credentials}"
            parts.append(f"Medically reviewed by {reviewer}.")
        return "\n\n".join(part for part in parts if part)

    def item_link(self, version):
        return reverse("articles:detail", kwargs={"slug": version.article.slug})

    def get_object(self, request, *args, **kwargs):
        self.request = request  # safe: publications_feed makes one instance per request
        return None

    def item_guid(self, version):
        # One entry per published version (a re-review is news, so it gets its own id),
        # as an absolute IRI, which Atom requires.
        url = self.request.build_absolute_uri(self.item_link(version))
        return f"{url}#version-{version.number}"

    def item_guid_is_permalink(self, version):
        return False

    def item_pubdate(self, version):
        return version.published_at

    def item_updateddate(self, version):
        return version.published_at


class TranslationsFeed(PublicationsFeed):
    """The feed of one translation language (/es/feed/): each entry a translation
    version a fluent reviewer approved and we published, linking its page there."""

    title = _("ptsdinfo: new and re-reviewed articles")
    subtitle = _(
        "Clinician-reviewed information about PTSD. Each entry is a translation a fluent "
        "reviewer approved and we published."
    )

    def items(self):
        return selectors.translation_feed_versions(language=get_language())

    def item_title(self, version):
        return version.title

    def item_description(self, version):
        return version.summary

    def item_link(self, version):
        return reverse("articles:detail", kwargs={"slug": version.translation.article.slug})


def publications_feed(request):
    """The feed view: a fresh Feed per request, so the request it keeps is its own; the
    translations' feed under a translation language's prefix."""
    if get_language() in selectors.translation_languages():
        return TranslationsFeed()(request)
    return PublicationsFeed()(request)
