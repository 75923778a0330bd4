// Unit tests for static/js/editor-toolbar.js, run in Chromium by
// tests/browser/test_editing.py (no Node build step). The body of an async function:
// it returns the list of failures.
const m = await import("/static/js/editor-toolbar.js");
const failures = [];
const eq = (name, got, want) => {
  if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`${name}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
};

eq("slugify", m.slugify("Trauma-focused therapy helps most adults with PTSD"), "trauma-focused-therapy-helps-most-adults");
eq("slugify accents", m.slugify("Thérapie d’exposition"), "therapie-d-exposition");
eq("uniqueId free", m.uniqueId("a", "text"), "a");
eq("uniqueId taken", m.uniqueId("a", "[x]{.claim #a} ## H {#a-2}"), "a-3");
eq("heading", m.headingMarkdown("What it is", ""), "## What it is {#what-it-is}");
eq("heading strips markup", m.headingMarkdown("Safety {#x} [1]", ""), "## Safety x 1 {#safety-x-1}");
eq("heading unique", m.headingMarkdown("Safety", "## Safety {#safety}"), "## Safety {#safety-2}");

const text = "Ketamine can ease symptoms. It is not approved for PTSD.";
eq("wrapClaim", m.wrapClaim(text, 0, 27, "ketamine-can-ease").text,
  "[Ketamine can ease symptoms.]{.claim #ketamine-can-ease} It is not approved for PTSD.");
eq("wrapClaim with sources and certainty",
  m.wrapClaim(text, 0, 28, "k", [{ key: "feder2014", locator: "p. 3" }, { key: "abdallah2022" }], "very low").text,
  "[Ketamine can ease symptoms. [@feder2014, p. 3; @abdallah2022]]{.claim #k certainty=\"very low\"} It is not approved for PTSD.");
eq("sentenceAround end", m.sentenceAround(text, 27), [0, 27]);
eq("sentenceAround second", m.sentenceAround(text, 35), [28, 56]);
eq("sentenceAround empty line", m.sentenceAround("a\n\nb", 2), null);

const claimed = "Intro.\n\n[One finding [@a]]{.claim #one} More text.\n\n## Head {#head}\n\nLast.";
eq("refuse empty", m.claimSelectionProblem(claimed, 3, 3) !== "", true);
eq("refuse paragraphs", /more than one paragraph/.test(m.claimSelectionProblem(claimed, 0, 20)), true);
eq("refuse heading", /heading/.test(m.claimSelectionProblem(claimed, claimed.indexOf("## Head"), claimed.indexOf("## Head") + 7)), true);
eq("refuse crossing claim", /already a claim/.test(m.claimSelectionProblem(claimed, 10, claimed.indexOf("More") + 4)), true);
eq("refuse cut citation", /citation/.test(m.claimSelectionProblem("See [@a] here.", 0, 6)), true);
eq("accept sentence", m.claimSelectionProblem(claimed, claimed.indexOf("More"), claimed.indexOf("More") + 10), "");

const un = m.unwrapClaim(claimed, claimed.indexOf("finding"));
eq("unwrap", un.text, "Intro.\n\nOne finding [@a] More text.\n\n## Head {#head}\n\nLast.");
eq("unwrap id", un.id, "one");
eq("unwrap outside", m.unwrapClaim(claimed, 2), null);

eq("cite new group", m.insertCitation("A fact.", 6, "feder2014").text, "A fact [@feder2014].");
eq("cite with locator", m.insertCitation("A fact", 6, "k", "p. 4").text, "A fact [@k, p. 4]");
eq("cite adds to group", m.insertCitation("A fact [@a].", 11, "b").text, "A fact [@a; @b].");
eq("cite no duplicate in group", m.insertCitation("A fact [@a].", 11, "a").text, "A fact [@a].");
eq("cite not into a claim span", m.insertCitation("[x]{.claim #c}", 14, "a").text, "[x]{.claim #c} [@a]");

const uncited = "Before. [Exposure therapy helps.]{.claim #exp} After.";
eq("cite target after a claim goes inside it", m.citeTarget(uncited, uncited.indexOf("}") + 1), uncited.indexOf("]{"));
eq("cite target on the claim's words goes inside", m.citeTarget(uncited, uncited.indexOf("therapy")), uncited.indexOf("therapy"));
eq("cite target outside a claim stays", m.citeTarget(uncited, 3), 3);
const target = m.citeTarget(uncited, uncited.indexOf("}") + 1);
eq("cite into an uncited claim", m.insertCitation(uncited, target, "foa2007").text,
  "Before. [Exposure therapy helps. [@foa2007]]{.claim #exp} After.");

eq("bold", m.wrapInline("a b c", 2, 3, "**", "bold").text, "a **b** c");
eq("italic empty", m.wrapInline("ab", 1, 1, "*", "italic").text, "a*italic*b");
eq("link", m.linkMarkdown("NICE", "https://www.nice.org.uk/"), "[NICE](https://www.nice.org.uk/)");
eq("bullets", m.bulletLines("x\none\ntwo\ny", 2, 8).text, "x\n- one\n- two\ny");
eq("image alt", m.imageMarkdown("A brain scan [PET]", "/media/uploads/a.png"), "![A brain scan PET](/media/uploads/a.png)");
return failures;
