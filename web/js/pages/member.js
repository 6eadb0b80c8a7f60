// /members/{member_id}: a member's profile (unit, status, roles) and the
// timeline of their status changes, each linked to its document.

import { enc, getJson } from "../api.js";
import { facts, fill, h, section } from "../dom.js";
import { formatDate, formatNumber, has, t } from "../i18n.js";
import { docLink, heading, unitLink } from "../ui.js";

function role(entry, unit) {
  const name = typeof entry === "string" ? entry : entry.role;
  const where = typeof entry === "string" ? unit : entry.unit;
  return h("li", {}, has(`role.${name}`) ? t(`role.${name}`) : name, " · ", unitLink(where));
}

export async function render(ctx) {
  const id = ctx.params[0];
  const answer = await getJson(`/v1/members/${enc(id)}`, { signal: ctx.signal });
  const member = answer.member;
  ctx.setTitle(member.name || id);
  const history = answer.history || [];
  fill(ctx.main,
    heading(member.name || id, h("span", { class: "sub" }, id),
      h("span", { class: ["badge", member.status === "full" ? "ok" : member.status === "expelled" ? "bad" : "muted"] },
        has(`member_status_value.${member.status}`) ? t(`member_status_value.${member.status}`) : member.status)),
    h("div", { class: "grid" },
      section(t("member.profile"), facts([
        [t("member.id"), id],
        [t("member.unit"), unitLink(member.unit)],
        [t("member.status"), has(`member_status_value.${member.status}`) ? t(`member_status_value.${member.status}`) : member.status],
        [t("member.documents"), formatNumber(answer.documents)],
      ])),
      section(t("member.roles"), (member.roles || []).length
        ? h("ul", {}, member.roles.map((r) => role(r, member.unit))) : h("p", { class: "muted" }, t("member.no_roles")))),
    section(t("member.timeline"), history.length ? h("ol", { class: "timeline" }, history.map((e) => h("li", { dataset: { doc: e.doc_id } },
      h("div", { class: "when" }, formatDate(e.effective_at)),
      h("div", {}, h("strong", {}, has(`change.${e.change}`) ? t(`change.${e.change}`) : e.change), " · ", unitLink(e.org),
        e.to_org ? [" → ", unitLink(e.to_org)] : null),
      e.reason ? h("div", {}, e.reason) : null,
      h("div", { class: "hint" }, docLink(e.doc_id, t("member.see_document")))))) : h("p", { class: "muted" }, t("member.no_history"))),
  );
}
