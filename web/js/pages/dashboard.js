// /dashboard/{path}?from=YYYY-MM&to=YYYY-MM: a unit's meeting figures for a
// period, month by month: meetings held and on schedule, attendance, opinions
// per meeting, vote participation (README "Stats" has the definitions; the
// node computes every number, the page only draws them). Below the charts, the
// unit's sub-units with their rolled-up figures, a row for the unit's own
// meetings so that the rows add up to the unit's total, and the units overdue
// for a regular meeting. Months are calendar months in the chain's time zone.

import { encPath, getJson, unitView } from "../api.js";
import { fill, h, section, table } from "../dom.js";
import { chainZone, currentLocale, formatDecimal, formatMonth, formatNumber, formatPercent, t } from "../i18n.js";
import { MONTH, addMonths, monthOf, monthStart, monthsFrom, nextMonth } from "../months.js";
import { mayRead } from "../session.js";
import { heading, track, unitLink } from "../ui.js";

export const DEFAULT_MONTHS = 6;
export const MAX_MONTHS = 24;
const CHART_JS = "/web/vendor/chart.js-4.6.1/chart.umd.min.js";
const COLORS = { held: "#17324d", on_schedule: "#3d8bd4", line: "#17663f" };

let chartLibrary = null;

/** Chart.js, loaded on the first dashboard (the other pages do without it). */
function loadCharts() {
  if (!chartLibrary) {
    chartLibrary = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = CHART_JS;
      script.onload = () => resolve(window.Chart);
      script.onerror = () => {
        chartLibrary = null;
        reject(new Error(`${CHART_JS} did not load`));
      };
      document.head.append(script);
    });
  }
  return chartLibrary;
}

/** Breadcrumbs from the root to the unit above `path`, each named once known. */
export function ancestors(path, href) {
  const parts = path.split("/");
  const crumbs = h("nav", { class: "crumbs", aria: { label: t("unit.ancestors") } });
  for (let i = 1; i < parts.length; i++) {
    const p = parts.slice(0, i).join("/");
    if (!mayRead(p)) {
      crumbs.append(h("span", {}, p)); // above what the session reads: a path, not a link to a 403
      continue;
    }
    const link = h("a", { href: href(p) }, p);
    track(unitView(p).then((v) => {
      if (v && v.unit.name) link.textContent = v.unit.name;
    }).catch(() => {}));
    crumbs.append(link);
  }
  return crumbs;
}

/** The period the URL asks for, or the default: the last DEFAULT_MONTHS months up to this one. */
export function period(query, zone, now = Date.now()) {
  const current = monthOf(now, zone);
  let to = MONTH.test(query.get("to") || "") ? query.get("to") : current;
  let from = MONTH.test(query.get("from") || "") ? query.get("from") : addMonths(to, -(DEFAULT_MONTHS - 1));
  if (from > to) [from, to] = [to, from];
  let clipped = false;
  if (monthsFrom(from, to).length > MAX_MONTHS) {
    from = addMonths(to, -(MAX_MONTHS - 1));
    clipped = true;
  }
  return { from, to, months: monthsFrom(from, to), clipped };
}

/** [since, until] in unix ms for the months first..last: until is the last month's end or now, whichever is
 * earlier, so that "overdue" is never counted from a time that has not come. */
export function bounds(first, last, zone, now = Date.now()) {
  const since = monthStart(first, zone);
  const until = Math.min(monthStart(nextMonth(last), zone) - 1, now);
  return { since, until: Math.max(until, since) };
}

function stats(path, first, last, zone, signal) {
  const { since, until } = bounds(first, last, zone);
  return getJson(`/v1/orgs/${encPath(path)}/stats?since=${since}&until=${until}`, { signal });
}

/** One stats answer per month (each month asked of the node). */
export function monthly(path, months, zone, signal) {
  return Promise.all(months.map((m) => stats(path, m, m, zone, signal)));
}

const SERIES = [
  { name: "meetings", kind: "bar", sets: [
    { key: "held", value: (s) => s.meetings.held, color: COLORS.held },
    { key: "on_schedule", value: (s) => s.meetings.on_schedule, color: COLORS.on_schedule },
  ], format: formatNumber },
  { name: "attendance", kind: "line", percent: true, sets: [
    { key: "attendance", value: (s) => s.attendance.rate, color: COLORS.line },
  ], format: formatPercent },
  { name: "opinions", kind: "line", sets: [
    { key: "opinions", value: (s) => s.opinions.per_meeting, color: COLORS.line },
  ], format: formatDecimal },
  { name: "participation", kind: "line", percent: true, sets: [
    { key: "participation", value: (s) => s.votes.participation, color: COLORS.line },
  ], format: formatPercent },
];

function chartCard(Chart, spec, months, series) {
  const canvas = h("canvas", { dataset: { chart: spec.name }, role: "img", aria: { label: t(`chart.${spec.name}.label`) } });
  const labels = months.map(formatMonth);
  const datasets = spec.sets.map((set) => ({
    label: t(`chart.set.${set.key}`),
    data: series.map((s) => {
      const v = set.value(s);
      return v === null || v === undefined ? null : spec.percent ? v * 100 : v; // the tooltip formats it
    }),
    backgroundColor: set.color,
    borderColor: set.color,
    tension: 0.25,
    spanGaps: false,
  }));
  const card = h("section", { class: "card chart-card" },
    h("h2", {}, t(`chart.${spec.name}.title`)),
    h("p", { class: "hint" }, t(`chart.${spec.name}.what`)),
    h("div", { class: "chart" }, canvas),
    h("details", {}, h("summary", {}, t("chart.table")), table({
      head: [t("chart.month"), ...spec.sets.map((set) => t(`chart.set.${set.key}`))],
      rows: months.map((m, i) => [formatMonth(m), ...spec.sets.map((set) => spec.format(set.value(series[i])))]),
    })));
  new Chart(canvas, {
    type: spec.kind,
    data: { labels, datasets },
    options: {
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: spec.sets.length > 1 },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${spec.format(spec.sets[item.datasetIndex].value(series[item.dataIndex]))}` } } },
      scales: { y: { beginAtZero: true, ...(spec.percent ? { max: 100, ticks: { callback: (v) => `${v}%` } } : {}) } },
    },
  });
  return card;
}

function kpi(value, label, name, alert = false) {
  return h("div", { class: ["kpi", alert ? "alert" : null], dataset: { kpi: name } },
    h("div", { class: "value" }, value), h("div", { class: "label" }, label));
}

function figures(s) {
  return [formatNumber(s.meetings.held), `${formatNumber(s.meetings.on_schedule)} / ${formatNumber(s.meetings.late)}`,
    formatPercent(s.attendance.rate), formatDecimal(s.opinions.per_meeting), formatPercent(s.votes.participation),
    s.overdue_units.length ? h("span", { class: "badge bad" }, formatNumber(s.overdue_units.length)) : "0"];
}

function unitsTable(path, name, total) {
  const head = [t("unit.unit"), t("dash.held"), t("dash.on_time_late"), t("dash.attendance"), t("dash.opinions"),
    t("dash.participation"), t("dash.overdue")];
  const row = (cells, className) => h("tr", { class: className }, cells.map((c, i) => h("td", { class: i ? "num" : null }, c)));
  const rows = total.children.map((c) => row([unitLink(c.path, c.name, { dashboard: true }), ...figures(c)],
    c.overdue_units.length ? "overdue" : null));
  const own = total.own;
  if (total.children.length) rows.push(row([t("dash.own", { unit: name }), ...figures(own)], "own"));
  return h("div", { class: "table-wrap" }, h("table", { dataset: { table: "units" } },
    h("thead", {}, h("tr", {}, head.map((label, i) => h("th", { scope: "col", class: i ? "num" : null }, label)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: head.length, class: "empty" }, t("unit.no_children")))),
    h("tfoot", {}, row([t("dash.total"), ...figures(total)]))));
}

function periodForm(ctx, path, p) {
  const from = h("input", { type: "month", name: "from", value: p.from, required: true });
  const to = h("input", { type: "month", name: "to", value: p.to, required: true });
  const go = (first, last) => ctx.navigate(`/dashboard/${encPath(path)}?from=${first}&to=${last}`);
  const current = monthOf(Date.now(), chainZone());
  const preset = (key, first, last) => h("button", { type: "button", on: { click: () => go(first, last) } }, t(key));
  return h("form", { class: "period", on: { submit: (event) => {
    event.preventDefault();
    if (MONTH.test(from.value) && MONTH.test(to.value)) go(from.value, to.value);
  } } },
  h("label", {}, t("dash.from"), from), h("label", {}, t("dash.to"), to),
  h("button", { type: "submit", class: "primary" }, t("dash.apply")),
  preset("dash.last6", addMonths(current, -5), current),
  preset("dash.last12", addMonths(current, -11), current),
  preset("dash.this_year", `${current.slice(0, 4)}-01`, current));
}

export async function render(ctx) {
  const path = (ctx.params[0] || ctx.session?.home_unit || ctx.site.root_unit || "").replace(/\/+$/, "");
  const zone = chainZone();
  const p = period(ctx.query, zone);
  const [view, total, series, Chart] = await Promise.all([
    getJson(`/v1/orgs/${encPath(path)}`, { signal: ctx.signal }),
    stats(path, p.from, p.to, zone, ctx.signal),
    monthly(path, p.months, zone, ctx.signal),
    loadCharts(),
  ]);
  const name = view.unit.name || path;
  ctx.setTitle(t("dash.title", { unit: name }));
  Chart.defaults.font.family = getComputedStyle(document.documentElement).getPropertyValue("--sans");
  Chart.defaults.locale = currentLocale(); // the axes' numbers as the page writes them
  Chart.defaults.color = "#1b2733";
  const overdue = total.overdue_units;
  fill(ctx.main,
    ancestors(path, (a) => `/dashboard/${encPath(a)}`),
    heading(t("dash.title", { unit: name }), h("span", { class: "sub" }, t("dash.period", {
      from: formatMonth(p.from), to: formatMonth(p.to), count: p.months.length })),
    h("a", { href: `/units/${encPath(path)}` }, t("dash.unit_page"))),
    h("section", { class: "card" }, periodForm(ctx, path, p), p.clipped ? h("p", { class: "hint" }, t("dash.clipped", { count: MAX_MONTHS })) : null),
    h("div", { class: "kpis" },
      kpi(formatNumber(total.meetings.held), t("dash.held"), "held"),
      kpi(formatPercent(total.meetings.held ? total.meetings.on_schedule / total.meetings.held : null), t("dash.on_schedule_share"), "on_schedule"),
      kpi(formatPercent(total.attendance.rate), t("dash.attendance"), "attendance"),
      kpi(formatDecimal(total.opinions.per_meeting), t("dash.opinions"), "opinions"),
      kpi(formatPercent(total.votes.participation), t("dash.participation"), "participation"),
      kpi(formatNumber(overdue.length), t("dash.overdue"), "overdue", overdue.length > 0),
      kpi(total.inspection_findings ? formatNumber(Object.values(total.inspection_findings).reduce((a, b) => a + b, 0))
        : t("dash.withheld"), t("dash.findings"), "findings")),
    h("div", { class: "charts" }, SERIES.map((spec) => chartCard(Chart, spec, p.months, series))),
    section(t("dash.units_title"), h("p", { class: "hint" }, t("dash.units_hint")), unitsTable(path, name, total)),
    section(t("dash.overdue_title", { count: overdue.length }), h("p", { class: "hint" }, t("dash.overdue_hint")),
      overdue.length ? h("ul", { dataset: { list: "overdue" } }, overdue.map((u) => h("li", {}, unitLink(u, undefined, { dashboard: true }))))
        : h("p", { class: "muted" }, t("dash.no_overdue"))),
  );
}
