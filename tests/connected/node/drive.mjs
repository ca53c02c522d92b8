// Drives @auth0/auth0-spa-js's MyAccountApiClient (2.28.3) against a MyAccount test server, from Node.
//
// Usage: node drive.mjs '{"apiBase": "http://localhost:PORT/me/", "token": "<My Account access token>"}'
// Then one JSON command per line on stdin, one JSON answer per line on stdout:
//   {"op": "connect", "options": {…}}    → myAccount.connectAccount(options)     (the SDK's method)
//   {"op": "complete", "options": {…}}   → myAccount.completeAccount(options)    (the SDK's method)
//   {"op": "list", "options": {…}}       → GET  …/v1/connected-accounts/accounts
//   {"op": "connections"}                → GET  …/v1/connected-accounts/connections
//   {"op": "delete", "options": {"id"}}  → DELETE …/v1/connected-accounts/accounts/{id}
// spa-js 2.28.3's MyAccountApiClient has no list or delete method for connected accounts, so those three go
// through the same fetcher an app gets from `auth0.createFetcher()`, and their answers through the client's own
// response handling (`_handleResponse`), which raises the SDK's MyAccountApiError on any non-2xx answer.
//
// Answers are {"ok": true, "result": …, "requests": […]} or {"ok": false, "error": {…}, "requests": […]}, where
// `requests` lists what was sent (method, URL, headers, body, the scopes the SDK asked the fetcher for) and the
// status and headers of the response.
//
// The fetcher is the stub the wire notes describe (§10): `fetchWithAuth(url, init)` adds the bearer token and
// calls Node's fetch. Auth0Client, which needs a DOM, is not involved.
import { createInterface } from "node:readline";
import spa from "@auth0/auth0-spa-js";

const { MyAccountApiClient, MyAccountApiError } = spa;
const config = JSON.parse(process.argv[2]);
let requests = [];

const fetcher = {
  async fetchWithAuth(url, init = {}, authParams = {}) {
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${config.token}`);
    const sent = {
      method: init.method ?? "GET",
      url,
      headers: Object.fromEntries(headers),
      body: typeof init.body === "string" ? init.body : null,
      scope: authParams.scope ?? null,
    };
    requests.push(sent);
    const response = await fetch(url, { ...init, headers });
    // What came back, for the test's contract check (the SDK reads the body itself).
    sent.response = { status: response.status, headers: Object.fromEntries(response.headers) };
    return response;
  },
};

const myAccount = new MyAccountApiClient(fetcher, config.apiBase);

async function list(options) {
  const query = new URLSearchParams();
  for (const name of [].concat(options.connection ?? [])) query.append("connection", name);
  if (options.from) query.set("from", options.from);
  if (options.take) query.set("take", String(options.take));
  const suffix = query.toString() ? `?${query}` : "";
  const url = `${config.apiBase}v1/connected-accounts/accounts${suffix}`;
  const response = await fetcher.fetchWithAuth(url, { method: "GET" }, { scope: ["read:me:connected_accounts"] });
  return myAccount._handleResponse(response);
}

async function connections() {
  const url = `${config.apiBase}v1/connected-accounts/connections`;
  const response = await fetcher.fetchWithAuth(url, { method: "GET" }, { scope: ["read:me:connected_accounts"] });
  return myAccount._handleResponse(response);
}

async function remove(options) {
  const url = `${config.apiBase}v1/connected-accounts/accounts/${encodeURIComponent(options.id)}`;
  const response = await fetcher.fetchWithAuth(url, { method: "DELETE" }, { scope: ["delete:me:connected_accounts"] });
  // As the SDK's deleteAuthenticationMethod: a 2xx has no body; anything else goes through its error handling.
  if (!response.ok) await myAccount._handleResponse(response);
  return { status: response.status };
}

const operations = {
  connect: (options) => myAccount.connectAccount(options),
  complete: (options) => myAccount.completeAccount(options),
  list,
  connections,
  delete: remove,
};

function describe(error) {
  if (error instanceof MyAccountApiError) {
    return {
      name: error.name,
      type: error.type,
      status: error.status,
      title: error.title,
      detail: error.detail,
      validation_errors: error.validation_errors ?? null,
    };
  }
  return { name: error?.name, message: error?.message };
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  requests = [];
  let answer;
  try {
    const operation = operations[command.op];
    if (!operation) throw new Error(`unknown op ${command.op}`);
    answer = { ok: true, result: await operation(command.options ?? {}) };
  } catch (error) {
    answer = { ok: false, error: describe(error) };
  }
  process.stdout.write(JSON.stringify({ ...answer, requests }) + "\n");
}
