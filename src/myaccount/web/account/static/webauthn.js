// navigator.credentials.create() with the API's JSON options, returning the JSON the API verifies.
// Browsers with WebAuthn Level 3 JSON support (parseCreationOptionsFromJSON, toJSON) need no glue; for the
// others the few binary fields are converted here.

function toBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const text = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function toBase64url(buffer) {
  let text = "";
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function webauthnSupported() {
  return typeof window.PublicKeyCredential === "function" && Boolean(navigator.credentials?.create);
}

function parseOptions(json) {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: toBytes(json.challenge),
    user: { ...json.user, id: toBytes(json.user.id) },
    excludeCredentials: (json.excludeCredentials ?? []).map((c) => ({ ...c, id: toBytes(c.id) })),
  };
}

function credentialJson(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const response = credential.response;
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    clientExtensionResults: credential.getClientExtensionResults?.() ?? {},
    response: {
      clientDataJSON: toBase64url(response.clientDataJSON),
      attestationObject: toBase64url(response.attestationObject),
      transports: response.getTransports?.() ?? [],
    },
  };
}

/** Create a passkey from `authn_params_public_key`; throws the browser's DOMException when it fails. */
export async function createPasskey(optionsJson) {
  const credential = await navigator.credentials.create({ publicKey: parseOptions(optionsJson) });
  if (!credential) throw new DOMException("No credential was created.", "NotAllowedError");
  return credentialJson(credential);
}
