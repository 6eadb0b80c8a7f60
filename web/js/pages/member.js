// /members/{member_id}: a member's profile (unit, status, roles, keys), their
// whole timeline (status changes, profile entries, attendance, opinions,
// findings about them, each linked to its document; views/timeline.py), a page
// at a time (`?cursor=C`), and the documents that name them (`?list=documents`).

import { enc, getJson } from "../api.js";
import { facts, fill, h, mono, section, table } from "../dom.js";
import { formatDate, formatNumber, has, t } from "../i18n.js";
import { documentTitle } from "../forms.js";
import { listSection } from "../lists.js";
import { docLink, heading, pager, typeLabel, unitLink } from "../ui.js";

export const TIMELINE_PAGE = 100;

const choice = (group, v) => (has(`${group}.${v}`) ? t(`${group}.${v}`) : String(v ?? "–"));

function role(entry, unit) {
  const name = typeof entry === "string" ? entry : entry.role;
  const where = typeof entry === "string" ? unit : entry.unit;
  return h("li", {}, choice("role", name), " · ", unitLink(where));
}

/** One timeline entry: what happened, by its kind. */
function what(e) {
  switch (e.kind) {
    case "status": return [h("strong", {}, choice("change", e.change)), " · ", unitLink(e.org),
      e.to_org ? [" → ", unitLink(e.to_org)] : null, e.reason ? h("div", {}, e.reason) : null];
    case "profile": return [h("strong", {}, choice("profile_kind", e.entry)), " · ", e.title,
      e.institution ? h("div", {}, e.institution) : null, e.result ? h("div", { class: "muted" }, e.result) : null];
    case "attendance": return [h("span", { class: ["badge", e.present ? "ok" : "bad"] }, t(e.present ? "form.present" : "form.absent")),
      " ", t("member.at_meeting", { meeting: e.meeting_id, kind: choice("meeting_kind", e.meeting_kind) }), " · ", unitLink(e.org),
      e.reason ? h("div", { class: "muted" }, e.reason) : null];
    case "opinion": return [h("strong", {}, t("member.opinion", { topic: e.topic })), " · ", e.meeting_id, h("div", {}, e.summary)];
    case "finding": return [h("strong", {}, t("member.finding", { inspection: e.inspection_id })), " ",
      h("span", { class: ["badge", e.severity === "minor" || e.severity === "info" ? "warn" : "bad"] }, choice("severity", e.severity))];
    default: return h("strong", {}, e.kind);
  }
}

export async function render(ctx) {
  const id = ctx.params[0];
  const base = `/members/${enc(id)}`;
  const cursor = ctx.query.get("cursor");
  const focusDocs = ctx.query.get("list") === "documents";
  const timelineCursor = cursor && !focusDocs ? `&cursor=${encodeURIComponent(cursor)}` : "";
  const named = {
    name: "documents", title: t("member.documents_title"),
    url: (c, limit) => `/v1/members/${enc(id)}/documents?order=desc&limit=${limit}${c ? `&cursor=${encodeURIComponent(c)}` : ""}`,
    head: [t("document.created"), t("document.type"), t("member.as"), t("field.org")],
    row: (d) => [formatDate(d.date), docLink(d.doc_id, [typeLabel(d.type), " · ", documentTitle({ type: d.type, body: d.summary })]),
      choice("named_as", d.as), unitLink(d.unit)],
    empty: t("unit.list.none"),
  };
  // The profile with its timeline, and the documents naming the member: asked together.
  const [answer, documents] = await Promise.all([
    getJson(`/v1/members/${enc(id)}?limit=${TIMELINE_PAGE}${timelineCursor}`, { signal: ctx.signal }),
    listSection(named, { base, focused: focusDocs, cursor: focusDocs ? cursor : null, signal: ctx.signal }),
  ]);
  const member = answer.member;
  ctx.setTitle(member.name || id);
  const status = has(`member_status_value.${member.status}`) ? t(`member_status_value.${member.status}`) : member.status;
  const timeline = answer.timeline || [];
  fill(ctx.main,
    heading(member.name || id, h("span", { class: "sub" }, id),
      h("span", { class: ["badge", member.status === "full" ? "ok" : member.status === "probationary" ? "muted" : "bad"] }, status)),
    focusDocs ? h("p", {}, h("a", { href: base }, t("member.back"))) : h("div", { class: "grid" },
      section(t("member.profile"), facts([
        [t("member.id"), id],
        [t("member.unit"), unitLink(member.unit)],
        [t("member.status"), status],
      ])),
      section(t("member.roles"), (member.roles || []).length
        ? h("ul", {}, member.roles.map((r) => role(r, member.unit))) : h("p", { class: "muted" }, t("member.no_roles")),
      (member.keys || []).length ? [h("h3", {}, t("member.keys")), table({
        head: [t("field.public_key"), t("member.key_added"), t("member.key_revoked")],
        rows: member.keys.map((k) => [mono(k.public_key), formatDate(k.added_at), k.revoked_at ? formatDate(k.revoked_at) : "–"]),
      })] : null)),
    focusDocs ? null : section(t("member.timeline"),
      timeline.length ? h("ol", { class: "timeline" }, timeline.map((e) => h("li", { dataset: { doc: e.doc_id, kind: e.kind } },
        h("div", { class: "when" }, formatDate(e.date)), h("div", {}, what(e)),
        h("div", { class: "hint" }, docLink(e.doc_id, t("member.see_document")))))) : h("p", { class: "muted" }, t("member.no_history")),
      cursor || answer.next_cursor ? pager([
        { label: t("pager.first_page"), href: cursor ? base : null },
        { label: t("pager.next_page"), href: answer.next_cursor ? `${base}?cursor=${encodeURIComponent(answer.next_cursor)}` : null,
          rel: "next" },
      ]) : null,
      h("p", { class: "hint" }, t("member.timeline_count", { count: timeline.length }))),
    documents,
  );
}
