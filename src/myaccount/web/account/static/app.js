// The account page: sign in, list the methods, run the operations, and turn every failure into a message.
// Operations that need a recent login (the API answers 403 A0E-403-0010) send the user to log in again
// (prompt=login) and carry on when they come back.

import { ApiError, MyAccountApi } from "./api.js";
import { Auth } from "./auth.js";
import { finishConnect, isConnectCallback, renderConnected, startConnect, takeConnectCallback } from "./connected.js";
import { canEnroll, enroll } from "./enroll.js";
import { describe } from "./errors.js";
import { t } from "./i18n.js";
import { displayName, focusAfterRender, renderMethods } from "./methods.js";
import { clearNotices, focus, h, notify, openDialog } from "./ui.js";
import { webauthnSupported } from "./webauthn.js";

const app = document.getElementById("app");
const STATIC = new URL(".", import.meta.url).pathname.replace(/\/$/, "");

async function loadConfig() {
  const response = await fetch(new URL("config.json", new URL("..", import.meta.url)), { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const config = await response.json();
  for (const key of ["origin", "client_id", "audience", "scope"]) {
    if (!config[key]) throw new Error(`config.json lacks ${key}`);
  }
  return config;
}

/** A selector finding "the same" control after the list is redrawn, so keyboard users keep their place. */
function focusKey(element) {
  if (!element || !app.contains(element) || element === app) return null;
  if (element.dataset.enroll) return `[data-enroll="${CSS.escape(element.dataset.enroll)}"]`;
  if (element.dataset.connect) return `[data-connect="${CSS.escape(element.dataset.connect)}"]`;
  const account = element.closest("li.connected-account");
  if (account && element.dataset.action) {
    return `li.connected-account[data-account-id="${CSS.escape(account.dataset.accountId)}"] [data-action="${element.dataset.action}"]`;
  }
  const row = element.closest("li.method");
  if (row && element.dataset.action) {
    return `li.method[data-method-id="${CSS.escape(row.dataset.methodId)}"] [data-action="${element.dataset.action}"]`;
  }
  return element.id ? `#${CSS.escape(element.id)}` : null;
}

function operationLabel(operation) {
  if (operation.kind === "delete") return t("op.delete", { name: operation.name });
  if (operation.kind === "connect") return t("op.connect", { name: operation.connection });
  if (operation.kind === "disconnect") return t("op.disconnect", { name: operation.name });
  return t(`op.enroll.${operation.type}`);
}

class Page {
  constructor(config) {
    this.config = config;
    this.auth = new Auth(config);
    this.api = new MyAccountApi(config, this.auth);
    this.methods = [];
    this.factors = [];
    // Connected accounts load when the user opens the section (or comes back from connecting one), so the
    // page's start costs the API no more than the sign-in methods.
    this.connectedShown = false;
    this.connections = []; // null when they couldn't be loaded
    this.accounts = [];
    this.iconBase = `${STATIC}/icons`;
  }

  get user() {
    return this.auth.user;
  }

  // --- screens --------------------------------------------------------------------------------------------
  showSession() {
    const session = document.getElementById("session");
    const who = document.getElementById("session-user");
    if (this.auth.signedIn) {
      const user = this.user;
      who.textContent = user.email || user.name || user.sub || "";
      session.hidden = false;
    } else {
      session.hidden = true;
    }
  }

  renderSignedOut({ focusButton = false } = {}) {
    this.showSession();
    const button = h("button", { type: "button", class: "button primary large", id: "sign-in" }, t("signin.button"));
    button.addEventListener("click", () => this.signIn(button));
    app.replaceChildren(
      h(
        "section",
        { class: "card signin", "aria-labelledby": "signin-title" },
        h("h2", { id: "signin-title" }, t("signin.title")),
        h("p", {}, t("signin.lead")),
        button,
      ),
    );
    app.setAttribute("aria-busy", "false");
    document.documentElement.dataset.ready = "signed-out";
    if (focusButton) button.focus();
  }

  async signIn(button, options = {}) {
    if (button) button.disabled = true;
    try {
      await this.auth.signIn(options);
    } catch (error) {
      if (button) button.disabled = false;
      this.fail(error);
    }
  }

  render() {
    this.showSession();
    const restore = focusKey(document.activeElement);
    app.replaceChildren(
      ...renderMethods(this, { methods: this.methods, factors: this.factors }),
      renderConnected(this, { shown: this.connectedShown, connections: this.connections, accounts: this.accounts }),
    );
    app.setAttribute("aria-busy", "false");
    document.documentElement.dataset.ready = "signed-in";
    if (restore) focus(app.querySelector(restore));
  }

  /** Fetch the methods and factors again and redraw. Throws what the API throws. */
  async reload() {
    app.setAttribute("aria-busy", "true");
    try {
      const [methods, factors, connected] = await Promise.all([
        this.api.methods(),
        this.api.factors(),
        this.loadConnected(),
      ]);
      this.methods = methods;
      this.factors = factors;
      [this.connections, this.accounts] = connected;
      this.render();
    } finally {
      app.setAttribute("aria-busy", "false");
    }
  }

  /** [connections, accounts]; a failure other than a lost session leaves the sign-in methods usable. */
  async loadConnected() {
    if (!this.connectedShown) return [this.connections, this.accounts];
    try {
      return await Promise.all([this.api.connections(), this.api.connectedAccounts()]);
    } catch (error) {
      if (error instanceof ApiError && (error.kind === "signed_out" || error.status === 401)) throw error;
      return [null, []];
    }
  }

  async showConnected(button) {
    this.connectedShown = true;
    button.disabled = true;
    try {
      await this.reload();
    } catch (error) {
      this.connectedShown = false;
      button.disabled = false;
      await this.handle(error, null, button);
      return;
    }
    focus(document.getElementById("connected-title"));
  }

  /** Back from a provider: finish connecting the account and say how it went. */
  async connectReturned(callback) {
    let outcome;
    try {
      outcome = await finishConnect(this, callback);
    } catch (error) {
      if (error instanceof ApiError && (error.kind === "signed_out" || error.status === 401)) await this.sessionEnded(null, null);
      else this.fail(error);
      return;
    }
    if (outcome.kind === "connected") {
      await this.done({ message: t("connected.done", { name: outcome.name }), fallback: "#connected-title" });
      return;
    }
    const again = outcome.connection && this.connections?.some((c) => c.name === outcome.connection);
    const actions = again
      ? [{ label: t("action.retry"), onClick: () => this.perform({ kind: "connect", connection: outcome.connection }, null) }]
      : [];
    const notice = notify(outcome.message, { kind: "error", title: t("connected.error.title"), details: outcome.details ?? [], actions });
    focus(notice.querySelector(".notice-title") ?? notice);
  }

  status(message) {
    notify(message, { kind: "info" });
  }

  /** After a successful change: redraw, say what happened, and put focus somewhere useful. */
  async done({ message, methodId, action, fallback = "#page-title" }) {
    try {
      await this.reload();
    } catch (error) {
      this.fail(error);
      return;
    }
    notify(message, { kind: "success" });
    focusAfterRender(app, { methodId, action, fallback });
  }

  // --- pieces the method list asks for --------------------------------------------------------------------
  addPasskeyButton(enabled) {
    if (!enabled.has("passkey")) return null;
    if (!webauthnSupported()) return h("p", { class: "hint" }, t("passkeys.unsupported"));
    const button = h("button", { type: "button", class: "button primary", id: "add-passkey" }, t("passkeys.add"));
    button.addEventListener("click", () => this.perform({ kind: "enroll", type: "passkey" }, button));
    return button;
  }

  addButtons(enabled, methods) {
    const confirmed = (type) => methods.some((m) => m.type === type && m.confirmed !== false);
    const options = [];
    const option = (type, icon, label, description) => {
      const button = h(
        "button",
        { type: "button", class: "add-option", dataset: { enroll: type } },
        h("img", { src: `${this.iconBase}/${icon}.svg`, alt: "", width: 32, height: 32 }),
        h("span", { class: "add-text" }, h("span", { class: "add-label" }, label), h("span", { class: "add-description" }, description)),
      );
      button.addEventListener("click", () => this.perform({ kind: "enroll", type }, button));
      options.push(button);
    };
    if (enabled.has("totp")) option("totp", "totp", t("add.totp"), t("add.totp.description"));
    if (enabled.has("email")) option("email", "email", t("add.email"), t("add.email.description"));
    if (enabled.has("phone")) option("phone", "phone", t("add.phone"), t("add.phone.description"));
    if (enabled.has("push-notification")) option("push-notification", "push", t("add.push"), t("add.push.description"));
    if (enabled.has("recovery-code")) {
      const has = confirmed("recovery-code");
      option("recovery-code", "recovery", has ? t("add.recovery.replace") : t("add.recovery"), t("add.recovery.description"));
    }
    if (enabled.has("password")) {
      const has = methods.some((m) => m.type === "password");
      option("password", "password", has ? t("add.password.change") : t("add.password.set"), t("add.password.description"));
    }
    return options.filter((button) => canEnroll(button.dataset.enroll));
  }

  async rename(method, name, form) {
    try {
      const updated = await this.api.rename(method.id, name);
      await this.done({ message: t("rename.done", { name: displayName(updated) }), methodId: method.id, action: "rename" });
      return null;
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) return error.problemAt("/name")?.detail || error.detail;
      form.querySelector("button[type=button]")?.click(); // leave edit mode, then explain
      await this.handle(error, { kind: "rename", id: method.id, name: displayName(method) }, null);
      return null;
    }
  }

  async remove(method, trigger) {
    await this.perform({ kind: "delete", id: method.id, name: displayName(method), type: method.type }, trigger);
  }

  // --- operations -----------------------------------------------------------------------------------------
  /** Run an operation; failures become messages, a new login (then resumed), or a retry button. */
  async perform(operation, trigger, { note } = {}) {
    clearNotices();
    if (note) notify(note, { kind: "info" });
    try {
      if (operation.kind === "enroll") {
        await enroll(this, operation.type, { trigger, body: operation.body ?? null });
      } else if (operation.kind === "connect") {
        await startConnect(this, operation.connection);
      } else if (operation.kind === "disconnect") {
        await this.disconnect(operation);
      } else if (operation.kind === "delete") {
        await this.api.remove(operation.id);
        await this.done({
          message: t("delete.done", { name: operation.name }),
          fallback: operation.type === "passkey" ? "#passkeys-title" : "#others-title",
        });
      }
    } catch (error) {
      await this.handle(error, error?.resume ?? operation, trigger);
    }
  }

  async disconnect(operation) {
    try {
      await this.api.disconnect(operation.id);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
      await this.done({ message: t("connected.gone", { name: operation.name }), fallback: "#connected-title" });
      return;
    }
    await this.done({ message: t("connected.disconnected", { name: operation.name }), fallback: "#connected-title" });
  }

  async handle(error, operation, trigger) {
    if (error instanceof ApiError && error.needsRecentLogin) {
      await this.reauthenticate(operation, trigger);
      return;
    }
    if (error instanceof ApiError && (error.kind === "signed_out" || error.status === 401)) {
      await this.sessionEnded(operation, trigger);
      return;
    }
    this.fail(error, operation);
    if (error instanceof ApiError && error.status === 404) {
      await this.reload().catch(() => {});
    }
  }

  /** Show what went wrong, with a retry where trying again can help. */
  fail(error, operation = null) {
    const { title, message, details } = describe(error);
    let text = message;
    let shown = details;
    if (error instanceof ApiError && error.status === 409 && operation?.kind === "delete") {
      text = t("error.409.last", { name: operation.name });
      shown = []; // says it all; the API's English detail would only repeat it
    }
    const retryable =
      operation &&
      operation.kind !== "rename" &&
      (error instanceof DOMException ||
        (error instanceof ApiError && (error.kind === "network" || error.status === 429 || error.status >= 500)));
    const actions = retryable ? [{ label: t("action.retry"), onClick: () => this.perform(operation, null) }] : [];
    const notice = notify(text, { kind: "error", title, details: shown, actions });
    if (!document.querySelector("dialog[open]")) focus(notice.querySelector(".notice-title") ?? notice);
  }

  async reauthenticate(operation, trigger) {
    const go = await openDialog({
      title: t("reauth.title"),
      returnFocus: trigger,
      className: "confirm",
      build: (close) => [
        h("p", {}, t("reauth.explain", { action: operationLabel(operation) })),
        h(
          "div",
          { class: "dialog-actions" },
          h("button", { type: "button", class: "button primary", id: "reauth-continue", autofocus: true, onClick: () => close(true) }, t("reauth.continue")),
          h("button", { type: "button", class: "button subtle", onClick: () => close(false) }, t("action.cancel")),
        ),
      ],
    });
    if (go) await this.signIn(null, { prompt: "login", resume: operation, loginHint: this.user.email });
    else notify(t("reauth.cancelled"), { kind: "info" });
  }

  async sessionEnded(operation, trigger) {
    const go = await openDialog({
      title: t("error.signed_out.title"),
      returnFocus: trigger,
      className: "confirm",
      build: (close) => [
        h("p", {}, t("error.signed_out")),
        h(
          "div",
          { class: "dialog-actions" },
          h("button", { type: "button", class: "button primary", autofocus: true, onClick: () => close(true) }, t("signin.again")),
          h("button", { type: "button", class: "button subtle", onClick: () => close(false) }, t("action.cancel")),
        ),
      ],
    });
    if (go) await this.signIn(null, { resume: operation?.kind === "rename" ? null : operation });
    else if (!this.auth.signedIn) this.renderSignedOut({ focusButton: true });
  }
}

function fatal(message, details = []) {
  app.replaceChildren(
    h("section", { class: "card", role: "alert" }, h("h2", {}, t("error.fatal.title")), h("p", {}, message), details.length ? h("p", { class: "hint" }, details.join(" ")) : null),
  );
  app.setAttribute("aria-busy", "false");
  document.documentElement.dataset.ready = "failed";
}

async function main() {
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    fatal(t("error.config"), [String(error.message ?? error)]);
    return;
  }
  const page = new Page(config);
  document.getElementById("sign-out").addEventListener("click", (event) => {
    event.currentTarget.disabled = true;
    page.auth.signOut();
  });
  let resume = null;
  let connectCallback = null;
  if (isConnectCallback(location.href)) {
    connectCallback = takeConnectCallback(location.href);
  } else if (Auth.isCallback(location.href)) {
    try {
      resume = await page.auth.handleCallback(location.href);
    } catch (error) {
      page.renderSignedOut();
      page.fail(error);
      return;
    }
  }
  if (!page.auth.signedIn) {
    page.renderSignedOut();
    if (connectCallback) notify(t("connected.error.signed_out"), { kind: "warning", title: t("connected.error.title") });
    return;
  }
  page.connectedShown = Boolean(connectCallback) || resume?.kind === "connect" || resume?.kind === "disconnect";
  try {
    await page.reload();
  } catch (error) {
    if (error instanceof ApiError && (error.kind === "signed_out" || error.status === 401)) {
      page.auth.forget();
      page.renderSignedOut();
      notify(t("error.signed_out"), { kind: "warning", title: t("error.signed_out.title") });
      return;
    }
    fatal(describe(error).message, describe(error).details);
    return;
  }
  if (connectCallback) {
    await page.connectReturned(connectCallback);
  } else if (resume) {
    await page.perform(resume, null, { note: t("reauth.resuming", { action: operationLabel(resume) }) });
  } else {
    focus(document.getElementById("page-title"));
  }
}

// Never a blank screen: anything unexpected becomes a message.
window.addEventListener("unhandledrejection", (event) => {
  const { title, message, details } = describe(event.reason);
  notify(message, { kind: "error", title, details });
});
window.addEventListener("error", (event) => {
  notify(t("error.unexpected"), { kind: "error", title: t("error.unexpected.title"), details: [String(event.message)] });
});

main();
