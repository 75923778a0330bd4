// Wires the article editor page: the toolbar, the citation picker, the live checks,
// the slug that follows the title, and the unsaved draft kept in local storage.
// Loaded as <script type="module"> from a static file (no inline script under the CSP).

import { Toolbar, askDialog, certaintyChoices, el, findClaims, imageMarkdown } from "./editor-toolbar.js";
import { gettext, ngettext } from "./i18n.js";


function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

/** The citation picker: search the library or add a new source; resolves to [{key, locator}]. */
export function citationPicker(config, { multiple = false } = {}) {
  return new Promise((resolve) => {
    const chosen = [];
    const dialog = el("dialog", { class: "tb-dialog cite-picker", "aria-labelledby": "cite-title" });
    const search = el("input", { id: "cite-search", type: "search", role: "combobox", "aria-expanded": "true",
      "aria-controls": "cite-results", "aria-autocomplete": "list", autocomplete: "off",
      placeholder: gettext("Author, title words, year, journal, DOI or PMID") });
    const list = el("ul", { id: "cite-results", role: "listbox", "aria-label": gettext("Matching sources"), class: "cite-results" });
    const locator = el("input", { id: "cite-locator", type: "text", placeholder: gettext("e.g. p. 12") });
    const count = el("p", { class: "cite-count", role: "status", "aria-live": "polite" });
    const picked = el("ul", { class: "cite-picked", "aria-label": gettext("Chosen sources") });
    const identifier = el("input", { id: "cite-identifier", type: "text", placeholder: gettext("10.1001/... or 24740528") });
    const paste = el("textarea", { id: "cite-paste", rows: 5 });
    const addMsg = el("p", { class: "cite-add-message", role: "status", "aria-live": "polite" });
    const addButton = el("button", { type: "button", class: "button", text: gettext("Add to library") });
    const done = el("button", { type: "button", class: "button default", text: multiple ? gettext("Use chosen sources") : gettext("Insert") });
    const cancel = el("button", { type: "button", class: "button", text: gettext("Cancel") });
    dialog.append(
      el("h2", { id: "cite-title", text: multiple ? gettext("Sources for this claim") : gettext("Cite a source") }),
      el("p", {}, el("label", { for: "cite-search", text: gettext("Search the citation library") }), search),
      count, list,
      el("p", {}, el("label", { for: "cite-locator", text: gettext("Page or section (optional)") }), locator),
      multiple ? el("div", {}, el("h3", { text: gettext("Chosen") }), picked) : "",
      el("details", { class: "cite-add" },
        el("summary", { text: gettext("Not in the library? Add it by DOI, PMID or pasted reference") }),
        el("p", {}, el("label", { for: "cite-identifier", text: gettext("DOI or PMID") }), identifier),
        el("p", {}, el("label", { for: "cite-paste", text: gettext("Or paste the reference (BibTeX, RIS, PubMed, CSL-JSON)") }), paste),
        el("p", {}, addButton), addMsg),
      el("p", { class: "tb-actions" }, done, cancel),
    );
    document.body.append(dialog);
    let results = [];
    let active = -1;
    let finished = false;
    const finish = (value) => {
      if (finished) return;
      finished = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    const setActive = (i) => {
      const options = [...list.children];
      options.forEach((o, j) => o.classList.toggle("active", j === i));
      active = i;
      if (options[i]) {
        search.setAttribute("aria-activedescendant", options[i].id);
        options[i].scrollIntoView({ block: "nearest" });
      } else search.removeAttribute("aria-activedescendant");
    };
    const renderPicked = () => {
      picked.replaceChildren(...chosen.map((c) => {
        const remove = el("button", { type: "button", class: "button", text: gettext("Remove"), "aria-label": gettext("Remove %(key)s", { key: c.key }) });
        remove.addEventListener("click", () => { chosen.splice(chosen.indexOf(c), 1); renderPicked(); });
        // Each chosen source keeps its own page or section, editable after choosing.
        const page = el("input", { type: "text", class: "cite-picked-locator", value: c.locator,
          "aria-label": gettext("Page or section for %(key)s", { key: c.key }), placeholder: gettext("e.g. p. 12") });
        page.addEventListener("input", () => { c.locator = page.value.trim(); });
        return el("li", {}, el("span", { text: `${c.reference} ` }), page, remove);
      }));
    };
    const choose = (item) => {
      if (!item) return;
      const entry = { key: item.key, locator: locator.value.trim(), reference: item.reference };
      if (!multiple) return finish([entry]);
      if (!chosen.some((c) => c.key === item.key)) chosen.push(entry);
      locator.value = "";
      renderPicked();
      count.textContent = ngettext("%(count)s source chosen.", "%(count)s sources chosen.", chosen.length);
      search.focus();
    };
    const render = () => {
      list.replaceChildren(...results.map((r, i) => {
        const option = el("li", { id: `cite-option-${i}`, role: "option", "aria-selected": "false", class: "cite-option" },
          el("span", { class: "cite-ref", text: r.reference }),
          r.retracted ? el("strong", { class: "retracted", text: ` ${r.retracted}` }) : "");
        option.addEventListener("mousedown", (e) => e.preventDefault());
        option.addEventListener("click", () => choose(r));
        return option;
      }));
      count.textContent = results.length
        ? ngettext("%(count)s source found. Use the arrow keys and Enter to choose.", "%(count)s sources found. Use the arrow keys and Enter to choose.", results.length)
        : (search.value.trim() ? gettext("No source found. Add it below.") : "");
      setActive(results.length ? 0 : -1);
    };
    const runSearch = debounce(async () => {
      const q = search.value.trim();
      if (!q) { results = []; render(); return; }
      const res = await fetch(`${config.searchUrl}?q=${encodeURIComponent(q)}`, { credentials: "same-origin" });
      if (!res.ok) return;
      const data = await res.json();
      if (search.value.trim() === q) { results = data.results; render(); }
    }, 150);
    search.addEventListener("input", runSearch);
    search.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown") { e.preventDefault(); setActive(Math.min(active + 1, results.length - 1)); }
      else if (e.key === "ArrowUp") { e.preventDefault(); setActive(Math.max(active - 1, 0)); }
      else if (e.key === "Enter") { e.preventDefault(); choose(results[active]); }
    });
    addButton.addEventListener("click", async () => {
      const body = new FormData();
      body.append("identifier", identifier.value.trim());
      body.append("text", paste.value);
      addMsg.textContent = gettext("Adding…");
      const res = await fetch(config.addUrl, { method: "POST", body, credentials: "same-origin", headers: { "X-CSRFToken": config.csrf } });
      const data = await res.json().catch(() => ({ message: gettext("The server did not answer. Try again.") }));
      addMsg.textContent = data.message || "";
      if (data.fetch_failed) {
        paste.value = data.paste_template || "";
        paste.focus();
      }
      const items = data.citations || [];
      if (items.length) {
        if (multiple) items.forEach(choose);
        else choose(items[0]);
      }
    });
    const useChosen = () => {
      // A page typed after choosing belongs to the source chosen last, if it has none:
      // what the author typed is never dropped.
      const last = chosen[chosen.length - 1];
      if (last && !last.locator && locator.value.trim()) last.locator = locator.value.trim();
      return chosen;
    };
    done.addEventListener("click", () => finish(multiple ? useChosen() : results[active] ? [{ key: results[active].key, locator: locator.value.trim() }] : []));
    cancel.addEventListener("click", () => finish(null));
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); finish(null); });
    dialog.showModal();
    search.focus();
  });
}

function followTitle(title, slug) {
  if (!title || !slug || slug.disabled) return;
  let edited = slug.value.trim() !== "";
  const make = (t) => t.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 80).replace(/-+$/, "");
  title.addEventListener("input", () => { if (!edited) slug.value = make(title.value); });
  slug.addEventListener("input", () => { edited = slug.value.trim() !== ""; });
}

function keepDraft(textarea, form, config) {
  const storageKey = `ptsdinfo-draft:${config.user}:${config.article || "new"}`;
  let saved = null;
  try { saved = JSON.parse(localStorage.getItem(storageKey) || "null"); } catch { saved = null; }
  if (saved && saved.body && saved.body !== textarea.value) {
    const restore = el("button", { type: "button", class: "button", text: gettext("Restore my unsaved text") });
    const discard = el("button", { type: "button", class: "button", text: gettext("Discard it") });
    const when = new Date(saved.at).toLocaleString();
    const box = el("div", { class: "draft-offer", role: "region", "aria-label": gettext("Unsaved text") },
      el("p", { text: gettext("You have unsaved text for this article from %(when)s.", { when }) }), restore, discard);
    textarea.closest(".form-row").before(box);
    restore.addEventListener("click", () => {
      textarea.value = saved.body;
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
      box.remove();
      textarea.focus();
    });
    discard.addEventListener("click", () => { localStorage.removeItem(storageKey); box.remove(); });
  }
  const store = debounce(() => {
    try { localStorage.setItem(storageKey, JSON.stringify({ body: textarea.value, at: Date.now() })); } catch { /* full */ }
  }, 500);
  textarea.addEventListener("input", store);
  form.addEventListener("submit", () => { sessionStorage.setItem("ptsdinfo-saving", storageKey); });
  // A save that reached the server (no errors on the page) clears the stored draft.
  const pending = sessionStorage.getItem("ptsdinfo-saving");
  if (pending && !document.querySelector(".errornote, .errorlist")) {
    localStorage.removeItem(pending);
    sessionStorage.removeItem("ptsdinfo-saving");
  }
}

/** Plain-words checks beside the editor, read from the live preview after each update. */
function liveChecks(textarea, config) {
  const preview = textarea.closest(".markdownx")?.querySelector(".markdownx-preview");
  if (!preview) return;
  const list = el("ul", { class: "live-checks" });
  const panel = el("section", { class: "live-checks-panel", "aria-labelledby": "live-checks-title" },
    el("h3", { id: "live-checks-title", text: gettext("Checks as you type") }), list);
  textarea.closest(".markdownx").after(panel);
  const jump = (start, end) => (event) => {
    event.preventDefault();
    textarea.focus();
    textarea.setSelectionRange(start, end);
  };
  const item = (level, message, range) => {
    const li = el("li", { class: `live-check live-check-${level}` });
    if (range) {
      const a = el("a", { href: "#id_body", text: message });
      a.addEventListener("click", jump(...range));
      li.append(a);
    } else li.append(message);
    return li;
  };
  const claimRange = (span) => {
    const id = (span.id || "").replace(/^claim-/, "");
    const at = id ? textarea.value.indexOf(`#${id}`) : -1;
    if (at < 0) return null;
    const start = textarea.value.lastIndexOf("\n", at) + 1;
    return [start, at + id.length + 1];
  };
  let flagged = {};
  let asked = "";
  const refreshFlags = async () => {
    const keys = [...new Set([...textarea.value.matchAll(/@([\w][\w:.#$%&\-+?<>~/]*\w|\w)/g)].map((m) => m[1]))].sort();
    const query = keys.join(",");
    if (!config.statusUrl || query === asked) return;
    asked = query;
    const res = await fetch(`${config.statusUrl}?keys=${encodeURIComponent(query)}&article=${config.article || ""}`, { credentials: "same-origin" });
    if (res.ok) { flagged = (await res.json()).flagged; update(); }
  };
  const update = () => {
    const items = [];
    const text = textarea.value;
    const claimKeys = Object.fromEntries(findClaims(text).map((c) => [c.id, [...c.inner.matchAll(/@([\w][\w:.#$%&\-+?<>~/]*\w|\w)/g)].map((m) => m[1])]));
    for (const p of preview.querySelectorAll(".format-error")) {
      const m = p.textContent.match(/^Line (\d+): (.*)$/s);
      if (m) {
        const n = Number(m[1]);
        const lines = text.split("\n");
        const start = lines.slice(0, n - 1).join("\n").length + (n > 1 ? 1 : 0);
        const line = lines[n - 1] || "";
        items.push(item("error", gettext("Line %(n)s needs fixing: %(problem)s The line reads: “%(line)s”", { n, problem: m[2], line: line.slice(0, 120) }), [start, start + line.length]));
      } else items.push(item("error", p.textContent, null));
    }
    for (const span of preview.querySelectorAll(".claim")) {
      const words = span.textContent.replace(/\s+/g, " ").trim().slice(0, 60);
      const bad = (claimKeys[(span.id || "").replace(/^claim-/, "")] || []).filter((k) => flagged[k]);
      if (bad.length) {
        span.dataset.state = "retracted";
        const marks = bad.map((k) => `${flagged[k].toLowerCase()} (${k})`).join(", ");
        items.push(item("error", gettext("“%(words)s…”: cites a source marked %(marks)s. Replace or remove that source.", { words, marks }), claimRange(span)));
      } else if (!span.querySelector("a.citation")) {
        span.dataset.state = "uncited";
        items.push(item("error", gettext("“%(words)s…”: This statement has no source yet. Select it and press Cite.", { words }), claimRange(span)));
      } else if (span.dataset.certainty === "unrated") {
        span.dataset.state = "ungraded";
        items.push(item("warning", gettext("“%(words)s…”: cited; a Clinical reviewer has not graded it yet.", { words }), claimRange(span)));
      } else span.dataset.state = "graded";
    }
    for (const missing of preview.querySelectorAll(".citation-missing")) {
      const key = missing.textContent.replace(/^\[\?|\]$/g, "");
      const at = text.indexOf(`@${key}`);
      items.push(item("error", gettext("The source “%(key)s” is not in the library. Put the cursor there and press Cite to find or add it.", { key }), at >= 0 ? [at, at + key.length + 1] : null));
    }
    list.replaceChildren(...(items.length ? items : [item("ok", gettext("No problems found so far."), null)]));
  };
  new MutationObserver(debounce(() => { update(); refreshFlags(); }, 100)).observe(preview, { childList: true, subtree: true });
  update();
  refreshFlags();
}

/** An image dropped or pasted into the text (markdownx's upload) gets its description. */
function describeUploads(textarea) {
  const ask = debounce(async () => {
    const at = textarea.value.indexOf("![](");
    if (at < 0) return;
    const end = textarea.value.indexOf(")", at);
    const url = textarea.value.slice(at + 4, end);
    const v = await askDialog({ title: gettext("Describe the image"), submit: gettext("Add description"), fields: [
      { name: "description", label: gettext("Describe the image for people who cannot see it"), required: true }] });
    const text = textarea.value;
    const now = text.indexOf(`![](${url})`);
    if (!v || now < 0) return;
    const md = imageMarkdown(v.description, url);
    textarea.value = text.slice(0, now) + md + text.slice(now + url.length + 5);
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }, 300);
  textarea.addEventListener("input", ask);
  textarea.closest(".markdownx")?.addEventListener("markdownx.fileUploadEnd", ask);
}

/** For a Clinical reviewer: a Grade control on each claim in the preview, posting to
 * the same endpoint as the claims table. */
function gradeInPreview(textarea, config) {
  const preview = textarea.closest(".markdownx")?.querySelector(".markdownx-preview");
  if (!preview || !config.claimsUrl) return;
  const add = () => {
    for (const span of preview.querySelectorAll(".claim[id^='claim-']")) {
      if (span.querySelector(".grade-button")) continue;
      const key = span.id.slice("claim-".length);
      const button = el("button", { type: "button", class: "button grade-button", text: gettext("Grade"), "aria-label": gettext("Grade or comment on claim %(key)s", { key }) });
      button.addEventListener("click", async () => {
        const v = await askDialog({ title: gettext("Claim %(key)s", { key }), submit: gettext("Record"), fields: [
          { name: "certainty", label: gettext("Certainty of the evidence"), choices: [["", gettext("Keep as it is")], ...certaintyChoices()] },
          { name: "comment", label: gettext("Comment for the author (optional)"), multiline: true }] });
        if (!v) return button.focus();
        const form = el("form", { method: "post", action: config.claimsUrl, hidden: true });
        for (const [name, value] of Object.entries({ csrfmiddlewaretoken: config.csrf, claim: key, certainty: v.certainty, comment: v.comment })) {
          form.append(el("input", { type: "hidden", name, value }));
        }
        document.body.append(form);
        form.submit();
      });
      span.append(" ", button);
    }
  };
  new MutationObserver(debounce(add, 50)).observe(preview, { childList: true, subtree: true });
  add();
}

/** Outlines, in the live preview, the claims the author added or changed since the last
 * review (their ids come from the server's diff), with a visible label. */
function markChangedClaims(textarea, config) {
  const preview = textarea.closest(".markdownx")?.querySelector(".markdownx-preview");
  const changed = new Set((config.changedClaims || "").split(" ").filter(Boolean));
  if (!preview || !changed.size) return;
  const mark = () => {
    for (const span of preview.querySelectorAll(".claim[id^='claim-']")) {
      if (!changed.has(span.id.slice("claim-".length)) || span.classList.contains("claim-changed")) continue;
      span.classList.add("claim-changed");
      span.before(el("span", { class: "changed-badge", text: gettext("Changed since review") }), " ");
    }
  };
  new MutationObserver(debounce(mark, 50)).observe(preview, { childList: true, subtree: true });
  mark();
}

/** Tab leaves the text box, as everywhere else on the page (WCAG 2.1.2). markdownx's
 * own keydown handler turns Tab into an indent: a keyboard user could not reach "Save",
 * and a tab before "## Heading" made the heading a code block. This listener, on the
 * document in the capture phase, runs before the text box's and keeps the event from
 * reaching it; the browser then moves the focus. */
function tabLeavesTheTextBox(textarea) {
  document.addEventListener("keydown", (event) => {
    if (event.target === textarea && event.key === "Tab" && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.stopPropagation();
    }
  }, true);
}

function init() {
  const config = document.getElementById("editor-config")?.dataset;
  const textarea = document.querySelector("textarea.article-body-editor");
  if (!config || !textarea) return;
  const settings = {
    searchUrl: config.searchUrl, addUrl: config.addUrl, uploadUrl: config.uploadUrl,
    csrf: document.querySelector("input[name=csrfmiddlewaretoken]")?.value || "",
    isReviewer: config.reviewer === "true", user: config.user, article: config.article,
    claimsUrl: config.claimsUrl || "", statusUrl: config.statusUrl,
    changedClaims: config.changedClaims || "",
  };
  settings.pickCitations = (opts) => citationPicker(settings, opts);
  if (!textarea.disabled && !textarea.readOnly) new Toolbar(textarea, settings);
  tabLeavesTheTextBox(textarea);
  followTitle(document.getElementById("id_title"), document.getElementById("id_slug"));
  keepDraft(textarea, textarea.form, settings);
  liveChecks(textarea, settings);
  if (!textarea.disabled) describeUploads(textarea);
  gradeInPreview(textarea, settings);
  markChangedClaims(textarea, settings);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
