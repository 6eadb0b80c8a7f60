// /login?next=PATH: sign in with a member's key file, which is read here, in the
// browser, and never sent (web/js/auth.js signs the node's challenge with it);
// the node answers a session cookie that every page then uses. Signed in, the
// page says as whom and what the session reads, and signs out.

import { KeyFileError, login, logout } from "../auth.js";
import { facts, fill, h, section } from "../dom.js";
import { has, t } from "../i18n.js";
import { forget, note, safeNext, session } from "../session.js";
import { heading, memberLink } from "../ui.js";

export async function render(ctx) {
  ctx.setTitle(t("login.title"));
  const next = safeNext(ctx.query.get("next"));
  const current = session();
  if (current) {
    const out = h("button", { type: "button", class: "primary", on: { click: async () => {
      await logout().catch(() => null);
      forget();
      location.assign("/login");
    } } }, t("login.sign_out"));
    fill(ctx.main, heading(t("login.signed_in_title")),
      section(t("login.who"), facts([
        [t("login.caller"), current.kind === "member" ? memberLink(current.caller) : current.caller],
        [t("login.scope"), current.scope],
      ]), h("p", { class: "row" }, out, h("a", { href: next }, t("login.continue")))));
    return;
  }
  const file = h("input", { type: "file", id: "key-file", accept: ".json,application/json" });
  const problem = h("p", { class: "why", role: "alert" });
  const button = h("button", { type: "submit", class: "primary" }, t("login.sign_in"));
  const form = h("form", { class: "form", on: { submit: async (event) => {
    event.preventDefault();
    problem.textContent = "";
    const chosen = file.files[0];
    if (!chosen) {
      problem.textContent = t("login.choose");
      return;
    }
    button.disabled = true;
    try {
      note(await login(await chosen.text()));
      location.assign(next); // a fresh start: every page asks with the new session
    } catch (exc) {
      problem.textContent = exc instanceof KeyFileError
        ? t("login.bad_key_file", { why: has(`login.key.${exc.code}`) ? t(`login.key.${exc.code}`) : exc.message })
        : t("login.refused", { why: exc.message || String(exc) });
      button.disabled = false;
    }
  } } },
  h("p", { class: "row" }, h("label", { for: "key-file" }, t("login.key_file")), file), h("p", {}, button), problem);
  fill(ctx.main, heading(t("login.title")),
    section(t("login.how"), h("p", {}, t("login.intro")), h("p", { class: "hint" }, t("login.encrypted")), form));
}
