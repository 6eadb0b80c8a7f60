// /units/{path}: a unit, where it sits (its ancestors), its sub-units, and what
// the node lists for it a page at a time (views/lists.py): its members, its
// minutes, resolutions and inspection findings (current versions, newest
// first). `?list=NAME[&cursor=C][&status=S]` shows one list on its own.

import { encPath, getJson } from "../api.js";
import { facts, fill, h, section, table } from "../dom.js";
import { formatDate, formatNumber, has, t } from "../i18n.js";
import { listSection } from "../lists.js";
import { docLink, heading, memberLink, unitLink } from "../ui.js";
import { ancestors } from "./dashboard.js";

const STATUSES = ["probationary", "full", "suspended", "expelled", "resigned", "deceased"];

const statusLabel = (s) => (has(`member_status_value.${s}`) ? t(`member_status_value.${s}`) : s);
const choice = (group, v) => (has(`${group}.${v}`) ? t(`${group}.${v}`) : String(v ?? "–"));

function lists(path, query) {
  const docs = (type) => (cursor, limit) => `/v1/orgs/${encPath(path)}/documents?type=${type}&order=desc&limit=${limit}`
    + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
  const status = STATUSES.includes(query.get("status")) ? query.get("status") : null;
  return [
    { name: "members", title: t("unit.list.members"), query: status ? `status=${status}` : "",
      url: (cursor, limit) => `/v1/orgs/${encPath(path)}/members?limit=${limit}${status ? `&status=${status}` : ""}`
        + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""),
      head: [t("field.member"), t("member.status")],
      row: (m) => [memberLink(m.member_id, m.name || null), statusLabel(m.status)], empty: t("unit.list.no_members"), status },
    { name: "minutes", title: t("unit.list.minutes"), url: docs("minutes"),
      head: [t("field.held_at"), t("field.meeting_id"), t("field.kind")],
      row: (d) => [formatDate(d.date), docLink(d.doc_id, d.summary.meeting_id || t("form.confidential")),
        choice("meeting_kind", d.summary.kind)], empty: t("unit.list.none") },
    { name: "resolutions", title: t("unit.list.resolutions"), url: docs("resolution"),
      head: [t("field.adopted_at"), t("field.number"), t("field.title")],
      row: (d) => [formatDate(d.date), docLink(d.doc_id, d.summary.number || t("form.confidential")), d.summary.title || "–"],
      empty: t("unit.list.none") },
    { name: "findings", title: t("unit.list.findings"), url: docs("inspection_finding"),
      head: [t("document.created"), t("field.inspection_id"), t("field.subject"), t("field.severity")],
      row: (d) => [formatDate(d.date), docLink(d.doc_id, d.summary.inspection_id || t("form.confidential")),
        d.summary.subject?.member ? memberLink(d.summary.subject.member) : d.summary.subject?.unit ? unitLink(d.summary.subject.unit) : "–",
        choice("severity", d.summary.severity)], empty: t("unit.list.none") },
  ];
}

function statusFilter(ctx, path, current) {
  const select = h("select", { name: "status", aria: { label: t("unit.list.filter") }, on: { change: () => {
    const value = select.value;
    ctx.navigate(`/units/${encPath(path)}?list=members${value ? `&status=${value}` : ""}`);
  } } }, h("option", { value: "" }, t("unit.list.any_status")),
  STATUSES.map((s) => h("option", { value: s, selected: s === current }, statusLabel(s))));
  return h("p", { class: "row" }, h("label", {}, t("unit.list.filter"), " ", select));
}

export async function render(ctx) {
  const path = ctx.params[0];
  const base = `/units/${encPath(path)}`;
  const specs = lists(path, ctx.query);
  const focus = specs.find((s) => s.name === ctx.query.get("list"));
  const shown = focus ? [focus] : specs;
  // The unit and its lists, asked together.
  const [view, ...sections] = await Promise.all([
    getJson(`/v1/orgs/${encPath(path)}`, { signal: ctx.signal }),
    ...shown.map((spec) => listSection(spec, {
      base, focused: Boolean(focus), cursor: focus ? ctx.query.get("cursor") : null, signal: ctx.signal,
      filters: spec.name === "members" && focus ? statusFilter(ctx, path, spec.status) : null,
    })),
  ]);
  const unit = view.unit;
  ctx.setTitle(unit.name || path);
  fill(ctx.main,
    ancestors(path, (p) => `/units/${encPath(p)}`),
    heading(unit.name || path, h("span", { class: "sub" }, path),
      unit.status && unit.status !== "open" ? h("span", { class: ["badge", "bad"] }, t(`unit_status.${unit.status}`)) : null),
    h("p", { class: "row" }, h("a", { class: "button", href: `/dashboard/${encPath(path)}` }, t("unit.open_dashboard")),
      focus ? h("a", { href: base }, t("unit.back")) : null),
    focus ? null : h("div", { class: "grid" },
      section(t("unit.about"), facts([
        [t("field.kind"), has(`unit_kind.${unit.kind}`) ? t(`unit_kind.${unit.kind}`) : unit.kind],
        [t("unit.path"), path],
        [t("unit.parent"), unit.parent ? unitLink(unit.parent) : "–"],
        [t("unit.members"), formatNumber(view.members)],
        [t("unit.children_count"), formatNumber(view.children.length)],
      ])),
      section(t("unit.children"), table({
        head: [t("unit.unit"), t("field.kind"), t("nav.dashboard")],
        rows: view.children.map((c) => [unitLink(c.path, c.name), has(`unit_kind.${c.kind}`) ? t(`unit_kind.${c.kind}`) : c.kind,
          h("a", { href: `/dashboard/${encPath(c.path)}` }, t("nav.dashboard"))]),
        empty: t("unit.no_children"),
      }))),
    sections,
  );
}
