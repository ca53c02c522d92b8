// Hosted login pages: passkey sign-in (button and autofill), passkey sign-up, passkey as a second factor,
// progressive passkey enrollment, and push-approval polling. Talks only to /u/* JSON endpoints of this
// login transaction, sending its CSRF token in a header.
const main = document.getElementById("main");
const state = main.dataset.state;
const csrf = main.dataset.csrf;
const errorBox = document.getElementById("flow-error");

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
  errorBox.focus?.();
}

async function post(path, body) {
  const response = await fetch(`${path}?state=${encodeURIComponent(state)}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-csrf-token": csrf },
    body: JSON.stringify(body ?? {}),
    credentials: "same-origin",
  });
  let data = {};
  try { data = await response.json(); } catch { /* an empty or non-JSON answer */ }
  if (!response.ok) throw new Error(data.error || `The server answered ${response.status}.`);
  return data;
}

function go(answer) {
  if (answer.redirect) window.location.assign(answer.redirect);
}

const supported = typeof window.PublicKeyCredential !== "undefined";

async function signInWithPasskey(mediation, signal) {
  const { publicKey } = await post("/u/login/passkey/options");
  const options = PublicKeyCredential.parseRequestOptionsFromJSON(publicKey);
  const credential = await navigator.credentials.get({ publicKey: options, mediation, signal });
  if (!credential) return;
  go(await post("/u/login/passkey", { credential: credential.toJSON() }));
}

if (main.dataset.page === "login" && supported) {
  let autofill = null;
  // Passkey autofill: the browser offers passkeys in the username field's suggestions (conditional mediation).
  if (await PublicKeyCredential.isConditionalMediationAvailable?.()) {
    autofill = new AbortController();
    signInWithPasskey("conditional", autofill.signal).catch((error) => {
      if (error.name !== "AbortError") showError(error.message);
    });
  }
  document.getElementById("passkey-button")?.addEventListener("click", async () => {
    autofill?.abort();
    try {
      await signInWithPasskey("optional");
    } catch (error) {
      showError(error.name === "NotAllowedError" ? "The passkey request was cancelled." : error.message);
    }
  });
}

if (main.dataset.page === "signup") {
  document.getElementById("signup-form")?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const email = document.getElementById("signup-email").value.trim();
    const name = document.getElementById("signup-name").value.trim();
    try {
      const { publicKey } = await post("/u/signup/options", { email, name: name || null });
      const credential = await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(publicKey),
      });
      go(await post("/u/signup/passkey", { credential: credential.toJSON() }));
    } catch (error) {
      showError(error.name === "NotAllowedError" ? "The passkey was not created." : error.message);
    }
  });
}

if (main.dataset.page === "passkey-enroll") {
  document.getElementById("passkey-create")?.addEventListener("click", async () => {
    try {
      const { publicKey } = await post("/u/passkey-enroll/options");
      const credential = await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(publicKey),
      });
      go(await post("/u/passkey-enroll/complete", { credential: credential.toJSON() }));
    } catch (error) {
      showError(error.name === "NotAllowedError" ? "The passkey was not created." : error.message);
    }
  });
}

if (main.dataset.page === "mfa") {
  const factor = main.dataset.factor;
  document.getElementById("webauthn-button")?.addEventListener("click", async () => {
    try {
      const { publicKey } = await post("/u/mfa/webauthn/options");
      const credential = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(publicKey),
      });
      go(await post("/u/mfa/webauthn", { credential: credential.toJSON() }));
    } catch (error) {
      showError(error.name === "NotAllowedError" ? "The request was cancelled." : error.message);
    }
  });
  if (factor === "push-notification") {
    const status = document.getElementById("push-status");
    const poll = async () => {
      const response = await fetch(`/u/mfa/push-status?state=${encodeURIComponent(state)}`);
      const { status: value } = await response.json();
      if (value === "approved") {
        document.getElementById("mfa-form").submit();
        return;
      }
      if (value !== "pending") {
        status.textContent = `The request was ${value}. Choose another method or try again.`;
        return;
      }
      setTimeout(poll, 1500);
    };
    setTimeout(poll, 1500);
  }
}
