// The article body toolbar: buttons that write the project's Markdown for the author.
// A dependency-free ES module loaded as a static file (the admin CSP allows no inline
// script). The textarea stays the single source of truth and works without it.
// The pure text functions are exported for the unit tests (tests/browser/test_editor_toolbar.py).

import { gettext, ngettext } from "./i18n.js";

const CLAIM_RE = /\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\{([^{}\n]*\.claim[^{}\n]*)\}/g;
const CITE_GROUP_RE = /\[([^\[\]\n]*@[^\[\]\n]*)\](?![({])/g;

// --- pure text functions ---------------------------------------------------------------

/** "Trauma-focused therapy helps" -> "trauma-focused-therapy-helps" (at most six words). */
export function slugify(text, maxWords = 6) {
  const ascii = text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  const words = ascii.split(/[^a-z0-9]+/).filter(Boolean).slice(0, maxWords);
  while (words.length > 1 && /^(a|an|the|of|and|or|to|in|for|with|on|at|by)$/.test(words.at(-1))) words.pop();
  return words.join("-").slice(0, 60).replace(/-+$/, "") || "section";
}

/** The ids (claims and headings) the text already uses. */
export function usedIds(text) {
  const ids = new Set();
  for (const m of text.matchAll(/#([A-Za-z0-9][A-Za-z0-9_-]*)/g)) ids.add(m[1]);
  return ids;
}

/** `base`, or `base-2`, `base-3`... whichever the text does not use yet. */
export function uniqueId(base, text) {
  const ids = usedIds(text);
  if (!ids.has(base)) return base;
  for (let n = 2; ; n++) if (!ids.has(`${base}-${n}`)) return `${base}-${n}`;
}

/** A section heading line with a stable id made from its title. */
export function headingMarkdown(title, text) {
  const clean = title.replace(/[\[\]{}#\n]/g, " ").replace(/\s+/g, " ").trim();
  return `## ${clean} {#${uniqueId(slugify(clean), text)}}`;
}

/** Claims in the text: [{start, end, inner, id}] with `end` after the closing brace. */
export function findClaims(text) {
  const claims = [];
  for (const m of text.matchAll(CLAIM_RE)) {
    const id = (m[2].match(/#([A-Za-z0-9][A-Za-z0-9_-]*)/) || [])[1] || "";
    claims.push({ start: m.index, end: m.index + m[0].length, inner: m[1], id });
  }
  return claims;
}

/** Why this selection cannot become a claim, in plain words; "" when it can. */
export function claimSelectionProblem(text, start, end) {
  const selected = text.slice(start, end);
  if (!selected.trim()) return gettext("Select the sentence you want to mark as a claim first.");
  if (/\n\s*\n/.test(selected.trim())) {
    return gettext("The selection runs over more than one paragraph. Select one sentence or a few in the same paragraph.");
  }
  const lineStart = text.lastIndexOf("\n", start - 1) + 1;
  const lines = text.slice(lineStart, end).split("\n");
  if (lines.some((line) => /^\s{0,3}#{1,6}\s/.test(line))) {
    return gettext("The selection includes a section heading. Select a sentence in the text instead.");
  }
  for (const claim of findClaims(text)) {
    if (start < claim.end && end > claim.start) {
      return gettext("The selection overlaps a statement that is already a claim. Select text outside it, or remove that claim first.");
    }
  }
  const depth = (t) => (t.match(/\[/g) || []).length - (t.match(/\]/g) || []).length;
  if (depth(selected) !== 0 || /[{}]/.test(selected)) {
    return gettext("The selection cuts through a citation or a link. Select whole sentences.");
  }
  return "";
}

/** The sentence around the cursor on its line: [start, end), or null on an empty line. */
export function sentenceAround(text, pos) {
  const lineStart = text.lastIndexOf("\n", pos - 1) + 1;
  let lineEnd = text.indexOf("\n", pos);
  if (lineEnd < 0) lineEnd = text.length;
  const line = text.slice(lineStart, lineEnd);
  const rel = pos - lineStart;
  for (const m of line.matchAll(/[^.!?]+(?:[.!?]+(?=\s|$)|$)/g)) {
    const start = m.index + (m[0].length - m[0].trimStart().length);
    const end = m.index + m[0].trimEnd().length;
    if (rel >= start && rel <= end && end > start) return [lineStart + start, lineStart + end];
  }
  return null;
}

/** Wrap [start, end) as a claim; returns {text, id, cursor}. Trailing spaces stay outside. */
export function wrapClaim(text, start, end, id, refs = [], certainty = "") {
  let s = start;
  let e = end;
  while (s < e && /\s/.test(text[s])) s++;
  while (e > s && /\s/.test(text[e - 1])) e--;
  const cite = refs.length ? ` [${refs.map((r) => "@" + r.key + (r.locator ? `, ${r.locator}` : "")).join("; ")}]` : "";
  const grade = certainty ? ` certainty=${certainty.includes(" ") ? `"${certainty}"` : certainty}` : "";
  const markup = `[${text.slice(s, e)}${cite}]{.claim #${id}${grade}}`;
  return { text: text.slice(0, s) + markup + text.slice(e), id, cursor: s + markup.length };
}

/** Remove the claim markup around `pos`, keeping its words and citations; null if none. */
export function unwrapClaim(text, pos) {
  const claim = findClaims(text).find((c) => pos >= c.start && pos <= c.end);
  if (!claim) return null;
  return {
    text: text.slice(0, claim.start) + claim.inner + text.slice(claim.end),
    id: claim.id,
    cursor: claim.start + claim.inner.length,
  };
}

/** Insert a citation at `pos`: into the group the cursor touches, else a new group. */
export function insertCitation(text, pos, key, locator = "") {
  const ref = `@${key}${locator.trim() ? `, ${locator.trim()}` : ""}`;
  for (const m of text.matchAll(CITE_GROUP_RE)) {
    const start = m.index;
    const end = start + m[0].length;
    if (pos >= start && pos <= end && new RegExp(`@${escapeRe(key)}(?![\\w])`).test(m[1])) {
      return { text, cursor: end }; // already cited there
    }
    if (pos > start && pos <= end) {
      const merged = `[${m[1]}; ${ref}]`;
      return { text: text.slice(0, start) + merged + text.slice(end), cursor: start + merged.length };
    }
  }
  const before = text.slice(0, pos);
  const space = before && !/\s$/.test(before) ? " " : "";
  const group = `${space}[${ref}]`;
  return { text: before + group + text.slice(pos), cursor: pos + group.length };
}

/** Where Cite inserts: inside the claim at the cursor (before its closing bracket, so
 * the source belongs to the claim), else at the cursor itself. */
export function citeTarget(text, pos) {
  const claim = findClaims(text).find((c) => pos >= c.start && pos <= c.end);
  if (!claim) return pos;
  const closing = claim.start + 1 + claim.inner.length;
  return pos > claim.start && pos <= closing ? pos : closing;
}

/** Wrap the selection in `marker` (bold `**`, italic `*`), or insert it around `fallback`. */
export function wrapInline(text, start, end, marker, fallback) {
  const inner = text.slice(start, end) || fallback;
  const out = marker + inner + marker;
  return { text: text.slice(0, start) + out + text.slice(end), selStart: start + marker.length, selEnd: start + marker.length + inner.length };
}

/** A link over the selection (or the URL itself as the words). */
export function linkMarkdown(words, url) {
  const label = (words || url).replace(/[\[\]]/g, "");
  return `[${label}](${url.trim()})`;
}

/** Turn the lines touched by [start, end) into a bulleted list. */
export function bulletLines(text, start, end) {
  const lineStart = text.lastIndexOf("\n", start - 1) + 1;
  let lineEnd = text.indexOf("\n", end);
  if (lineEnd < 0) lineEnd = text.length;
  const block = text.slice(lineStart, lineEnd).split("\n").map((l) => (/^\s*[-*] /.test(l) || !l.trim() ? l : `- ${l}`)).join("\n");
  return { text: text.slice(0, lineStart) + block + text.slice(lineEnd), cursor: lineStart + block.length };
}

/** Image Markdown with its description as alt text (markdownx's upload gives `![](url)`). */
export function imageMarkdown(description, url) {
  return `![${description.replace(/[\[\]\s]+/g, " ").trim()}](${url})`;
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// --- the toolbar -----------------------------------------------------------------------

/** The certainty grades a Clinical reviewer can give, as [value, label]. */
export const certaintyChoices = () => [
  ["high", gettext("High")], ["moderate", gettext("Moderate")], ["low", gettext("Low")], ["very-low", gettext("Very low")],
];

// Labels and tips are read when the module loads, after the catalogue script has run.
const BUTTONS = [
  { action: "heading", label: gettext("Section heading"), key: "Alt+Shift+H", tip: gettext("Start a new section; you give its title") },
  { action: "bold", label: gettext("Bold"), key: "Control+B", tip: gettext("Make the selected words bold") },
  { action: "italic", label: gettext("Italic"), key: "Control+I", tip: gettext("Make the selected words italic") },
  { action: "link", label: gettext("Link"), key: "Control+K", tip: gettext("Link the selected words to a web address") },
  { action: "list", label: gettext("Bulleted list"), key: "Alt+Shift+L", tip: gettext("Turn the selected lines into a bulleted list") },
  { action: "image", label: gettext("Image"), key: "Alt+Shift+I", tip: gettext("Add an image with a description for people who cannot see it") },
  { action: "cite", label: gettext("Cite"), key: "Alt+Shift+C", tip: gettext("Cite a source at the cursor: search the library or add one by DOI, PMID or pasted reference") },
  { action: "claim", label: gettext("Mark as claim"), key: "Alt+Shift+M", tip: gettext("Mark the selected sentence (or the sentence at the cursor) as a claim that needs a source") },
  { action: "unclaim", label: gettext("Remove claim"), key: "Alt+Shift+U", tip: gettext("Turn the claim at the cursor back into plain text") },
];

function matchesShortcut(event, spec) {
  const parts = spec.split("+");
  const key = parts.pop();
  const want = new Set(parts);
  return (
    event.key.toUpperCase() === key.toUpperCase() &&
    event.altKey === want.has("Alt") &&
    event.shiftKey === want.has("Shift") &&
    (event.ctrlKey || event.metaKey) === want.has("Control")
  );
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children);
  return node;
}

/** A modal dialog with labelled fields; resolves to their values, or null on cancel. */
export function askDialog({ title, fields, submit = gettext("OK"), note = "" }) {
  return new Promise((resolve) => {
    const form = el("form", { method: "dialog", class: "tb-form" });
    const dialog = el("dialog", { class: "tb-dialog", "aria-labelledby": "tb-dialog-title" }, form);
    form.append(el("h2", { id: "tb-dialog-title", text: title }));
    if (note) form.append(el("p", { class: "tb-note", role: "alert", text: note }));
    const inputs = {};
    fields.forEach((f, i) => {
      const id = `tb-field-${i}`;
      let input;
      if (f.choices) {
        input = el("select", { id, name: f.name });
        for (const [value, label] of f.choices) input.append(el("option", { value, text: label }));
      } else if (f.multiline) {
        input = el("textarea", { id, name: f.name, rows: 6 });
      } else {
        input = el("input", { id, name: f.name, type: f.type || "text", required: f.required || false });
      }
      if (f.value) input.value = f.value;
      inputs[f.name] = input;
      form.append(el("p", {}, el("label", { for: id, text: f.label }), input, f.help ? el("span", { class: "help", text: f.help }) : ""));
    });
    const cancel = el("button", { type: "button", class: "button", text: gettext("Cancel") });
    form.append(el("p", { class: "tb-actions" }, el("button", { type: "submit", class: "button default", text: submit }), cancel));
    document.body.append(dialog);
    let done = false;
    const finish = (value) => {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    cancel.addEventListener("click", () => finish(null));
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); finish(null); });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const missing = fields.find((f) => f.required && !String(inputs[f.name].value).trim());
      if (missing) { inputs[missing.name].focus(); return; }
      finish(Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.type === "file" ? v.files[0] : v.value])));
    });
    dialog.showModal();
    (Object.values(inputs)[0] || cancel).focus();
  });
}

export class Toolbar {
  constructor(textarea, config) {
    this.textarea = textarea;
    this.config = config;
    this.status = el("p", { class: "tb-status", role: "status", "aria-live": "polite" });
    this.node = el("div", { role: "toolbar", "aria-label": gettext("Format and cite"), "aria-controls": textarea.id, class: "editor-toolbar" });
    this.buttons = BUTTONS.map((b, i) => {
      const button = el("button", {
        type: "button", class: "button tb-button", "data-action": b.action,
        title: `${b.tip} (${b.key.replace("Control", "Ctrl")})`, "aria-keyshortcuts": b.key,
        tabindex: i === 0 ? "0" : "-1", text: b.label,
      });
      button.addEventListener("click", () => this.run(b.action));
      this.node.append(button);
      return button;
    });
    this.node.addEventListener("keydown", (e) => this.roving(e));
    textarea.addEventListener("keydown", (e) => {
      const b = BUTTONS.find((x) => matchesShortcut(e, x.key));
      if (b) { e.preventDefault(); this.run(b.action); }
    });
    textarea.before(this.node);
    this.node.after(this.status);
  }

  roving(event) {
    const i = this.buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const n = this.buttons.length;
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: n - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    this.buttons[i].tabIndex = -1;
    const target = this.buttons[(next + n) % n];
    target.tabIndex = 0;
    target.focus();
  }

  say(message) {
    this.status.textContent = "";
    requestAnimationFrame(() => { this.status.textContent = message; });
  }

  apply(text, selStart, selEnd = selStart) {
    const ta = this.textarea;
    ta.focus();
    ta.value = text;
    ta.setSelectionRange(selStart, selEnd);
    ta.dispatchEvent(new Event("input", { bubbles: true }));
  }

  async run(action) {
    const ta = this.textarea;
    if (ta.readOnly || ta.disabled) return;
    const { selectionStart: start, selectionEnd: end, value: text } = ta;
    const selected = text.slice(start, end);
    if (action === "bold" || action === "italic") {
      const r = wrapInline(text, start, end, action === "bold" ? "**" : "*", action === "bold" ? gettext("bold text") : gettext("italic text"));
      this.apply(r.text, r.selStart, r.selEnd);
    } else if (action === "list") {
      const r = bulletLines(text, start, end);
      this.apply(r.text, r.cursor);
    } else if (action === "heading") {
      const v = await askDialog({ title: gettext("New section"), submit: gettext("Add section"), fields: [{ name: "title", label: gettext("Section title"), required: true, value: selected.trim() }] });
      if (!v) return ta.focus();
      const line = headingMarkdown(v.title, text);
      const before = text.slice(0, start).replace(/\n*$/, "");
      const after = text.slice(end).replace(/^\n*/, "");
      const head = (before ? before + "\n\n" : "") + line + "\n\n";
      this.apply(head + after, head.length);
      this.say(gettext("Section “%(title)s” added.", { title: v.title }));
    } else if (action === "link") {
      const v = await askDialog({ title: gettext("Link"), submit: gettext("Add link"), fields: [
        { name: "words", label: gettext("Words to show"), value: selected },
        { name: "url", label: gettext("Web address"), type: "url", required: true, value: "https://" }] });
      if (!v) return ta.focus();
      const md = linkMarkdown(v.words, v.url);
      this.apply(text.slice(0, start) + md + text.slice(end), start + md.length);
    } else if (action === "image") {
      await this.image(start, end);
    } else if (action === "cite") {
      const picked = await this.config.pickCitations({ multiple: false, anchor: ta });
      if (!picked || !picked.length) return ta.focus();
      let r = { text: ta.value, cursor: citeTarget(ta.value, end) };
      for (const p of picked) r = insertCitation(r.text, r.cursor, p.key, p.locator);
      this.apply(r.text, r.cursor);
      this.say(gettext("Cited %(keys)s.", { keys: picked.map((p) => p.key).join(", ") }));
    } else if (action === "claim") {
      await this.claim(text, start, end);
    } else if (action === "unclaim") {
      const r = unwrapClaim(text, start);
      if (!r) { this.say(gettext("Put the cursor inside a claim to remove it.")); return ta.focus(); }
      this.apply(r.text, r.cursor);
      this.say(gettext("Claim %(id)s removed; its words and sources stay in the text.", { id: r.id }));
    }
  }

  async claim(text, start, end) {
    if (start === end) {
      const pos = start;
      const around = sentenceAround(text, pos);
      if (around) [start, end] = around;
      // a claim earlier on the line ends the sentence before the cursor
      for (const c of findClaims(text)) if (c.start < end && c.end > start && c.end <= pos) start = c.end;
      while (start < end && /\s/.test(text[start])) start++;
    }
    const problem = claimSelectionProblem(text, start, end);
    if (problem) { this.say(problem); return this.textarea.focus(); }
    const suggested = uniqueId(slugify(text.slice(start, end)), text);
    const fields = [{ name: "id", label: gettext("Claim name (used in links and the review)"), required: true, value: suggested }];
    if (this.config.isReviewer) {
      fields.push({ name: "certainty", label: gettext("Certainty of the evidence"), choices: [["", gettext("Not graded yet")], ...certaintyChoices()] });
    }
    const v = await askDialog({ title: gettext("Mark as claim"), submit: gettext("Next: choose sources"), fields, note: "" });
    if (!v) return this.textarea.focus();
    const id = slugify(v.id, 12);
    if (usedIds(text).has(id)) {
      this.say(gettext("The name “%(id)s” is already used in this article. Choose another.", { id }));
      return this.textarea.focus();
    }
    const picked = (await this.config.pickCitations({ multiple: true, anchor: this.textarea })) || [];
    const out = wrapClaim(text, start, end, id, picked, v.certainty || "");
    this.apply(out.text, out.cursor);
    this.say(picked.length
      ? ngettext("Claim %(id)s marked with %(count)s source.", "Claim %(id)s marked with %(count)s sources.", picked.length, { id })
      : gettext("Claim %(id)s marked. It has no source yet: put the cursor inside it and press Cite.", { id }));
  }

  async image(start, end) {
    const v = await askDialog({ title: gettext("Add an image"), submit: gettext("Upload"), fields: [
      { name: "description", label: gettext("Describe the image for people who cannot see it"), required: true },
      { name: "file", label: gettext("Image file (JPEG, PNG, GIF or WebP)"), type: "file", required: true }] });
    if (!v || !v.file) return this.textarea.focus();
    const body = new FormData();
    body.append("image", v.file);
    const res = await fetch(this.config.uploadUrl, { method: "POST", body, headers: { "X-CSRFToken": this.config.csrf }, credentials: "same-origin" });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) { this.say((data.image || [gettext("The image could not be uploaded.")]).join(" ")); return; }
    const url = (data.image_code.match(/\]\((.*)\)$/) || [])[1];
    const md = imageMarkdown(v.description, url);
    const text = this.textarea.value;
    this.apply(text.slice(0, start) + md + text.slice(end), start + md.length);
    this.say(gettext("Image added."));
  }
}
