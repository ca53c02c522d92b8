// Connected accounts: list the user's accounts at other providers, connect new ones, disconnect them.
//
// Connecting is a round trip through the provider, like signing in: POST …/connect (with a PKCE challenge and a
// state of our own) answers a ticket and a connect_uri; the browser goes there, signs in at the provider, and
// comes back to this page (its own callback, the one it signs in with) with `?connect_code=…&state=…` or
// `?error=…&state=…`. POST …/complete then stores the account. What the round trip needs to finish (the
// auth_session, the PKCE verifier, the state) waits in sessionStorage.
//
// The sign-in callback uses `code`/`state` on the same URL: a return with `connect_code`, or an error whose state
// is the one a connect request here started, belongs to this module, every other one to `auth.js`.

import { ApiError } from "./api.js";
import { randomString, s256 } from "./auth.js";
import { formatDate, t } from "./i18n.js";
import { confirmDialog, h, uid } from "./ui.js";

const PENDING = "myaccount.account.connect";

function read() {
  try {
    return JSON.parse(sessionStorage.getItem(PENDING) ?? "null");
  } catch {
    return null;
  }
}

function write(value) {
  if (value === null) sessionStorage.removeItem(PENDING);
  else sessionStorage.setItem(PENDING, JSON.stringify(value));
}

/** True when the URL is the provider's answer to a connect request (not a sign-in). */
export function isConnectCallback(url) {
  const query = new URL(url).searchParams;
  if (query.has("connect_code")) return true;
  if (!query.has("state") || !query.has("error")) return false;
  const pending = read();
  return Boolean(pending && pending.state === query.get("state"));
}

/** Take the answer out of the address bar and the pending request out of storage: {query, pending}. */
export function takeConnectCallback(url) {
  const params = new URL(url).searchParams;
  const query = {};
  for (const key of ["connect_code", "state", "error", "error_description"]) {
    if (params.has(key)) query[key] = params.get(key);
  }
  const pending = read();
  write(null);
  history.replaceState(null, "", location.pathname); // the connect_code must not stay in the address bar
  return { query, pending };
}

/** Open a connect request for `connection` and go to the provider (this page is left). */
export async function startConnect(page, connection) {
  const verifier = randomString(48);
  const state = randomString(24);
  const redirectUri = page.auth.redirectUri;
  const started = await page.api.connect({
    connection,
    redirect_uri: redirectUri,
    state,
    code_challenge: await s256(verifier),
    code_challenge_method: "S256",
  });
  const ticket = started?.connect_params?.ticket;
  if (!started?.auth_session || !started?.connect_uri || !ticket) throw new ApiError({ status: 201, kind: "no_location" });
  write({ auth_session: started.auth_session, verifier, state, connection, redirect_uri: redirectUri });
  const target = new URL(started.connect_uri);
  target.searchParams.set("ticket", ticket);
  location.assign(target.toString());
}

/**
 * Finish a connect request the provider answered. Resolves {kind: "connected" | "again" | "failed", …}: what the
 * page should say. Errors the API answers (other than the expected ones) are thrown.
 */
export async function finishConnect(page, { query, pending }) {
  if (!pending || pending.state !== query.state) return { kind: "failed", message: t("connected.error.state") };
  const name = pending.connection;
  if (query.error) {
    const message = query.error === "access_denied" ? t("connected.error.denied", { name }) : t("connected.error.failed", { name });
    const details = query.error_description ? [query.error_description] : [query.error];
    return { kind: "failed", message, details, connection: name };
  }
  try {
    await page.api.completeConnect({
      auth_session: pending.auth_session,
      connect_code: query.connect_code,
      redirect_uri: pending.redirect_uri,
      code_verifier: pending.verifier,
    });
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) return { kind: "connected", name }; // completed already
    if (error instanceof ApiError && error.status === 400 && error.problemAt("/auth_session")) {
      return { kind: "again", message: t("connected.error.expired", { name }), connection: name };
    }
    throw error;
  }
  return { kind: "connected", name };
}

function fact(label, value) {
  return h(
    "li",
    { class: "fact" },
    h("span", { class: "fact-label" }, `${label}${t("fact.separator")}`),
    h("span", { class: "fact-value" }, value),
  );
}

function accountRow(ctx, account) {
  const nameId = uid("connected-name");
  const scopes = Array.isArray(account.scopes) && account.scopes.length ? account.scopes.join(", ") : t("connected.no_scopes");
  const items = [fact(t("connected.scopes"), scopes), fact(t("connected.since"), formatDate(account.created_at))];
  if (account.expires_at) items.push(fact(t("connected.expires"), formatDate(account.expires_at)));
  const remove = h(
    "button",
    { type: "button", class: "button danger-subtle", "aria-describedby": nameId, dataset: { action: "disconnect" } },
    t("connected.disconnect"),
  );
  remove.addEventListener("click", async () => {
    const name = account.connection;
    const confirmed = await confirmDialog({
      title: t("connected.disconnect.title", { name }),
      message: t("connected.disconnect.message", { name }),
      confirmLabel: t("connected.disconnect.confirm"),
      returnFocus: remove,
    });
    if (confirmed) await ctx.perform({ kind: "disconnect", id: account.id, name }, remove);
  });
  return h(
    "li",
    { class: "method connected-account", dataset: { accountId: account.id, connection: account.connection } },
    h("img", { class: "method-icon", src: `${ctx.iconBase}/key.svg`, alt: "", width: 40, height: 40 }),
    h(
      "div",
      { class: "method-main" },
      h("h3", { class: "method-name connected-name", id: nameId }, account.connection),
      h("ul", { class: "method-facts" }, items),
    ),
    h("div", { class: "method-actions" }, remove),
  );
}

/** The "Connected accounts" card: a button to show them until `shown`; `connections` null: couldn't be loaded. */
export function renderConnected(ctx, { shown, connections, accounts }) {
  const section = h(
    "section",
    { class: "card", id: "connected", "aria-labelledby": "connected-title" },
    h("h2", { id: "connected-title" }, t("connected.title")),
    h("p", { class: "card-lead" }, t("connected.lead")),
  );
  if (!shown) {
    const button = h("button", { type: "button", class: "button subtle", id: "show-connected" }, t("connected.show"));
    button.addEventListener("click", () => ctx.showConnected(button));
    section.append(button);
    return section;
  }
  if (connections === null) {
    section.append(h("p", { class: "empty", id: "connected-list" }, t("connected.unavailable")));
    return section;
  }
  if (!connections.length && !accounts.length) {
    section.append(h("p", { class: "empty", id: "connected-list" }, t("connected.none_configured")));
    return section;
  }
  section.append(
    accounts.length
      ? h("ul", { class: "methods", id: "connected-list" }, accounts.map((a) => accountRow(ctx, a)))
      : h("p", { class: "empty", id: "connected-list" }, t("connected.empty")),
  );
  const connected = new Set(accounts.map((a) => a.connection));
  const available = connections.filter((c) => !connected.has(c.name));
  if (available.length) {
    section.append(
      h("h3", { class: "connect-title", id: "connect-title" }, t("connected.available")),
      h(
        "div",
        { class: "connect-options", id: "connect-options", role: "group", "aria-labelledby": "connect-title" },
        available.map((c) => {
          const button = h("button", { type: "button", class: "button primary", dataset: { connect: c.name } }, t("connected.connect", { name: c.name }));
          button.addEventListener("click", () => ctx.perform({ kind: "connect", connection: c.name }, button));
          return button;
        }),
      ),
    );
  }
  return section;
}
