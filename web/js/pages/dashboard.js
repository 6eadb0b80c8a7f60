// /dashboard/{path}?from=YYYY-MM&to=YYYY-MM: a unit's meeting figures for a
// period, month by month, from one answer of the node
// (/v1/orgs/{path}/stats?by=month; views/stats.py holds the definitions, the
// README "Stats" says them; the page only draws and formats them): meetings
// held and on time, attendance against the roll (and against the minutes' own
// list), opinions per meeting, vote participation. Below the charts, the sub-
// units' rolled-up figures with the row of the unit's own records (the rows
// add up to the total), and the cells and committees overdue for a regular
// meeting with their last one. Months are calendar months in the chain's zone.
// After the charts, the subtree's committee work (web/js/committee.js): early
// warnings, open directives and tasks late or due, asked in parallel with the
// figures and drawn when they come, without holding the charts back.

import { encPath, getJson, unitView } from "../api.js";
import { committeeSections, committeeWork } from "../committee.js";
import { fill, h, section, table } from "../dom.js";
import { chainZone, currentLocale, formatDate, formatMonth, formatNumber, formatPercent, formatRatio, t } from "../i18n.js";
import { MONTH, addMonths, monthOf, monthStart, monthsFrom, nextMonth } from "../months.js";
import { mayRead } from "../session.js";
import { heading, track, unitLink } from "../ui.js";

export const DEFAULT_MONTHS = 6;
export const MAX_MONTHS = 24;
const CHART_JS = "/web/vendor/chart.js-4.6.1/chart.umd.min.js";
const COLORS = ["#17324d", "#3d8bd4", "#17663f", "#b26b00"];

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

/** The stats question for the months first..last: from the first's first day (an ISO date, which the node
 * reads in the chain's zone) to the last's end, or to now for the current month (the node's default). */
export function statsQuery(first, last, zone, now = Date.now()) {
  const end = monthStart(nextMonth(last), zone) - 1;
  return `since=${first}-01${end < now ? `&until=${end}` : ""}&by=month`;
}

// Each chart: its series of [label key, value of one month's figures as a percentage or a number].
const CHARTS = [
  { name: "meetings", kind: "bar", sets: [["held", (f) => f.meetings.held], ["on_time", (f) => f.meetings.on_time]],
    format: (f, i) => formatNumber([f.meetings.held, f.meetings.on_time][i]) },
  { name: "attendance", kind: "line", percent: true,
    sets: [["roll", (f) => f.attendance.roll.rate], ["listed", (f) => f.attendance.listed.rate]],
    format: (f, i) => (i ? formatPercent(f.attendance.listed.present, f.attendance.listed.listed)
      : formatPercent(f.attendance.roll.present, f.attendance.roll.members)) },
  { name: "opinions", kind: "line", sets: [["opinions", (f) => f.opinions.per_meeting]],
    format: (f) => formatRatio(f.opinions.total, f.meetings.held) },
  { name: "participation", kind: "line", percent: true, sets: [["participation", (f) => f.votes.participation]],
    format: (f) => formatPercent(f.votes.ballots, f.votes.eligible) },
];

/** What a chart draws for one month's figures: the API's raw ratio (as a percentage), or null. */
function point(spec, value) {
  if (value === null || value === undefined) return null;
  return spec.percent ? value * 100 : value;
}

function chartCard(Chart, spec, series) {
  const canvas = h("canvas", { dataset: { chart: spec.name }, role: "img", aria: { label: t(`chart.${spec.name}.label`) } });
  const card = h("section", { class: ["card", "chart-card"] },
    h("h2", {}, t(`chart.${spec.name}.title`)),
    h("p", { class: "hint" }, t(`chart.${spec.name}.what`)),
    h("div", { class: "chart" }, canvas),
    h("details", {}, h("summary", {}, t("chart.table")), table({
      head: [t("chart.month"), ...spec.sets.map(([key]) => t(`chart.set.${key}`))],
      rows: series.map((f) => [formatMonth(f.month), ...spec.sets.map((_, i) => spec.format(f, i))]),
    })));
  new Chart(canvas, {
    type: spec.kind,
    data: {
      labels: series.map((f) => formatMonth(f.month)),
      datasets: spec.sets.map(([key, value], i) => ({
        label: t(`chart.set.${key}`), data: series.map((f) => point(spec, value(f))),
        backgroundColor: COLORS[i], borderColor: COLORS[i], tension: 0.25, spanGaps: false,
      })),
    },
    options: {
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: spec.sets.length > 1 },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${spec.format(series[item.dataIndex], item.datasetIndex)}` } } },
      scales: { y: { beginAtZero: true, ...(spec.percent ? { max: 100, ticks: { callback: (v) => `${v}%` } } : {}) } },
    },
  });
  return card;
}

function kpi(value, label, name, alert = false) {
  return h("div", { class: ["kpi", alert ? "alert" : null], dataset: { kpi: name } },
    h("div", { class: "value" }, value), h("div", { class: "label" }, label));
}

const overdueCount = (f) => f.overdue.cells + f.overdue.committees;

function figures(f) {
  return [formatNumber(f.meetings.held), `${formatNumber(f.meetings.on_time)} / ${formatNumber(f.meetings.late)}`,
    formatPercent(f.attendance.roll.present, f.attendance.roll.members), formatRatio(f.opinions.total, f.meetings.held),
    formatPercent(f.votes.ballots, f.votes.eligible),
    overdueCount(f) ? h("span", { class: ["badge", "bad"] }, formatNumber(overdueCount(f))) : "0"];
}

function unitsTable(name, total) {
  const head = [t("unit.unit"), t("dash.held"), t("dash.on_time_late"), t("dash.attendance"), t("dash.opinions"),
    t("dash.participation"), t("dash.overdue")];
  const row = (cells, className, data) => h("tr", { class: className, dataset: data },
    cells.map((c, i) => h("td", { class: i ? "num" : null }, c)));
  const rows = total.children.map((c) => (c.own
    ? row([t("dash.own", { unit: name }), ...figures(c)], "own", { row: c.path })
    : row([unitLink(c.path, c.name, { dashboard: true }), ...figures(c)], overdueCount(c) ? "overdue" : null, { row: c.path })));
  return h("div", { class: "table-wrap" }, h("table", { dataset: { table: "units" } },
    h("thead", {}, h("tr", {}, head.map((label, i) => h("th", { scope: "col", class: i ? "num" : null }, label)))),
    h("tbody", {}, rows),
    h("tfoot", {}, row([t("dash.total"), ...figures(total)]))));
}

function overdueList(kind, items) {
  if (!items.length) return null;
  return [h("h3", {}, t(`dash.overdue_${kind}`, { count: items.length })),
    h("div", { class: "table-wrap" }, table({
      head: [t("unit.unit"), t("dash.last_regular")],
      rows: items.map((u) => [unitLink(u.path, u.name, { dashboard: true }),
        u.last_regular_meeting === null ? h("span", { class: ["badge", "bad"] }, t("dash.never"))
          : formatDate(u.last_regular_meeting)]),
      className: "overdue-list",
    }))];
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
  // The committee sections are asked for and built first: each draws itself (and asks for the
  // names it shows) as its answer comes in, while the figures below are still on their way; they
  // are placed below the charts.
  const committee = committeeSections(committeeWork(path, ctx.signal));
  const zone = chainZone();
  const p = period(ctx.query, zone);
  const [total, Chart] = await Promise.all([
    getJson(`/v1/orgs/${encPath(path)}/stats?${statsQuery(p.from, p.to, zone)}`, { signal: ctx.signal }),
    loadCharts(),
  ]);
  const name = total.name || path;
  ctx.setTitle(t("dash.title", { unit: name }));
  Chart.defaults.font.family = getComputedStyle(document.documentElement).getPropertyValue("--sans");
  Chart.defaults.locale = currentLocale(); // the axes' numbers as the page writes them
  Chart.defaults.color = "#1b2733";
  const m = total.meetings;
  const findings = total.inspection_findings ? Object.values(total.inspection_findings).reduce((a, b) => a + b, 0) : null;
  const overdue = total.overdue_units;
  fill(ctx.main,
    ancestors(path, (a) => `/dashboard/${encPath(a)}`),
    heading(t("dash.title", { unit: name }), h("span", { class: "sub" }, t("dash.period", {
      from: formatMonth(p.from), to: formatMonth(p.to), count: p.months.length })),
    h("a", { href: `/units/${encPath(path)}` }, t("dash.unit_page"))),
    h("section", { class: "card" }, periodForm(ctx, path, p),
      p.clipped ? h("p", { class: "hint" }, t("dash.clipped", { count: MAX_MONTHS })) : null),
    h("div", { class: "kpis" },
      kpi(formatNumber(m.held), t("dash.held"), "held"),
      kpi(formatPercent(m.on_time, m.held), t("dash.on_time_share"), "on_time"),
      kpi(formatPercent(total.attendance.roll.present, total.attendance.roll.members), t("dash.attendance"), "attendance"),
      kpi(formatRatio(total.opinions.total, m.held), t("dash.opinions"), "opinions"),
      kpi(formatPercent(total.votes.ballots, total.votes.eligible), t("dash.participation"), "participation"),
      kpi(formatNumber(total.overdue.cells), t("dash.overdue_cells_kpi"), "overdue_cells", total.overdue.cells > 0),
      kpi(formatNumber(total.overdue.committees), t("dash.overdue_committees_kpi"), "overdue_committees",
        total.overdue.committees > 0),
      kpi(findings === null ? t("dash.withheld") : formatNumber(findings), t("dash.findings"), "findings")),
    total.attendance.minutes_leaving_out_roll_members ? h("p", { class: ["card", "error"], role: "status" },
      t("dash.incomplete_lists", { count: total.attendance.minutes_leaving_out_roll_members,
        members: total.attendance.roll_members_left_out })) : null,
    h("div", { class: "charts" }, CHARTS.map((spec) => chartCard(Chart, spec, total.series))),
    committee,
    section(t("dash.units_title"), h("p", { class: "hint" }, t("dash.units_hint")), unitsTable(name, total)),
    section(t("dash.overdue_title", { count: overdueCount(total) }),
      h("p", { class: "hint" }, t("dash.overdue_hint", { date: formatDate(total.as_of) })),
      overdueCount(total) ? h("div", { dataset: { list: "overdue" } }, overdueList("cells", overdue.cells),
        overdueList("committees", overdue.committees)) : h("p", { class: "muted" }, t("dash.no_overdue"))),
  );
}
