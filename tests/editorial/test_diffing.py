"""Version diffs (editorial/diffing.py): snapshot dicts in, data and escaped HTML out.

No test here touches the database: snapshots are built as `draft_snapshot` shapes them.
"""

import copy

from editorial.diffing import (
    MAX_DIFF_SENTENCES,
    SentenceChange,
    diff_snapshots,
    inline_html,
)


def claim(claim_id, statement, certainty="", supports=(), contradicts=(), section="lead"):
    return {
        "id": claim_id,
        "section": section,
        "statement": statement,
        "certainty": certainty,
        "supports": [{"key": key, "locator": ""} for key in supports],
        "contradicts": list(contradicts),
    }


def item(key, doi=None):
    csl = {"id": key, "type": "article-journal", "title": f"Title of {key}"}
    if doi:
        csl["DOI"] = doi
    return csl


def snapshot():
    return {
        "slug": "ketamine-for-ptsd",
        "title": "Ketamine for PTSD",
        "summary": "What the research says.",
        "topics": ["ptsd"],
        "audience": "public",
        "review_interval_months": 12,
        "sections": [
            {
                "heading": "",
                "anchor": "lead",
                "body": "[Ketamine is being studied for PTSD [@feder2014]]"
                "{.claim #promising-option certainty=low}. It is not approved for PTSD.",
            },
            {
                "heading": "How ketamine works",
                "anchor": "how-ketamine-works",
                "body": "Brain cells pass messages with chemicals. "
                "[Ketamine blocks the NMDA receptor [@zanos2018]]"
                "{.claim #nmda-blockade certainty=moderate}. "
                "[The NMDA receptor is overactive in PTSD]{.claim #nmda-overactive}. "
                "The effect fades within days.",
            },
        ],
        "claims": [
            claim("promising-option", "Ketamine is being studied for PTSD", "low", ["feder2014"]),
            claim(
                "nmda-blockade",
                "Ketamine blocks the NMDA receptor",
                "moderate",
                ["zanos2018"],
                section="how-ketamine-works",
            ),
            claim(
                "nmda-overactive",
                "The NMDA receptor is overactive in PTSD",
                section="how-ketamine-works",
            ),
        ],
        "bibliography": {
            "feder2014": item("feder2014", "10.1001/jamapsychiatry.2014.62"),
            "zanos2018": item("zanos2018", "10.1124/pr.117.015198"),
        },
        "citation_meta": {},
    }


def section(diff, anchor):
    return next(s for s in diff.sections if s.anchor == anchor)


# --- nothing changed / first version ---------------------------------------------------


def test_identical_snapshots_give_an_empty_diff():
    diff = diff_snapshots(snapshot(), snapshot())

    assert diff.is_empty
    assert diff.summary_lines() == []
    assert [s.status for s in diff.sections] == ["unchanged", "unchanged"]
    assert all(c.kind == "equal" for s in diff.sections for c in s.sentences)


def test_first_version_has_everything_added_and_is_not_empty():
    new = snapshot()

    diff = diff_snapshots(None, new)

    assert diff.is_first
    assert not diff.is_empty
    assert diff.title_changed is None
    assert [s.status for s in diff.sections] == ["added", "added"]
    assert {c.kind for s in diff.sections for c in s.sentences} == {"insert"}
    assert [c["id"] for c in diff.claims_added] == [
        "promising-option",
        "nmda-blockade",
        "nmda-overactive",
    ]
    assert diff.citations_added == ["feder2014", "zanos2018"]
    assert diff.summary_lines() == ["First version: 2 sections, 3 claims, 2 citations"]


# --- claims -------------------------------------------------------------------------


def test_a_re_graded_claim_is_reported_with_both_grades():
    old, new = snapshot(), snapshot()
    new["claims"][1]["certainty"] = "high"

    diff = diff_snapshots(old, new)

    [change] = diff.claims_changed
    assert change.id == "nmda-blockade"
    assert change.certainty_changed
    assert (change.old_certainty, change.new_certainty) == ("moderate", "high")
    assert not change.statement_changed
    assert diff.summary_lines() == ["Claim nmda-blockade re-graded from moderate to high"]


def test_grading_an_ungraded_claim_and_very_low_certainty_read_naturally():
    old, new = snapshot(), snapshot()
    new["claims"][2]["certainty"] = "very-low"

    assert diff_snapshots(old, new).summary_lines() == ["Claim nmda-overactive graded very low"]


def test_added_and_removed_claims_are_listed_by_id():
    old, new = snapshot(), snapshot()
    del new["claims"][2]
    new["claims"].append(claim("short-lived", "The effect fades within days", "low"))

    diff = diff_snapshots(old, new)

    assert [c["id"] for c in diff.claims_added] == ["short-lived"]
    assert [c["id"] for c in diff.claims_removed] == ["nmda-overactive"]
    assert "Claim short-lived added" in diff.summary_lines()
    assert "Claim nmda-overactive removed" in diff.summary_lines()


def test_changed_supporting_and_contradicting_citations_of_a_claim():
    old, new = snapshot(), snapshot()
    new["bibliography"]["krystal2019"] = item("krystal2019", "10.1016/j.neuron.2019.05.016")
    new["claims"][1]["supports"] = [{"key": "krystal2019", "locator": "p. 3"}]
    new["claims"][1]["contradicts"] = ["feder2014"]

    [change] = diff_snapshots(old, new).claims_changed

    assert change.supports_added == ["krystal2019"]
    assert change.supports_removed == ["zanos2018"]
    assert change.contradicts_added == ["feder2014"]
    assert not change.certainty_changed and not change.statement_changed


def test_a_reworded_claim_keeps_both_statements():
    old, new = snapshot(), snapshot()
    new["claims"][0]["statement"] = "Ketamine is an experimental treatment for PTSD"

    [change] = diff_snapshots(old, new).claims_changed

    assert change.statement_changed
    assert change.old_statement == "Ketamine is being studied for PTSD"
    assert change.new_statement == "Ketamine is an experimental treatment for PTSD"


# --- sections -------------------------------------------------------------------------


def test_a_changed_sentence_is_one_replacement_highlighted_word_by_word():
    old, new = snapshot(), snapshot()
    new["sections"][1]["body"] = new["sections"][1]["body"].replace(
        "fades within days", "fades within weeks"
    )

    diff = diff_snapshots(old, new)

    works = section(diff, "how-ketamine-works")
    assert works.status == "changed"
    [changed] = [c for c in works.sentences if c.kind != "equal"]
    assert changed == SentenceChange(
        "replace", "The effect fades within days.", "The effect fades within weeks."
    )
    assert inline_html(changed) == ("The effect fades within <del>days</del><ins>weeks</ins>.")
    assert diff.summary_lines() == ["Section 'How ketamine works' changed (1 sentence)"]


def test_an_inserted_sentence_does_not_make_the_next_one_look_rewritten():
    old, new = snapshot(), snapshot()
    new["sections"][1]["body"] = new["sections"][1]["body"].replace(
        "The effect fades within days.",
        "Its effects on mood start within a day. The effect fades within a few days.",
    )

    works = section(diff_snapshots(old, new), "how-ketamine-works")

    assert [(c.kind, c.old, c.new) for c in works.sentences if c.kind != "equal"] == [
        ("insert", "", "Its effects on mood start within a day."),
        ("replace", "The effect fades within days.", "The effect fades within a few days."),
    ]


def test_section_added_removed_and_renamed_are_matched_by_anchor():
    old, new = snapshot(), snapshot()
    new["sections"][1]["heading"] = "How ketamine acts"  # same anchor: a rename
    old["sections"].append(
        {"heading": "Conclusion", "anchor": "conclusion", "body": "Ketamine is promising."}
    )
    new["sections"].insert(
        1, {"heading": "What is ketamine?", "anchor": "what-is-ketamine", "body": "A drug."}
    )

    diff = diff_snapshots(old, new)

    assert [(s.anchor, s.status) for s in diff.sections] == [
        ("lead", "unchanged"),
        ("what-is-ketamine", "added"),
        ("how-ketamine-works", "changed"),
        ("conclusion", "removed"),
    ]
    removed = section(diff, "conclusion")
    assert removed.heading == "Conclusion"
    assert removed.sentences == [SentenceChange("delete", old="Ketamine is promising.")]
    assert section(diff, "how-ketamine-works").old_heading == "How ketamine works"
    assert diff.summary_lines() == [
        "Section 'What is ketamine?' added",
        "Section 'How ketamine works' renamed to 'How ketamine acts'",
        "Section 'Conclusion' removed",
    ]


def test_a_huge_section_is_compared_as_one_replacement():
    many = " ".join(f"Sentence number {n} is here." for n in range(MAX_DIFF_SENTENCES + 1))
    old, new = snapshot(), snapshot()
    old["sections"][0]["body"] = many
    new["sections"][0]["body"] = many + " One more sentence."

    lead = section(diff_snapshots(old, new), "lead")

    assert lead.status == "changed"
    assert [c.kind for c in lead.sentences] == ["replace"]
    assert lead.sentences[0].new.endswith("One more sentence.")


def test_moving_a_citation_alone_changes_no_sentence():
    old, new = snapshot(), snapshot()
    new["sections"][0]["body"] = new["sections"][0]["body"].replace("[@feder2014]", "[@zanos2018]")
    new["claims"][0]["supports"] = [{"key": "zanos2018", "locator": ""}]

    diff = diff_snapshots(old, new)

    assert section(diff, "lead").status == "unchanged"
    assert diff.claims_changed[0].supports_added == ["zanos2018"]


# --- citations ------------------------------------------------------------------------


def test_citations_added_and_removed_by_key():
    old, new = snapshot(), snapshot()
    del new["bibliography"]["zanos2018"]
    new["bibliography"]["abdallah2022"] = item("abdallah2022", "10.1038/s41386-022-01266-9")

    diff = diff_snapshots(old, new)

    assert diff.citations_added == ["abdallah2022"]
    assert diff.citations_removed == ["zanos2018"]
    assert diff.summary_lines()[-2:] == [
        "Citation abdallah2022 added",
        "Citation zanos2018 removed",
    ]


def test_a_renamed_key_with_the_same_doi_is_the_same_citation():
    old, new = snapshot(), snapshot()
    new["bibliography"]["Zanos_2018"] = item("Zanos_2018", "https://doi.org/10.1124/PR.117.015198")
    del new["bibliography"]["zanos2018"]
    new["claims"][1]["supports"] = [{"key": "Zanos_2018", "locator": ""}]

    diff = diff_snapshots(old, new)

    assert diff.citations_added == [] and diff.citations_removed == []
    assert diff.claims_changed == []


def test_the_same_key_with_a_different_doi_is_a_different_citation():
    old, new = snapshot(), snapshot()
    new["bibliography"]["zanos2018"] = item("zanos2018", "10.1038/nature17998")

    diff = diff_snapshots(old, new)

    assert diff.citations_added == ["zanos2018"]
    assert diff.citations_removed == ["zanos2018"]


def test_a_key_is_the_same_citation_when_only_one_side_has_a_doi():
    old, new = snapshot(), snapshot()
    old["bibliography"]["zanos2018"].pop("DOI")

    assert diff_snapshots(old, new).is_empty


# --- title, summary and escaping ----------------------------------------------------


def test_title_and_summary_changes_keep_old_and_new():
    old, new = snapshot(), snapshot()
    new["title"] = "Ketamine and PTSD"
    new["summary"] = "Ketamine is not approved for PTSD."

    diff = diff_snapshots(old, new)

    assert diff.title_changed == ("Ketamine for PTSD", "Ketamine and PTSD")
    assert diff.summary_changed == ("What the research says.", "Ketamine is not approved for PTSD.")
    assert diff.summary_lines() == [
        "Title changed from 'Ketamine for PTSD' to 'Ketamine and PTSD'",
        "Summary changed",
    ]


def test_inline_html_escapes_snapshot_text():
    old, new = snapshot(), copy.deepcopy(snapshot())
    new["sections"][1]["body"] = new["sections"][1]["body"].replace(
        "The effect fades within days.",
        "The effect fades within <script>alert('x')</script> days & weeks.",
    )
    works = section(diff_snapshots(old, new), "how-ketamine-works")
    [changed] = [c for c in works.sentences if c.kind != "equal"]

    html = inline_html(changed)

    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&amp; weeks" in html
    assert html.startswith("The effect fades within <ins>")


def test_inline_html_escapes_every_kind_of_change():
    script = "<script>alert(1)</script>"

    assert inline_html(SentenceChange("equal", script, script)) == (
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    )
    assert inline_html(SentenceChange("insert", new=script)) == (
        "<ins>&lt;script&gt;alert(1)&lt;/script&gt;</ins>"
    )
    assert inline_html(SentenceChange("delete", old=script)) == (
        "<del>&lt;script&gt;alert(1)&lt;/script&gt;</del>"
    )
    replaced = inline_html(SentenceChange("replace", f"Claim {script}.", f"Claim <b>{script}</b>."))
    assert "<script" not in replaced and "<b>" not in replaced


def test_a_claim_statement_with_markup_is_data_not_html():
    old, new = snapshot(), snapshot()
    new["claims"][0]["statement"] = "<script>alert(1)</script>"

    [change] = diff_snapshots(old, new).claims_changed

    assert change.new_statement == "<script>alert(1)</script>"  # data: escaped when shown
    html = inline_html(SentenceChange("replace", change.old_statement, change.new_statement))
    assert "<script>" not in html
    assert "<ins>&lt;script&gt;alert(1)&lt;/script&gt;</ins>" in html


def test_word_level_markup_joins_adjacent_changed_words():
    change = SentenceChange(
        "replace", "It may be a promising option.", "It is an experimental option."
    )

    assert inline_html(change) == (
        "It <del>may be a promising</del><ins>is an experimental</ins> option."
    )
