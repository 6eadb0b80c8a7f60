// /units/{path}: a unit, where it sits (its ancestors), its sub-units and its
// members, with the way to its dashboard.

import { encPath, getJson } from "../api.js";
import { facts, fill, h, section, table } from "../dom.js";
import { formatNumber, t } from "../i18n.js";
import { heading, unitLink } from "../ui.js";
import { ancestors } from "./dashboard.js";

export async function render(ctx) {
  const path = ctx.params[0];
  const view = await getJson(`/v1/orgs/${encPath(path)}`, { signal: ctx.signal });
  const unit = view.unit;
  ctx.setTitle(unit.name || path);
  fill(ctx.main,
    ancestors(path, (p) => `/units/${encPath(p)}`),
    heading(unit.name || path, h("span", { class: "sub" }, path),
      unit.status && unit.status !== "open" ? h("span", { class: "badge bad" }, t(`unit_status.${unit.status}`)) : null),
    h("p", {}, h("a", { class: "button", href: `/dashboard/${encPath(path)}` }, t("unit.open_dashboard"))),
    h("div", { class: "grid" },
      section(t("unit.about"), facts([
        [t("field.kind"), t(`unit_kind.${unit.kind}`)],
        [t("unit.path"), path],
        [t("unit.parent"), unit.parent ? unitLink(unit.parent) : "–"],
        [t("unit.members"), formatNumber(view.members)],
        [t("unit.children_count"), formatNumber(view.children.length)],
      ]))),
    section(t("unit.children"), table({
      head: [t("unit.unit"), t("field.kind"), t("nav.dashboard")],
      rows: view.children.map((c) => [unitLink(c.path, c.name), t(`unit_kind.${c.kind}`),
        h("a", { href: `/dashboard/${encPath(c.path)}` }, t("nav.dashboard"))]),
      empty: t("unit.no_children"),
    })),
  );
}
