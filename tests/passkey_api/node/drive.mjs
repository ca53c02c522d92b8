// Drives @auth0/auth0-auth-js's passkey client (AuthClient.passkey) against a MyAccount test server.
//
// Usage: node drive.mjs '{"domain": "localhost:PORT", "serverUrl": "http://127.0.0.1:PORT", "clientId": …,
//                         "clientSecret": …}'
// Then one JSON command per line on stdin, one JSON answer per line on stdout:
//   {"op": "register", "options": {…}}   → authClient.passkey.register(options)
//   {"op": "challenge", "options": {…}}  → authClient.passkey.challenge(options)
//   {"op": "token", "options": {…}}      → authClient.passkey.getTokenByPasskey(options)
// Answers are {"ok": true, "result": …, "requests": […]} or {"ok": false, "error": {…}, "requests": […]}, where
// `requests` lists what the SDK sent (method, URL, headers, body) so the test can check the wire format.
//
// The SDK only speaks https://${domain}. The test server serves plain HTTP behind that public https origin, the
// way a TLS-terminating proxy would; `customFetch` below plays the proxy: it forwards https://${domain}/… to the
// server unchanged but for the scheme and address, and refuses any other destination.
import { createInterface } from "node:readline";
import { AuthClient } from "@auth0/auth0-auth-js";

const config = JSON.parse(process.argv[2]);
let requests = [];

function bodyText(body) {
  if (body == null) return null;
  if (typeof body === "string") return body;
  if (body instanceof URLSearchParams) return body.toString();
  return `<${Object.prototype.toString.call(body)}>`;
}

async function customFetch(input, init = {}) {
  const original = input instanceof Request ? input.url : String(input);
  const url = new URL(original);
  if (url.protocol !== "https:" || url.host !== config.domain) {
    throw new Error(`the SDK asked for ${original}, outside https://${config.domain}`);
  }
  const target = new URL(url.pathname + url.search, config.serverUrl);
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  requests.push({
    method: init.method ?? (input instanceof Request ? input.method : "GET"),
    url: original,
    headers: Object.fromEntries(headers),
    body: bodyText(init.body),
  });
  return fetch(input instanceof Request ? new Request(target, input) : target, init);
}

const auth = new AuthClient({
  domain: config.domain,
  clientId: config.clientId,
  clientSecret: config.clientSecret,
  customFetch,
});

const operations = {
  register: (options) => auth.passkey.register(options),
  challenge: (options) => auth.passkey.challenge(options),
  token: (options) => auth.passkey.getTokenByPasskey(options),
};

function describe(error) {
  return {
    name: error?.name,
    code: error?.code,
    message: error?.message,
    statusCode: error?.statusCode,
    cause: error?.cause,
  };
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
