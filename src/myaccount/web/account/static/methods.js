// The list of sign-in methods: passkeys first, then every other method, with inline rename and delete.

import { formatDate, t } from "./i18n.js";
import { confirmDialog, focus, h, uid } from "./ui.js";

const ICONS = "/account/static/icons";
// The order the page shows methods in after passkeys.
export const TYPE_ORDER = [
  "passkey",
  "totp",
  "email",
  "phone",
  "push-notification",
  "recovery-code",
  "password",
  "webauthn-roaming",
  "webauthn-platform",
];
const NAMEABLE = new Set(["passkey", "totp", "email", "phone", "push-notification", "webauthn-roaming", "webauthn-platform"]);
const ICON_OF = {
  passkey: "passkey",
  totp: "totp",
  email: "email",
  phone: "phone",
  "push-notification": "push",
  "recovery-code": "recovery",
  password: "password",
  "webauthn-roaming": "security-key",
  "webauthn-platform": "security-key",
};

export function typeLabel(type) {
  return t(`type.${type}`);
}

/** The name people know a method by: its own name, else its address, else what kind it is. */
export function displayName(method) {
  if (method.name) return method.name;
  if (method.type === "email" && method.email) return method.email;
  if (method.type === "phone" && method.phone_number) return method.phone_number;
  return typeLabel(method.type);
}

function sortKey(method) {
  const index = TYPE_ORDER.indexOf(method.type);
  return [index === -1 ? TYPE_ORDER.length : index, method.created_at ?? ""];
}

export function sortMethods(methods) {
  return [...methods].sort((a, b) => {
    const [ta, ca] = sortKey(a);
    const [tb, cb] = sortKey(b);
    return ta - tb || (ca < cb ? -1 : ca > cb ? 1 : 0);
  });
}

function icon(method, iconBase) {
  const fallback = `${iconBase}/${ICON_OF[method.type] ?? "key"}.svg`;
  const img = h("img", { class: "method-icon", src: method.icon_url || fallback, alt: "", width: 40, height: 40 });
  if (method.icon_url) {
    // A missing or blocked authenticator icon falls back to ours instead of a broken image.
    img.addEventListener("error", () => img.setAttribute("src", fallback), { once: true });
  }
  return img;
}

function fact(label, value) {
  return h(
    "li",
    { class: "fact" },
    h("span", { class: "fact-label" }, `${label}${t("fact.separator")}`),
    h("span", { class: "fact-value" }, value),
  );
}

function badge(text, kind) {
  return h("li", { class: `badge ${kind}` }, text);
}

/** Two lists for a method: short badges (state, kind) and labelled facts (dates, browser, address). */
function describeMethod(method) {
  const badges = [];
  const items = [];
  if (method.type === "passkey") {
    if (method.credential_device_type === "multi_device") {
      badges.push(badge(method.credential_backed_up ? t("passkey.synced") : t("passkey.syncable"), "synced"));
    } else {
      badges.push(badge(t("passkey.device_bound"), "device"));
    }
  } else if (method.type !== "password") {
    badges.push(method.confirmed ? badge(t("method.confirmed"), "ok") : badge(t("method.unconfirmed"), "warning"));
  }
  if (method.type !== "password" && displayName(method) !== typeLabel(method.type)) {
    badges.push(badge(typeLabel(method.type), "kind"));
  }
  if (method.type === "email" && method.name && method.email) items.push(fact(t("method.email"), method.email));
  if (method.type === "phone") {
    if (method.name && method.phone_number) items.push(fact(t("method.phone"), method.phone_number));
    if (method.preferred_authentication_method) {
      items.push(fact(t("method.phone_channel"), t(`phone.channel.${method.preferred_authentication_method}`)));
    }
  }
  if (method.type === "password") {
    items.push(fact(t("method.password_changed"), formatDate(method.last_password_reset || method.created_at)));
    return { badges, items };
  }
  items.push(fact(t("method.created"), formatDate(method.created_at)));
  if (method.type === "passkey" && method.user_agent) items.push(fact(t("passkey.created_in"), method.user_agent));
  items.push(fact(t("method.last_used"), method.last_auth_at ? formatDate(method.last_auth_at) : t("method.never_used")));
  return { badges, items };
}

/**
 * One method as a list item. `ctx` supplies rename(method, name) and remove(method, trigger) (both handle
 * their own errors) and the icon base URL.
 */
function methodRow(ctx, method) {
  const nameId = uid("method-name");
  const { badges, items } = describeMethod(method);
  const title = h("h3", { class: "method-name", id: nameId }, displayName(method));
  const actions = h("div", { class: "method-actions" });
  const row = h(
    "li",
    { class: `method type-${method.type}`, dataset: { methodId: method.id, type: method.type } },
    icon(method, ctx.iconBase ?? ICONS),
    h(
      "div",
      { class: "method-main" },
      title,
      badges.length ? h("ul", { class: "method-badges" }, badges) : null,
      h("ul", { class: "method-facts" }, items),
    ),
    actions,
  );
  if (NAMEABLE.has(method.type)) {
    const rename = h(
      "button",
      { type: "button", class: "button subtle", "aria-describedby": nameId, dataset: { action: "rename" } },
      t("action.rename"),
    );
    rename.addEventListener("click", () => startRename(ctx, method, title, rename));
    actions.append(rename);
  }
  const remove = h(
    "button",
    { type: "button", class: "button danger-subtle", "aria-describedby": nameId, dataset: { action: "delete" } },
    t("action.delete"),
  );
  remove.addEventListener("click", async () => {
    const name = displayName(method);
    const confirmed = await confirmDialog({
      title: t("delete.title", { name }),
      message: method.type === "passkey" ? t("delete.passkey", { name }) : t("delete.message", { name }),
      confirmLabel: t("delete.confirm"),
      returnFocus: remove,
    });
    if (confirmed) await ctx.remove(method, remove);
  });
  actions.append(remove);
  return row;
}

function startRename(ctx, method, title, button) {
  const current = method.name || "";
  const inputId = uid("rename");
  const input = h("input", {
    id: inputId,
    class: "rename-input",
    type: "text",
    value: current || displayName(method),
    maxlength: 200,
    required: true,
    autocomplete: "off",
  });
  const error = h("p", { class: "field-error", id: `${inputId}-error`, hidden: true });
  input.setAttribute("aria-describedby", error.id);
  const cancel = () => {
    form.replaceWith(title);
    button.hidden = false;
    button.focus();
  };
  const form = h(
    "form",
    { class: "rename-form", novalidate: true },
    h("label", { for: inputId, class: "visually-hidden" }, t("rename.label", { name: displayName(method) })),
    input,
    h("button", { type: "submit", class: "button primary small" }, t("action.save")),
    h("button", { type: "button", class: "button subtle small", onClick: cancel }, t("action.cancel")),
    error,
  );
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      cancel();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (!name) {
      error.textContent = t("rename.empty");
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    if (name === current) {
      cancel();
      return;
    }
    const problem = await ctx.rename(method, name, form);
    if (problem) {
      error.textContent = problem;
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  });
  button.hidden = true;
  title.replaceWith(form);
  input.focus();
  input.select();
}

/** The account's methods and the ways to add more. */
export function renderMethods(ctx, { methods, factors }) {
  const sorted = sortMethods(methods);
  const passkeys = sorted.filter((m) => m.type === "passkey");
  const others = sorted.filter((m) => m.type !== "passkey");
  const enabled = new Set(factors.map((f) => f.type));

  const passkeySection = h(
    "section",
    { class: "card", "aria-labelledby": "passkeys-title" },
    h("div", { class: "card-header" }, h("h2", { id: "passkeys-title" }, t("passkeys.title")), ctx.addPasskeyButton(enabled)),
    h("p", { class: "card-lead" }, t("passkeys.lead")),
    passkeys.length
      ? h("ul", { class: "methods", id: "passkey-list" }, passkeys.map((m) => methodRow(ctx, m)))
      : h("p", { class: "empty", id: "passkey-list" }, t("passkeys.empty")),
  );
  const otherSection = h(
    "section",
    { class: "card", "aria-labelledby": "others-title" },
    h("h2", { id: "others-title" }, t("others.title")),
    h("p", { class: "card-lead" }, t("others.lead")),
    others.length
      ? h("ul", { class: "methods", id: "other-list" }, others.map((m) => methodRow(ctx, m)))
      : h("p", { class: "empty", id: "other-list" }, t("others.empty")),
  );
  const addSection = h(
    "section",
    { class: "card", "aria-labelledby": "add-title" },
    h("h2", { id: "add-title" }, t("add.title")),
    h("p", { class: "card-lead" }, t("add.lead")),
    h("div", { class: "add-grid" }, ctx.addButtons(enabled, methods)),
  );
  return [passkeySection, otherSection, addSection];
}

/** Focus something sensible after the list was redrawn: a method's button, or a section heading. */
export function focusAfterRender(root, { methodId, action, fallback } = {}) {
  if (methodId) {
    const row = [...root.querySelectorAll("li.method")].find((li) => li.dataset.methodId === methodId);
    if (row) {
      focus(row.querySelector(`[data-action="${action ?? "rename"}"]`) ?? row.querySelector("button") ?? row);
      return;
    }
  }
  if (fallback) focus(root.querySelector(fallback));
}
