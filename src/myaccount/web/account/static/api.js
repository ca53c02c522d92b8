// The My Account API (/me/v1) over fetch with the access token (Bearer, or DPoP with a proof: see `Auth.send`),
// as Auth0's SPA SDK calls it: enrollment answers 202 with a Location header, and the verify URL is
// `${Location}/verify`.

export const RECENT_AUTH_REQUIRED = "A0E-403-0010";
export const INSUFFICIENT_SCOPE = "A0E-403-0002";

/** An error answer of the API ({type, status, title, detail, validation_errors}) or a failure to reach it. */
export class ApiError extends Error {
  constructor({ status = 0, type = "", title = "", detail = "", validation_errors = [], retryAfter = null, kind = "" }) {
    super(detail || title || kind || `HTTP ${status}`);
    this.status = status;
    this.type = type;
    this.title = title;
    this.detail = detail;
    this.validationErrors = Array.isArray(validation_errors) ? validation_errors : [];
    this.retryAfter = retryAfter;
    // "network" (no answer), "signed_out" (no usable token), or "" (the API answered with an error)
    this.kind = kind;
  }

  get code() {
    return this.type.split("/").pop();
  }

  get needsRecentLogin() {
    return this.status === 403 && this.code === RECENT_AUTH_REQUIRED;
  }

  /** The validation error for a field (`pointer` such as "/otp_code"), if the API named it. */
  problemAt(pointer) {
    return this.validationErrors.find((e) => e.pointer === pointer || e.field === pointer.replace(/^\//, ""));
  }

  static async from(response) {
    const body = await response.json().catch(() => ({}));
    const retry = response.headers.get("retry-after");
    return new ApiError({
      status: response.status,
      type: typeof body.type === "string" ? body.type : "",
      title: typeof body.title === "string" ? body.title : "",
      detail: typeof body.detail === "string" ? body.detail : "",
      validation_errors: body.validation_errors,
      retryAfter: retry && /^\d+$/.test(retry) ? Number(retry) : null,
    });
  }
}

export class MyAccountApi {
  constructor(config, auth) {
    this.auth = auth;
    this.base = `${config.origin}/me/v1`;
  }

  methodUrl(id) {
    return `${this.base}/authentication-methods/${encodeURIComponent(id)}`;
  }

  /** One request; a 401 gets one retry with a refreshed token. Resolves {status, location, body}. */
  async request(method, url, body, { retried = false } = {}) {
    const token = await this.auth.accessToken();
    if (!token) throw new ApiError({ status: 401, kind: "signed_out" });
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await this.auth.send(url, init, token);
    } catch {
      throw new ApiError({ kind: "network" });
    }
    if (response.status === 401 && !retried) {
      // Expired (clocks differ) or revoked: refresh once, then give up and ask for a sign-in.
      if (await this.auth.refresh()) return this.request(method, url, body, { retried: true });
      throw new ApiError({ status: 401, kind: "signed_out" });
    }
    if (!response.ok) throw await ApiError.from(response);
    const payload = response.status === 204 ? null : await response.json().catch(() => null);
    return { status: response.status, location: response.headers.get("location"), body: payload };
  }

  async factors() {
    return (await this.request("GET", `${this.base}/factors`)).body.factors ?? [];
  }

  async methods() {
    return (await this.request("GET", `${this.base}/authentication-methods`)).body.authentication_methods ?? [];
  }

  /** Start an enrollment: resolves {location, body} (202 Accepted). */
  async enroll(body) {
    const { location, body: payload } = await this.request("POST", `${this.base}/authentication-methods`, body);
    if (!location) throw new ApiError({ status: 202, kind: "no_location" });
    return { location, body: payload };
  }

  /** Confirm an enrollment at `${location}/verify`: resolves the new method (201 Created). */
  async verify(location, body) {
    return (await this.request("POST", `${location}/verify`, body)).body;
  }

  async rename(id, name) {
    return (await this.request("PATCH", this.methodUrl(id), { name })).body;
  }

  async remove(id) {
    await this.request("DELETE", this.methodUrl(id));
  }

  // --- connected accounts ---------------------------------------------------------------------------------
  /** Every item of a paginated list (`next` is the cursor for `from`). */
  async list(path, key) {
    const items = [];
    let cursor = null;
    for (let page = 0; page < 50; page += 1) {
      const url = new URL(`${this.base}${path}`);
      if (cursor) url.searchParams.set("from", cursor);
      const { body } = await this.request("GET", url.toString());
      items.push(...(body?.[key] ?? []));
      cursor = body?.next;
      if (!cursor) break;
    }
    return items;
  }

  async connections() {
    return this.list("/connected-accounts/connections", "connections");
  }

  async connectedAccounts() {
    return this.list("/connected-accounts/accounts", "accounts");
  }

  /** Open a connect request: resolves {auth_session, connect_uri, connect_params: {ticket}, expires_in}. */
  async connect(body) {
    return (await this.request("POST", `${this.base}/connected-accounts/connect`, body)).body;
  }

  async completeConnect(body) {
    return (await this.request("POST", `${this.base}/connected-accounts/complete`, body)).body;
  }

  async disconnect(id) {
    await this.request("DELETE", `${this.base}/connected-accounts/accounts/${encodeURIComponent(id)}`);
  }
}
