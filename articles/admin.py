from django.contrib import admin

from articles.models import (
    Article,
    ArticleVersion,
    Citation,
    Claim,
    ReviewEvent,
    Section,
    StaffProfile,
    Topic,
)


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


class SectionInline(admin.StackedInline):
    model = Section
    extra = 0
    fields = ["position", "heading", "anchor", "body"]
    # Drafts are written through articles.services so claims stay in step with the text.
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ClaimInline(admin.TabularInline):
    model = Claim
    extra = 0
    fields = ["key", "statement", "certainty"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "live_version", "last_reviewed", "next_review_due"]
    list_filter = ["status", "topics", "audience"]
    search_fields = ["title", "slug", "summary"]
    readonly_fields = ["status", "live_version", "last_reviewed", "next_review_due", "lock_version"]
    inlines = [SectionInline, ClaimInline]


@admin.register(Citation)
class CitationAdmin(admin.ModelAdmin):
    list_display = ["title", "year", "doi", "pmid", "study_design", "retraction_status"]
    list_filter = ["study_design", "retraction_status"]
    search_fields = ["title", "doi", "pmid", "pmcid", "key"]


@admin.register(ArticleVersion)
class ArticleVersionAdmin(admin.ModelAdmin):
    list_display = ["article", "number", "approved_at", "published_at", "reviewer_name"]
    list_select_related = ["article"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReviewEvent)
class ReviewEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "article", "kind", "from_state", "to_state", "actor"]
    list_filter = ["kind", "to_state"]
    list_select_related = ["article", "actor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "credentials"]
