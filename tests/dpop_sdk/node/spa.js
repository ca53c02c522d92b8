// A single-page application on Auth0's SPA SDK (@auth0/auth0-spa-js), written as any team would write one, with
// DPoP switched on (`useDpop: true`). It signs in at the identity server with the authorization code flow and
// PKCE, then lists the user's authentication methods through the SDK's own My Account client: a Fetcher that
// sends `Authorization: DPoP` with a proof and, told `use_dpop_nonce`, tries once more with the server's nonce.
//
// Served by tests/dpop_sdk/test_spa_sdk_dpop.py next to the SDK's ES module build (as ./sdk.js) and a
// ./config.json naming the server; the test reads the outcome from <html data-state> and #result.

import { Auth0Client } from "./sdk.js";

const result = document.getElementById("result");

function finish(state, value) {
  result.textContent = typeof value === "string" ? value : JSON.stringify(value);
  document.documentElement.dataset.state = state;
}

async function main() {
  const config = await (await fetch("./config.json", { cache: "no-store" })).json();
  const auth0 = new Auth0Client({
    domain: config.domain, // "http://localhost:PORT": the SDK keeps an explicit scheme
    clientId: config.client_id,
    useDpop: true,
    useRefreshTokens: true,
    authorizationParams: { redirect_uri: config.redirect_uri, audience: config.audience, scope: config.scope },
  });
  const query = new URLSearchParams(location.search);
  if (query.has("code") && query.has("state")) {
    await auth0.handleRedirectCallback();
    history.replaceState(null, "", location.pathname);
    const methods = await auth0.myAccount.getAuthenticationMethods();
    const token = await auth0.getTokenSilently({ detailedResponse: true });
    finish("done", { methods, token_type: token.token_type, access_token: token.access_token });
    return;
  }
  const button = document.getElementById("login");
  button.addEventListener("click", () => {
    button.disabled = true;
    auth0.loginWithRedirect().catch((error) => finish("error", String(error)));
  });
  button.disabled = false;
  document.documentElement.dataset.state = "ready";
}

main().catch((error) => finish("error", `${error.name}: ${error.error ?? ""} ${error.message}`));
