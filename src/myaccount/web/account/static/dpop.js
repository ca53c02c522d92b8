// DPoP (RFC 9449): when the tenant asks for it, the page's tokens are bound to a key that only this browser
// holds, so a stolen access or refresh token is useless elsewhere.
//
// The key is an ECDSA P-256 pair made by WebCrypto as non-extractable: script can sign with it but never read
// the private half. IndexedDB keeps the CryptoKey objects themselves (structured clone), so the key survives a
// reload and the round trip to the login page, exactly like the tokens it binds; one key per application,
// shared by this origin's tabs, dropped at sign-out.
//
// Every request to the token endpoint carries a proof (`DPoP` header: a JWT of type dpop+jwt naming the method
// and URL); every API call also sends `Authorization: DPoP <token>` with a proof holding the token's hash
// (`ath`). A server that wants nonces answers 400 (token endpoint) or 401 (API) `use_dpop_nonce` with a
// `DPoP-Nonce` header; the nonce is remembered per origin, and the request is tried once more with it.

const DATABASE = "myaccount.account";
const STORE = "dpop-keys";
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING = { name: "ECDSA", hash: "SHA-256" };

/** True when this browser can keep a non-extractable key (WebCrypto and IndexedDB). */
export function dpopSupported() {
  return typeof indexedDB !== "undefined" && typeof crypto !== "undefined" && Boolean(crypto.subtle);
}

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function encodeJson(value) {
  return base64url(new TextEncoder().encode(JSON.stringify(value)));
}

async function sha256(text) {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** `htu`: the request URL without query and fragment (RFC 9449 §4.2). */
export function htu(url) {
  const parsed = new URL(url, location.href);
  parsed.search = "";
  parsed.hash = "";
  return parsed.href;
}

// --- IndexedDB, promisified ---------------------------------------------------------------------------------
function openDatabase() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** One request in its own transaction: resolves with its result once the transaction has committed. */
async function withStore(mode, work) {
  const db = await openDatabase();
  try {
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const request = work(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = () => reject(request.error ?? transaction.error);
      transaction.onabort = () => reject(request.error ?? transaction.error);
    });
  } finally {
    db.close();
  }
}

/**
 * This application's key pair: the stored one, or a new one. Two tabs starting at once both make a key, but
 * `add` lets only the first one in, and the other tab takes that one.
 */
async function loadOrCreateKeyPair(name) {
  const stored = await withStore("readonly", (store) => store.get(name));
  if (stored?.privateKey && stored?.publicKey) return stored;
  const created = await crypto.subtle.generateKey(ALGORITHM, false, ["sign"]);
  try {
    const pair = { privateKey: created.privateKey, publicKey: created.publicKey };
    await withStore("readwrite", (store) => store.add(pair, name));
    return created;
  } catch (error) {
    if (error?.name !== "ConstraintError") throw error;
    return withStore("readonly", (store) => store.get(name));
  }
}

/** Whether a response asks for the request again with the nonce it carries (RFC 9449 §8, §9). */
async function nonceRequested(response) {
  if (!response.headers.get("DPoP-Nonce")) return false;
  if (response.status === 401) {
    return /\b(use_dpop_nonce|invalid_dpop_nonce)\b/.test(response.headers.get("WWW-Authenticate") ?? "");
  }
  if (response.status === 400) {
    const body = await response.clone().json().catch(() => ({}));
    return body?.error === "use_dpop_nonce";
  }
  return false;
}

export class Dpop {
  /** `name` tells keys apart (the application's client_id): each application binds to its own key. */
  constructor(name) {
    this.name = `dpop:${name}`;
    this.keyPair = null; // a promise, so that concurrent first uses share one key
    this.jwk = null;
    this.nonces = new Map(); // origin -> the latest DPoP-Nonce it gave
  }

  keys() {
    if (!this.keyPair) {
      this.keyPair = loadOrCreateKeyPair(this.name).catch((error) => {
        this.keyPair = null;
        throw error;
      });
    }
    return this.keyPair;
  }

  /** The public key as a JWK with only its required members (RFC 7638 order for the thumbprint). */
  async publicJwk() {
    if (!this.jwk) {
      const { publicKey } = await this.keys();
      const { crv, kty, x, y } = await crypto.subtle.exportKey("jwk", publicKey);
      this.jwk = { crv, kty, x, y };
    }
    return this.jwk;
  }

  /** RFC 7638 thumbprint of the key: the `jkt` the server binds tokens to (and `dpop_jkt` at /authorize). */
  async thumbprint() {
    return sha256(JSON.stringify(await this.publicJwk()));
  }

  /** A proof for one request; with `accessToken`, bound to it by `ath`. */
  async proof(method, url, { accessToken } = {}) {
    const { privateKey } = await this.keys();
    const header = { typ: "dpop+jwt", alg: "ES256", jwk: await this.publicJwk() };
    const claims = {
      jti: base64url(crypto.getRandomValues(new Uint8Array(16))),
      htm: method.toUpperCase(),
      htu: htu(url),
      iat: Math.floor(Date.now() / 1000),
    };
    if (accessToken) claims.ath = await sha256(accessToken);
    const nonce = this.nonces.get(new URL(url, location.href).origin);
    if (nonce) claims.nonce = nonce;
    const input = `${encodeJson(header)}.${encodeJson(claims)}`;
    // WebCrypto's ECDSA signature is r ‖ s, which is exactly JWS's ES256 format (RFC 7518 §3.4).
    const signature = await crypto.subtle.sign(SIGNING, privateKey, new TextEncoder().encode(input));
    return `${input}.${base64url(signature)}`;
  }

  remember(url, response) {
    const nonce = response.headers.get("DPoP-Nonce");
    if (nonce) this.nonces.set(new URL(url, location.href).origin, nonce);
  }

  /**
   * `fetch` with a fresh proof (and `Authorization: DPoP` when given a token), tried once more when the server
   * asks for a nonce. `init.body` must be reusable (a string or URLSearchParams), as the page's always are.
   */
  async fetch(url, init = {}, { accessToken } = {}) {
    const method = (init.method || "GET").toUpperCase();
    for (let attempt = 0; ; attempt += 1) {
      const headers = new Headers(init.headers);
      headers.set("DPoP", await this.proof(method, url, { accessToken }));
      if (accessToken) headers.set("Authorization", `DPoP ${accessToken}`);
      const response = await fetch(url, { ...init, method, headers });
      this.remember(url, response);
      if (attempt > 0 || !(await nonceRequested(response))) return response;
    }
  }

  /** Drop the key (at sign-out): tokens bound to it become worthless, and the next sign-in makes a new one. */
  async forget() {
    this.keyPair = null;
    this.jwk = null;
    this.nonces.clear();
    await withStore("readwrite", (store) => store.delete(this.name));
  }
}
