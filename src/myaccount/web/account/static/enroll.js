// Enrollment flows, one per method type: start (POST, 202 + Location), then verify (POST {Location}/verify).
// Each flow throws what it cannot handle itself; the page turns that into a message, a sign-in, or a retry.

import { ApiError } from "./api.js";
import { t } from "./i18n.js";
import { displayName } from "./methods.js";
import { checkPassword } from "./password.js";
import { qrSvg } from "./qr.js";
import { busy, field, h, openDialog, uid } from "./ui.js";
import { createPasskey } from "./webauthn.js";

/** An error that should resume as `operation` after the user signs in again. */
function resumable(error, operation) {
  if (error && typeof error === "object") error.resume = operation;
  return error;
}

/** The message for a failed verify shown inside a dialog, or null when the dialog cannot handle the error. */
function inlineProblem(error, pointer) {
  if (!(error instanceof ApiError) || error.status !== 400) return null;
  return error.problemAt(pointer)?.detail || error.detail || t("error.400");
}

function groups(text, size = 4) {
  return text.replace(/\s+/g, "").match(new RegExp(`.{1,${size}}`, "g"))?.join(" ") ?? text;
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    const previous = button.textContent;
    button.textContent = t("action.copied");
    setTimeout(() => {
      button.textContent = previous;
    }, 2000);
  } catch {
    button.textContent = t("action.copy_failed");
  }
}

/** A form asking for a one-time code; `verify(code)` resolves the method or throws. */
function codeForm({ label, hint, verify, onDone, onFail, submitLabel = t("action.verify"), extra = [] }) {
  const code = field({
    label,
    hint,
    type: "text",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]*",
    maxlength: 10,
    required: true,
    autofocus: true,
    class: "code-input",
  });
  const submit = h("button", { type: "submit", class: "button primary" }, submitLabel);
  const form = h("form", { class: "code-form", novalidate: true }, code.field, h("div", { class: "dialog-actions" }, submit, extra));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = code.input.value.replace(/\s+/g, "");
    if (!/^\d{4,10}$/.test(value)) {
      code.showError(t("code.invalid_format"));
      code.input.focus();
      return;
    }
    code.showError("");
    try {
      const method = await busy(submit, () => verify(value), t("action.verifying"));
      onDone(method);
    } catch (error) {
      const problem = inlineProblem(error, "/otp_code");
      if (problem === null) {
        onFail(error);
        return;
      }
      code.showError(problem);
      code.input.select();
      code.input.focus();
    }
  });
  return { form, input: code.input };
}

async function passkey(ctx, { trigger }) {
  // The button stays busy through the ceremony: a second click would only start a second, competing one.
  const method = await busy(
    trigger,
    async () => {
      const started = await ctx.api.enroll({ type: "passkey" });
      ctx.status(t("passkey.follow"));
      const response = await createPasskey(started.body.authn_params_public_key);
      return ctx.api.verify(started.location, {
        auth_session: started.body.auth_session,
        authn_response: response,
      });
    },
    t("passkeys.adding"),
  );
  await ctx.done({ message: t("passkey.added", { name: displayName(method) }), methodId: method.id });
}

async function totp(ctx, { trigger }) {
  const { location, body } = await ctx.api.enroll({ type: "totp" });
  const secret = body.manual_input_code ?? new URL(body.barcode_uri).searchParams.get("secret") ?? "";
  const outcome = await openDialog({
    title: t("totp.title"),
    returnFocus: trigger,
    build: (close) => {
      const secretId = uid("totp-secret");
      const copyButton = h("button", { type: "button", class: "button subtle small" }, t("action.copy"));
      copyButton.addEventListener("click", () => copy(secret, copyButton));
      const { form } = codeForm({
        label: t("totp.code_label"),
        hint: t("totp.code_hint"),
        verify: (code) => ctx.api.verify(location, { auth_session: body.auth_session, otp_code: code }),
        onDone: (method) => close({ method }),
        onFail: (error) => close({ error }),
      });
      return [
        h("ol", { class: "steps" }, h("li", {}, t("totp.step_install")), h("li", {}, t("totp.step_scan")), h("li", {}, t("totp.step_code"))),
        h("div", { class: "qr-frame" }, qrSvg(body.barcode_uri, { label: t("totp.qr_label") })),
        h(
          "div",
          { class: "manual" },
          h("p", { id: `${secretId}-label` }, t("totp.manual")),
          h("code", { class: "secret", id: secretId, "aria-labelledby": `${secretId}-label`, dataset: { secret } }, groups(secret)),
          copyButton,
        ),
        form,
      ];
    },
  });
  await finish(ctx, outcome, { message: (m) => t("totp.added", { name: displayName(m) }), reloadOnCancel: true });
}

async function finish(ctx, outcome, { message, reloadOnCancel = false }) {
  if (outcome?.error) throw outcome.error;
  if (outcome?.method) {
    await ctx.done({ message: message(outcome.method), methodId: outcome.method.id });
  } else if (reloadOnCancel) {
    await ctx.reload(); // the unconfirmed method shows in the list, to finish or remove later
    ctx.status(t("enroll.cancelled"));
  }
}

/** Email and phone: an address, a code sent to it, the code back. `given` resumes with the address known. */
async function contact(ctx, type, { trigger, body: given }) {
  let started = null; // {request, location, response} once a code was sent
  if (given) {
    const answer = await ctx.api.enroll(given);
    started = { request: given, location: answer.location, response: answer.body };
  }
  const resumeWith = (request) => ({ kind: "enroll", type, body: request });
  const outcome = await openDialog({
    title: t(`${type}.title`),
    returnFocus: trigger,
    build: (close) => {
      const container = h("div", { class: "steps-container" });
      const codeStep = () => {
        const destination = started.request.email ?? started.request.phone_number;
        const resend = h("button", { type: "button", class: "button subtle" }, t("code.resend"));
        const { form, input } = codeForm({
          label: t("code.label"),
          hint: t(`${type}.sent`, { destination }),
          verify: (code) =>
            ctx.api.verify(started.location, { auth_session: started.response.auth_session, otp_code: code }),
          onDone: (method) => close({ method }),
          onFail: (error) => close({ error: resumable(error, resumeWith(started.request)) }),
          extra: [resend],
        });
        resend.addEventListener("click", async () => {
          try {
            const again = await busy(resend, () => ctx.api.enroll(started.request), t("code.sending"));
            started = { ...started, location: again.location, response: again.body };
            ctx.status(t("code.resent", { destination }));
            input.focus();
          } catch (error) {
            close({ error: resumable(error, resumeWith(started.request)) });
          }
        });
        container.replaceChildren(form);
        input.focus();
      };
      if (started) {
        codeStep();
        return container;
      }
      const address =
        type === "email"
          ? field({ label: t("email.label"), type: "email", autocomplete: "email", required: true, autofocus: true })
          : field({
              label: t("phone.label"),
              hint: t("phone.hint"),
              type: "tel",
              autocomplete: "tel",
              required: true,
              autofocus: true,
            });
      const channel =
        type === "phone"
          ? h(
              "fieldset",
              { class: "choice" },
              h("legend", {}, t("phone.channel")),
              ["sms", "voice"].map((value) => {
                const id = uid("channel");
                return h(
                  "div",
                  { class: "choice-item" },
                  h("input", { type: "radio", name: "channel", id, value, checked: value === "sms" }),
                  h("label", { for: id }, t(`phone.channel.${value}`)),
                );
              }),
            )
          : null;
      const submit = h("button", { type: "submit", class: "button primary" }, t("code.send"));
      const form = h("form", { novalidate: true }, address.field, channel, h("div", { class: "dialog-actions" }, submit));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const value = address.input.value.trim();
        if (!value) {
          address.showError(t(`${type}.required`));
          address.input.focus();
          return;
        }
        const request =
          type === "email"
            ? { type, email: value }
            : { type, phone_number: value, preferred_authentication_method: form.elements.channel.value || "sms" };
        try {
          const answer = await busy(submit, () => ctx.api.enroll(request), t("code.sending"));
          started = { request, location: answer.location, response: answer.body };
          codeStep();
        } catch (error) {
          const problem = inlineProblem(error, type === "email" ? "/email" : "/phone_number");
          if (problem === null) {
            close({ error: resumable(error, resumeWith(request)) });
            return;
          }
          address.showError(problem);
          address.input.focus();
        }
      });
      container.append(form);
      return container;
    },
  });
  await finish(ctx, outcome, {
    message: (m) => t(`${type}.added`, { name: displayName(m) }),
    reloadOnCancel: Boolean(started),
  });
}

async function push(ctx, { trigger }) {
  const { location, body } = await ctx.api.enroll({ type: "push-notification" });
  const outcome = await openDialog({
    title: t("push.title"),
    returnFocus: trigger,
    build: (close) => {
      const message = h("p", { class: "field-error", role: "status", hidden: true });
      const check = h("button", { type: "button", class: "button primary", autofocus: true }, t("push.check"));
      check.addEventListener("click", async () => {
        try {
          const method = await busy(check, () => ctx.api.verify(location, { auth_session: body.auth_session }), t("action.verifying"));
          close({ method });
        } catch (error) {
          const problem = inlineProblem(error, "/auth_session");
          if (problem === null) close({ error });
          else {
            message.textContent = problem;
            message.hidden = false;
          }
        }
      });
      return [
        h("ol", { class: "steps" }, h("li", {}, t("push.step_app")), h("li", {}, t("push.step_scan")), h("li", {}, t("push.step_check"))),
        h("div", { class: "qr-frame" }, qrSvg(body.barcode_uri, { label: t("push.qr_label") })),
        message,
        h("div", { class: "dialog-actions" }, check),
      ];
    },
  });
  await finish(ctx, outcome, { message: () => t("push.added"), reloadOnCancel: true });
}

async function recoveryCode(ctx, { trigger }) {
  const { location, body } = await ctx.api.enroll({ type: "recovery-code" });
  const code = body.recovery_code;
  const outcome = await openDialog({
    title: t("recovery.title"),
    returnFocus: trigger,
    build: (close) => {
      const copyButton = h("button", { type: "button", class: "button subtle" }, t("action.copy"));
      copyButton.addEventListener("click", () => copy(code, copyButton));
      const download = h("button", { type: "button", class: "button subtle" }, t("action.download"));
      download.addEventListener("click", () => {
        const text = `${t("recovery.file_heading", { tenant: ctx.config.tenant_name ?? ctx.config.domain, account: ctx.user.email ?? "" })}\n\n${code}\n`;
        const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
        const link = h("a", { href: url, download: t("recovery.file_name"), hidden: true });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
      });
      const savedId = uid("saved");
      const saved = h("input", { type: "checkbox", id: savedId });
      const done = h("button", { type: "submit", class: "button primary" }, t("recovery.done"));
      const problem = h("p", { class: "field-error", id: `${savedId}-error`, hidden: true });
      saved.setAttribute("aria-describedby", problem.id);
      const form = h(
        "form",
        { novalidate: true },
        h("div", { class: "choice-item" }, saved, h("label", { for: savedId }, t("recovery.saved"))),
        problem,
        h("div", { class: "dialog-actions" }, done),
      );
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (!saved.checked) {
          problem.textContent = t("recovery.confirm_saved");
          problem.hidden = false;
          saved.focus();
          return;
        }
        try {
          close({ method: await busy(done, () => ctx.api.verify(location, { auth_session: body.auth_session })) });
        } catch (error) {
          close({ error });
        }
      });
      return [
        h("p", {}, t("recovery.lead")),
        h("p", { class: "recovery-code", id: "recovery-code", dataset: { code } }, groups(code)),
        h("p", { class: "warning-text" }, t("recovery.once")),
        h("div", { class: "button-row" }, copyButton, download),
        form,
      ];
    },
  });
  await finish(ctx, outcome, { message: () => t("recovery.added"), reloadOnCancel: true });
}

async function password(ctx, { trigger }) {
  const { location, body } = await ctx.api.enroll({ type: "password" });
  const policy = body.policy;
  const hasPassword = ctx.methods.some((m) => m.type === "password");
  const outcome = await openDialog({
    title: hasPassword ? t("password.change_title") : t("password.set_title"),
    returnFocus: trigger,
    className: "password-dialog",
    build: (close) => {
      const listId = uid("policy");
      const input = field({
        label: t("password.new"),
        type: "password",
        autocomplete: "new-password",
        required: true,
        autofocus: true,
        maxlength: 256,
        spellcheck: "false",
        autocapitalize: "off",
      });
      input.input.setAttribute("aria-describedby", `${input.input.getAttribute("aria-describedby")} ${listId}`);
      const showId = uid("show");
      const show = h("input", { type: "checkbox", id: showId });
      show.addEventListener("change", () => {
        input.input.type = show.checked ? "text" : "password";
      });
      const checklist = h("ul", { class: "checklist", id: listId, "aria-label": t("password.rules") });
      const problems = h("ul", { class: "field-error problems", hidden: true });
      const update = () => {
        const rules = checkPassword(input.input.value, policy, { name: ctx.user.name, email: ctx.user.email });
        checklist.replaceChildren(
          ...rules.map((rule) =>
            h(
              "li",
              { class: `rule ${rule.state}`, dataset: { rule: rule.id, state: rule.state } },
              h("span", { class: "rule-mark", "aria-hidden": "true" }, rule.state === "met" ? "✓" : rule.state === "unmet" ? "✗" : "•"),
              h("span", { class: "rule-text" }, rule.text),
              h("span", { class: "visually-hidden" }, ` (${t(`password.state.${rule.state}`)})`),
            ),
          ),
        );
        return rules;
      };
      input.input.addEventListener("input", update);
      update();
      const submit = h("button", { type: "submit", class: "button primary" }, t("password.save"));
      const form = h(
        "form",
        { novalidate: true },
        input.field,
        h("div", { class: "choice-item" }, show, h("label", { for: showId }, t("password.show"))),
        h("p", { class: "checklist-title", "aria-hidden": "true" }, t("password.rules")),
        checklist,
        problems,
        h("div", { class: "dialog-actions" }, submit),
      );
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const value = input.input.value;
        const unmet = update().filter((rule) => rule.state === "unmet");
        if (!value || unmet.length) {
          input.showError(value ? t("password.unmet") : t("password.required"));
          input.input.focus();
          return;
        }
        input.showError("");
        try {
          close({ method: await busy(submit, () => ctx.api.verify(location, { auth_session: body.auth_session, new_password: value }), t("password.saving")) });
        } catch (error) {
          if (!(error instanceof ApiError) || error.status !== 400) {
            close({ error });
            return;
          }
          const details = error.validationErrors.map((e) => e.detail).filter(Boolean);
          input.showError(error.detail || t("error.400"));
          problems.replaceChildren(...details.map((d) => h("li", {}, d)));
          problems.hidden = details.length === 0;
          input.input.focus();
        }
      });
      return [h("p", {}, t("password.lead")), form];
    },
  });
  await finish(ctx, outcome, { message: () => (hasPassword ? t("password.changed") : t("password.set")) });
}

const FLOWS = {
  passkey,
  totp,
  email: (ctx, options) => contact(ctx, "email", options),
  phone: (ctx, options) => contact(ctx, "phone", options),
  "push-notification": push,
  "recovery-code": recoveryCode,
  password,
};

export function canEnroll(type) {
  return type in FLOWS;
}

/** Run the enrollment flow for `type`. `body` (email, phone) resumes with an address already given. */
export async function enroll(ctx, type, { trigger = null, body = null } = {}) {
  const flow = FLOWS[type];
  if (!flow) throw new Error(`cannot enroll ${type}`);
  try {
    await flow(ctx, { trigger, body });
  } catch (error) {
    if (error && typeof error === "object" && !error.resume) error.resume = { kind: "enroll", type, body };
    throw error;
  }
}

