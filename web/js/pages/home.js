// /: what this node holds (documents, blocks; for a signed-in reader, the units,
// meetings and attendance of the unit the session starts from), the way in
// (search, that unit's dashboard and its sub-units, or "sign in"), the latest blocks.

import { encPath, getJson } from "../api.js";
import { fill, h, section, table } from "../dom.js";
import { formatDateTime, formatNumber, formatPercent, t } from "../i18n.js";
import { blockLink, heading, unitLink } from "../ui.js";

function kpi(value, label, { href = null, alert = false, name = null } = {}) {
  const body = [h("div", { class: "value" }, value), h("div", { class: "label" }, label)];
  return h("div", { class: ["kpi", alert ? "alert" : null], dataset: name ? { kpi: name } : {} }, href ? h("a", { href }, body) : body);
}

export async function render(ctx) {
  const rootUnit = ctx.session ? ctx.session.home_unit : null; // content only for a signed-in reader
  const [status, head, page, root, stats] = await Promise.all([
    getJson("/v1/status", { signal: ctx.signal }),
    getJson("/v1/tree-head", { signal: ctx.signal }),
    getJson("/v1/blocks?limit=8", { signal: ctx.signal }),
    rootUnit ? getJson(`/v1/orgs/${encPath(rootUnit)}`, { signal: ctx.signal }) : null,
    rootUnit ? getJson(`/v1/orgs/${encPath(rootUnit)}/stats`, { signal: ctx.signal }) : null,
  ]);
  const name = root?.unit?.name || ctx.site.chain_id;
  const signIn = ctx.session ? null : section(t("home.sign_in"), h("p", {}, t("home.sign_in_text")),
    h("p", {}, h("a", { class: "button", href: "/login?next=%2F" }, t("nav.login"))));
  ctx.setTitle(t("home.title"));
  const dashboard = rootUnit ? `/dashboard/${encPath(rootUnit)}` : null;
  const search = h("form", { class: "row", role: "search", on: { submit: (event) => {
    event.preventDefault();
    const q = new FormData(event.target).get("q").toString().trim();
    if (q) ctx.navigate(`/search?q=${encodeURIComponent(q)}`);
  } } },
  h("input", { name: "q", type: "search", size: 48, placeholder: t("search.placeholder"), aria: { label: t("search.label") } }),
  h("button", { type: "submit", class: "primary" }, t("search.go")));

  const blocks = page.blocks.slice().reverse();
  fill(ctx.main,
    heading(name, h("span", { class: "sub" }, t("home.subtitle", { node: ctx.site.node_id, chain: ctx.site.chain_id }))),
    h("div", { class: "kpis" },
      kpi(formatNumber(head.log_size), t("home.documents"), { name: "documents" }),
      kpi(formatNumber(head.height), t("home.blocks"), { href: "/blocks", name: "blocks" }),
      stats ? kpi(formatNumber(stats.units.total), t("home.units"), { href: rootUnit ? `/units/${encPath(rootUnit)}` : null, name: "units" }) : null,
      stats ? kpi(formatNumber(stats.meetings.held), t("home.meetings"), { href: dashboard, name: "meetings" }) : null,
      stats ? kpi(formatPercent(stats.attendance.roll.present, stats.attendance.roll.members), t("home.attendance"),
        { href: dashboard, name: "attendance" }) : null,
      stats ? kpi(formatNumber(stats.overdue.cells + stats.overdue.committees), t("home.overdue"),
        { href: dashboard, alert: stats.overdue.cells + stats.overdue.committees > 0, name: "overdue" }) : null),
    signIn,
    section(t("home.search"), h("p", { class: "hint" }, t("home.search_hint")), search),
    h("div", { class: "grid" },
      root ? section(t("home.units_title"),
        h("p", {}, unitLink(rootUnit, root.unit.name), " · ", h("a", { href: dashboard }, t("nav.dashboard"))),
        h("ul", {}, root.children.map((c) => h("li", {}, unitLink(c.path, c.name), " · ",
          h("a", { href: `/dashboard/${encPath(c.path)}` }, t("nav.dashboard")))))) : null,
      section(t("home.node"), h("p", {}, t("home.node_status", {
        node: ctx.site.node_id, role: t(`role_raft.${status.role}`), leader: status.leader || "–", term: status.term ?? "–",
      })), h("p", { class: "hint" }, t("home.tree_head", { size: head.log_size, height: head.height, time: formatDateTime(head.timestamp) })))),
    section(t("home.latest_blocks"), table({
      head: [t("block.height"), t("block.time"), t("block.documents"), t("block.certificate")],
      rows: blocks.map((b) => {
        const accepted = b.documents.filter((d) => d.status === "accepted").length;
        return [blockLink(b.height), formatDateTime(b.header_fields.timestamp),
          t("block.accepted_of", { accepted, count: b.documents.length }), formatNumber(b.certificate.length)];
      }),
      empty: t("block.none"),
    }), h("p", {}, h("a", { href: "/blocks" }, t("home.all_blocks")))),
  );
}
