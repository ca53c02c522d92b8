// Small DOM helpers: element building (elements and text nodes only, never HTML strings), notices, dialogs
// and focus.

import { t } from "./i18n.js";

/** h("button", {type: "button", class: "x", onClick: fn}, "text", child…) → an element. */
export function h(tag, attributes = {}, ...children) {
  const element = tag === "svg" ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let counter = 0;
export function uid(prefix = "id") {
  counter += 1;
  return `${prefix}-${counter}`;
}

const slots = { status: () => document.getElementById("status"), alert: () => document.getElementById("alert") };

/**
 * Show a message in the live regions at the top of the page: `kind` "success" or "info" is polite (status),
 * "error" or "warning" is assertive (alert). `actions` are extra buttons [{label, onClick}].
 */
export function notify(message, { kind = "info", title, details = [], actions = [] } = {}) {
  clearNotices();
  const slot = kind === "error" || kind === "warning" ? slots.alert() : slots.status();
  const notice = h(
    "div",
    { class: `notice ${kind}`, dataset: { kind } },
    h(
      "div",
      { class: "notice-text" },
      title ? h("strong", { class: "notice-title" }, title) : null,
      h("p", { class: "notice-message" }, message),
      details.length ? h("ul", { class: "notice-details" }, details.map((d) => h("li", {}, d))) : null,
    ),
    h(
      "div",
      { class: "notice-actions" },
      actions.map(({ label, onClick }) => h("button", { type: "button", class: "button subtle", onClick }, label)),
      h(
        "button",
        { type: "button", class: "button icon-only dismiss", "aria-label": t("notice.dismiss"), onClick: () => clearNotices() },
        "×",
      ),
    ),
  );
  slot.append(notice);
  return notice;
}

export function clearNotices() {
  for (const get of Object.values(slots)) get()?.replaceChildren();
}

/** Move focus to `element` (making it focusable if it is not). */
export function focus(element) {
  if (!element) return;
  if (!element.matches("a[href], button, input, select, textarea, [tabindex]")) element.setAttribute("tabindex", "-1");
  element.focus();
}

/**
 * A modal <dialog>. `build(close)` returns its body; the dialog returns focus to `returnFocus` when it closes.
 * Resolves with the value passed to close() (undefined when dismissed with Escape or the close button).
 */
export function openDialog({ title, build, returnFocus, className = "" }) {
  return new Promise((resolve) => {
    const titleId = uid("dialog-title");
    let result;
    const dialog = h("dialog", { class: `dialog ${className}`, "aria-labelledby": titleId });
    const close = (value) => {
      result = value;
      dialog.close();
    };
    dialog.append(
      h(
        "div",
        { class: "dialog-header" },
        h("h2", { id: titleId }, title),
        h("button", { type: "button", class: "button icon-only", "aria-label": t("dialog.close"), onClick: () => close() }, "×"),
      ),
      h("div", { class: "dialog-body" }, build(close, dialog)),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (returnFocus?.isConnected) returnFocus.focus();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = dialog.querySelector("[autofocus]") ?? dialog.querySelector(".dialog-body input, .dialog-body button");
    first?.focus();
  });
}

/** Ask to confirm a destructive action. Resolves true when confirmed. Focus starts on Cancel. */
export async function confirmDialog({ title, message, confirmLabel, returnFocus }) {
  const answer = await openDialog({
    title,
    returnFocus,
    className: "confirm",
    build: (close) => [
      h("p", {}, message),
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { type: "button", class: "button danger", onClick: () => close(true) }, confirmLabel),
        h("button", { type: "button", class: "button subtle", autofocus: true, onClick: () => close(false) }, t("action.cancel")),
      ),
    ],
  });
  return answer === true;
}

/** Mark a button busy while `work` runs (disabled, aria-busy, optional label). */
export async function busy(button, work, label) {
  const previous = button?.textContent;
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    if (label) button.textContent = label;
  }
  try {
    return await work();
  } finally {
    if (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      if (label) button.textContent = previous;
    }
  }
}

/** A labelled form field; returns {field, input, error} (error shows problems, linked by aria-describedby). */
export function field({ label, hint, ...inputAttributes }) {
  const id = uid("field");
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : undefined;
  const input = h("input", { id, "aria-describedby": [hintId, errorId].filter(Boolean).join(" "), ...inputAttributes });
  const error = h("p", { class: "field-error", id: errorId, hidden: true });
  const wrapper = h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    hint ? h("p", { class: "field-hint", id: hintId }, hint) : null,
    input,
    error,
  );
  return {
    field: wrapper,
    input,
    error,
    showError(message) {
      error.textContent = message;
      error.hidden = !message;
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    },
  };
}
