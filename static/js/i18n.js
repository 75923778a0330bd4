// The editor's own words in the staff member's language. Django's JavaScript catalogue
// (/editor/jsi18n/, a classic script the editor page loads before its modules) defines
// the global gettext and ngettext; without it (the unit tests) the words stay English.
// Placeholders are named, as in Python: gettext("Claim %(id)s removed.", { id }).
// `make messages` collects these calls into locale/es/LC_MESSAGES/djangojs.po.

const format = (text, params) =>
  params ? text.replace(/%\((\w+)\)s/g, (whole, name) => (name in params ? String(params[name]) : whole)) : text;

export function gettext(msgid, params) {
  const translate = globalThis.gettext;
  return format(typeof translate === "function" ? translate(msgid) : msgid, params);
}

export function ngettext(singular, plural, count, params) {
  const translate = globalThis.ngettext;
  const text = typeof translate === "function" ? translate(singular, plural, count) : count === 1 ? singular : plural;
  return format(text, { count, ...params });
}
