// Sign-in for the page: the authorization code flow with PKCE (RFC 7636), refresh tokens with rotation, sign-out.
//
// Tokens live in sessionStorage: they survive a reload and the round trip to the login page in this tab, and
// vanish with it. (Auth0's SPA SDK keeps them in memory by default and falls back to a hidden iframe, which a
// server that forbids framing, as ours does, cannot serve.) The refresh token rotates at every use.
//
// When config.json says `"dpop": true`, the tokens are DPoP-bound (RFC 9449, see dpop.js): every token request
// carries a proof, and `send` presents the access token as `Authorization: DPoP` with a proof per call.

import { Dpop, dpopSupported } from "./dpop.js";

const TOKENS = "myaccount.account.tokens";
const TRANSACTION = "myaccount.account.transaction";
const EARLY_SECONDS = 30; // refresh this long before the access token expires (by our clock)

export class AuthError extends Error {
  constructor(code, description) {
    super(description || code);
    this.code = code;
    this.description = description || "";
  }
}

export function randomString(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function s256(verifier) {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
}

function read(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key) ?? "null");
  } catch {
    return null;
  }
}

function write(key, value) {
  if (value === null || value === undefined) sessionStorage.removeItem(key);
  else sessionStorage.setItem(key, JSON.stringify(value));
}

/** The claims of a JWT, unverified: for display only (the API verifies the access token itself). */
export function decodeJwt(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(payload), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join(""),
    );
    return JSON.parse(json);
  } catch {
    return {};
  }
}

export class Auth {
  constructor(config) {
    this.config = config;
    this.tokens = read(TOKENS);
    this.refreshing = null;
    // Without WebCrypto or IndexedDB the page asks for plain bearer tokens; an API that insists on DPoP then
    // refuses them, and the page says so.
    this.dpop = config.dpop === true && dpopSupported() ? new Dpop(config.client_id) : null;
  }

  get signedIn() {
    return Boolean(this.tokens?.access_token);
  }

  get user() {
    return this.tokens?.id_token ? decodeJwt(this.tokens.id_token) : {};
  }

  get redirectUri() {
    return this.config.redirect_uri || `${location.origin}${location.pathname}`;
  }

  /**
   * Go to the login page. `prompt: "login"` forces a fresh login (recent authentication); `resume` is an
   * operation to carry out when the user comes back.
   */
  async signIn({ prompt, resume, loginHint } = {}) {
    const verifier = randomString(48);
    const state = randomString(24);
    const nonce = randomString(24);
    write(TRANSACTION, { state, verifier, nonce, redirect_uri: this.redirectUri, resume: resume ?? null });
    const params = new URLSearchParams({
      response_type: "code",
      client_id: this.config.client_id,
      redirect_uri: this.redirectUri,
      scope: this.config.scope,
      audience: this.config.audience,
      state,
      nonce,
      code_challenge: await s256(verifier),
      code_challenge_method: "S256",
    });
    if (prompt) params.set("prompt", prompt);
    if (loginHint) params.set("login_hint", loginHint);
    // RFC 9449 §10: the code may be redeemed only with a proof from this key.
    if (this.dpop) params.set("dpop_jkt", await this.dpop.thumbprint());
    location.assign(`${this.config.origin}/authorize?${params}`);
  }

  /** True when the URL is the answer from /authorize (code or error, with state); not a connect_code (connected.js). */
  static isCallback(url) {
    const query = new URL(url).searchParams;
    if (query.has("connect_code")) return false;
    return query.has("state") && (query.has("code") || query.has("error"));
  }

  /** Finish a sign-in: check state, swap the code for tokens. Returns the operation to resume, if any. */
  async handleCallback(url) {
    const query = new URL(url).searchParams;
    const transaction = read(TRANSACTION);
    write(TRANSACTION, null);
    history.replaceState(null, "", location.pathname); // the code must not stay in the address bar
    if (!transaction || transaction.state !== query.get("state")) {
      throw new AuthError("state_mismatch");
    }
    if (query.has("error")) {
      throw Object.assign(new AuthError(query.get("error"), query.get("error_description")), {
        resume: transaction.resume,
      });
    }
    const body = await this.tokenRequest({
      grant_type: "authorization_code",
      code: query.get("code"),
      code_verifier: transaction.verifier,
      redirect_uri: transaction.redirect_uri,
    });
    const claims = body.id_token ? decodeJwt(body.id_token) : {};
    if (body.id_token && claims.nonce !== transaction.nonce) throw new AuthError("nonce_mismatch");
    this.store(body);
    return transaction.resume;
  }

  async tokenRequest(params) {
    const url = `${this.config.origin}/oauth/token`;
    const init = {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({ client_id: this.config.client_id, ...params }),
    };
    let response;
    try {
      response = await (this.dpop ? this.dpop.fetch(url, init) : fetch(url, init));
    } catch {
      throw new AuthError("network");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new AuthError(body.error || "server_error", body.error_description);
    return body;
  }

  store(body) {
    this.tokens = {
      access_token: body.access_token,
      refresh_token: body.refresh_token ?? this.tokens?.refresh_token ?? null,
      id_token: body.id_token ?? this.tokens?.id_token ?? null,
      scope: body.scope ?? "",
      token_type: body.token_type ?? "Bearer",
      expires_at: Date.now() + (Number(body.expires_in) || 0) * 1000,
    };
    write(TOKENS, this.tokens);
  }

  forget() {
    this.tokens = null;
    write(TOKENS, null);
  }

  /** A usable access token (refreshed when it is about to expire), or null when the user must sign in again. */
  async accessToken() {
    if (!this.tokens) return null;
    if (Date.now() < this.tokens.expires_at - EARLY_SECONDS * 1000) return this.tokens.access_token;
    return (await this.refresh()) ? this.tokens.access_token : null;
  }

  /** `fetch` with the access token `token`: DPoP-bound tokens with a proof, others as Bearer (RFC 6750). */
  send(url, init, token) {
    if (this.dpop && /^dpop$/i.test(this.tokens?.token_type ?? "")) {
      return this.dpop.fetch(url, init, { accessToken: token });
    }
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${token}`);
    return fetch(url, { ...init, headers });
  }

  /**
   * Use the refresh token once. Concurrent callers share one request: a rotated refresh token used twice
   * counts as reuse and would revoke the whole family.
   */
  refresh() {
    if (!this.tokens?.refresh_token) return Promise.resolve(false);
    if (!this.refreshing) {
      const token = this.tokens.refresh_token;
      this.refreshing = this.tokenRequest({ grant_type: "refresh_token", refresh_token: token })
        .then((body) => {
          this.store(body);
          return true;
        })
        .catch((error) => {
          if (error.code === "network") throw error;
          this.forget();
          return false;
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  /** Revoke the refresh token, forget the tokens, and end the login session at the server. */
  async signOut() {
    const refreshToken = this.tokens?.refresh_token;
    this.forget();
    if (refreshToken) {
      try {
        await fetch(`${this.config.origin}/oauth/revoke`, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ client_id: this.config.client_id, token: refreshToken }),
        });
      } catch {
        // The session still ends below; an unrevoked token expires on its own.
      }
    }
    if (this.dpop) {
      try {
        await this.dpop.forget(); // tokens bound to it die with it; the next sign-in makes a new key
      } catch {
        // Nothing more to do: the tokens are forgotten already.
      }
    }
    const params = new URLSearchParams({ client_id: this.config.client_id, returnTo: this.redirectUri });
    location.assign(`${this.config.origin}/v2/logout?${params}`);
  }
}
