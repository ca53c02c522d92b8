// What to tell people about a failure: every error the API, the token endpoint and WebAuthn can produce.

import { ApiError, INSUFFICIENT_SCOPE } from "./api.js";
import { AuthError } from "./auth.js";
import { has, t } from "./i18n.js";

/** {title, message, details[]} for `error`, in the page's language. The API's own detail is kept as detail. */
export function describe(error) {
  if (error instanceof ApiError) return describeApi(error);
  if (error instanceof AuthError) return describeAuth(error);
  if (error instanceof DOMException || error?.name?.endsWith?.("Error")) {
    const key = `webauthn.${error.name}`;
    if (error instanceof DOMException && has(key)) return { title: t("webauthn.title"), message: t(key), details: [] };
  }
  return { title: t("error.unexpected.title"), message: t("error.unexpected"), details: [String(error?.message ?? error)] };
}

function apiDetails(error) {
  const details = error.validationErrors.map((e) => e.detail).filter((d) => d && d !== error.detail);
  return error.detail ? [error.detail, ...details] : details;
}

function describeApi(error) {
  if (error.kind === "network") return { title: t("error.network.title"), message: t("error.network"), details: [] };
  if (error.kind === "signed_out") return { title: t("error.signed_out.title"), message: t("error.signed_out"), details: [] };
  if (error.kind === "no_location") return { title: t("error.unexpected.title"), message: t("error.no_location"), details: [] };
  const { status } = error;
  if (status === 400) return { title: t("error.400.title"), message: t("error.400"), details: apiDetails(error) };
  if (status === 401) return { title: t("error.signed_out.title"), message: t("error.signed_out"), details: [] };
  if (status === 403 && error.needsRecentLogin) {
    return { title: t("reauth.title"), message: t("reauth.message"), details: [] };
  }
  if (status === 403 && error.code === INSUFFICIENT_SCOPE) {
    return { title: t("error.scope.title"), message: t("error.scope"), details: apiDetails(error) };
  }
  if (status === 403) return { title: t("error.403.title"), message: t("error.403"), details: apiDetails(error) };
  if (status === 404) return { title: t("error.404.title"), message: t("error.404"), details: [] };
  if (status === 409) return { title: t("error.409.title"), message: t("error.409"), details: apiDetails(error) };
  if (status === 413 || status === 415) {
    return { title: t("error.request.title"), message: t("error.request", { status }), details: apiDetails(error) };
  }
  if (status === 429) {
    const message = error.retryAfter ? t("error.429.wait", { seconds: error.retryAfter }) : t("error.429");
    return { title: t("error.429.title"), message, details: [] };
  }
  if (status >= 500) return { title: t("error.5xx.title"), message: t("error.5xx", { status }), details: [] };
  return { title: t("error.unexpected.title"), message: t("error.status", { status }), details: apiDetails(error) };
}

function describeAuth(error) {
  const key = `auth.${error.code}`;
  const message = has(key) ? t(key) : t("auth.other");
  const details = error.description && error.description !== error.code ? [error.description] : [];
  return { title: t("auth.title"), message, details };
}
