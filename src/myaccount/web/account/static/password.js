// The password policy from the enrollment response (`policy`), as a live checklist. The server checks again;
// rules the page cannot judge (common passwords, history) show as "checked when you save".

import { t } from "./i18n.js";

const BCRYPT_MAX_BYTES = 72;

function kind(char) {
  if (char !== char.toUpperCase() && char === char.toLowerCase()) return "lowercase";
  if (char !== char.toLowerCase() && char === char.toUpperCase()) return "uppercase";
  if (/^\p{Nd}$/u.test(char)) return "number";
  return "special";
}

function hasSequence(text) {
  const lower = text.toLowerCase();
  for (let i = 0; i + 2 < lower.length; i++) {
    const run = lower.slice(i, i + 3);
    if (!/^[a-z]{3}$|^[0-9]{3}$/.test(run)) continue;
    const a = run.charCodeAt(1) - run.charCodeAt(0);
    const b = run.charCodeAt(2) - run.charCodeAt(1);
    if (a === b && Math.abs(a) === 1) return true;
  }
  return false;
}

function fragments(field, value) {
  if (!value) return [];
  let text = value;
  if (field === "email" || text.includes("@")) text = text.slice(0, text.lastIndexOf("@")) || text;
  const words = text.split(/[\W_]+/u).filter(Boolean);
  return [text.replace(/\s+/g, ""), ...words].filter((piece) => piece.length >= 3).map((piece) => piece.toLowerCase());
}

/** [{id, text, state: "met" | "unmet" | "server"}] for `password` under `policy`. */
export function checkPassword(password, policy, profile = {}) {
  const c = policy?.complexity ?? {};
  const rules = [];
  let candidate = password;
  if (c.max_length_exceeded === "truncate") {
    const bytes = new TextEncoder().encode(password);
    if (bytes.length > BCRYPT_MAX_BYTES) candidate = new TextDecoder().decode(bytes.slice(0, BCRYPT_MAX_BYTES)).replace(/\uFFFD$/, "");
  }
  const length = Array.from(candidate).length;
  const state = (ok) => (ok ? "met" : "unmet");
  if (c.min_length) {
    rules.push({ id: "min_length", text: t("password.rule.min_length", { count: c.min_length }), state: state(length >= c.min_length) });
  }
  if (c.max_length_exceeded === "error") {
    rules.push({
      id: "max_length",
      text: t("password.rule.max_bytes", { count: BCRYPT_MAX_BYTES }),
      state: state(new TextEncoder().encode(password).length <= BCRYPT_MAX_BYTES),
    });
  }
  const types = c.character_types ?? [];
  if (types.length) {
    const present = new Set(Array.from(candidate, kind));
    const needed = c.character_type_rule === "all" ? types.length : Math.min(3, types.length);
    const count = types.filter((type) => present.has(type)).length;
    const names = types.map((type) => t(`password.type.${type}`)).join(", ");
    const text =
      needed === types.length
        ? t("password.rule.types_all", { types: names })
        : t("password.rule.types_some", { count: needed, types: names });
    rules.push({ id: "character_types", text, state: state(count >= needed) });
  }
  if (c.identical_characters === "block") {
    rules.push({ id: "identical", text: t("password.rule.identical"), state: state(!/(.)\1\1/su.test(candidate)) });
  }
  if (c.sequential_characters === "block") {
    rules.push({ id: "sequential", text: t("password.rule.sequential"), state: state(!hasSequence(candidate)) });
  }
  if (policy?.profile_data?.active) {
    const folded = candidate.toLowerCase();
    const blocked = (policy.profile_data.blocked_fields ?? []).flatMap((f) => fragments(f, profile[f]));
    rules.push({
      id: "profile",
      text: t("password.rule.profile"),
      state: candidate ? state(!blocked.some((piece) => folded.includes(piece))) : "unmet",
    });
  }
  if (policy?.dictionary?.active) rules.push({ id: "dictionary", text: t("password.rule.dictionary"), state: "server" });
  if (policy?.history?.active && policy.history.size > 0) {
    rules.push({ id: "history", text: t("password.rule.history", { count: policy.history.size }), state: "server" });
  }
  return rules;
}
