// Translations: every string the page shows comes from strings/<lang>.json, embedded in the page by the server.

const node = document.getElementById("strings");
const strings = node ? JSON.parse(node.textContent) : {};

export const lang = document.documentElement.lang || "en";

/** The string for `key` with `{name}` placeholders filled from `params`; the key itself if it is missing. */
export function t(key, params = {}) {
  const template = strings[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
}

export function has(key) {
  return key in strings;
}

const dateFormat = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });

/** A date from the API (ISO 8601) for people, or "" when absent or unreadable. */
export function formatDate(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : dateFormat.format(date);
}
