// The dashboard's committee work for a unit's subtree, below its charts: the
// early warnings (GET /v1/orgs/{path}/warnings; the rules are views/warnings.py's),
// the directives units of the subtree have still to acknowledge or report on,
// with how many acknowledged of how many must (the `directives` of /due,
// figures over the subtree: views/directives.py), and the tasks late or due
// within a week (`tasks_late`, `tasks_due` of /due) with the subtree's task
// figures (/tasks: views/tasks.py). The page only formats what the node
// answers: which warnings a caller sees is the node's to say (warnings about
// members and findings go to the unit's inspectors only, and `withheld` names
// them otherwise), so a kind is shown when it is in the answer, never assumed.
//
// `committeeWork(path, signal)` asks the three questions at once, when the
// dashboard starts asking for its figures; `committeeSections(work)` returns
// the three sections at once, each saying it is loading, and fills each when
// its answer is in (the charts are drawn without waiting for them; the router
// waits for them, through `track`, before it calls the page ready).

import { encPath, getJson } from "./api.js";
import { fill, h, section, table } from "./dom.js";
import { formatDate, formatDateTime, formatMonth, formatNumber, formatPercent, has, t } from "./i18n.js";
import { docLink, memberLink, track, unitLink } from "./ui.js";

const OPEN_UP_TO = 10; // a kind with more warnings than this starts folded

const choice = (group, v) => (has(`${group}.${v}`) ? t(`${group}.${v}`) : String(v ?? "–"));

/** An answer, or {error} (never a rejected promise: the page may already show something else). */
function ask(path, signal) {
  return getJson(path, { signal }).then((answer) => ({ answer }), (error) => ({ error }));
}

/** Start the dashboard's three committee questions about `path`'s subtree. */
export function committeeWork(path, signal) {
  const base = `/v1/orgs/${encPath(path)}`;
  return {
    warnings: ask(`${base}/warnings`, signal),
    due: ask(`${base}/due`, signal),
    tasks: ask(`${base}/tasks?limit=1`, signal), // its figures; the lists come from /due
  };
}

function failed(error) {
  if (error && error.name === "AbortError") return null;
  return h("p", { class: ["card", "error"], role: "status", dataset: { failed: "1" } },
    t("committee.failed"), error && error.message ? [" ", h("span", { class: "detail" }, error.message)] : null);
}

/** A section that says it is loading until `answers` are in, then `draw(...answers)`'s content. */
function pending(name, title, answers, draw) {
  const body = h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  const card = section(title, body);
  card.dataset.list = name;
  card.dataset.state = "loading";
  track(Promise.all(answers).then((got) => {
    const error = got.find((g) => g.error)?.error;
    fill(body, error ? failed(error) : draw(...got.map((g) => g.answer)));
    card.dataset.state = error ? "failed" : "ready";
  }).catch((exc) => {
    console.error(exc); // a bug of this page: the browser tests fail on it
    fill(body, failed(exc));
    card.dataset.state = "failed";
  }));
  return card;
}

// -- warnings --------------------------------------------------------------------------------

const minOf = (values) => (values.length ? Math.min(...values) : null);

/** Since when a warning holds, as its rule dates it (its last regular meeting, the due date it passed...). */
function since(w) {
  const d = w.detail || {};
  switch (w.kind) {
    case "overdue_meeting": return d.last_regular_meeting === null ? t("dash.never") : formatDate(d.last_regular_meeting);
    case "low_attendance": return d.months && d.months.length ? formatMonth(d.months[0].month) : "–";
    case "task_past_due": return formatDate(d.due);
    case "directive_not_acknowledged": return formatDateTime(d.ack_due);
    case "finding_without_follow_up": return formatDate(d.follow_up_due);
    case "near_duplicate_minutes": return formatDate(minOf((d.members || []).map((m) => m.date)));
    case "repeated_opinions": return d.within_one_meeting ? formatDate(d.date) : "–";
    default: return "–";
  }
}

/** What a warning says, by its kind (a kind this page does not know: its detail is not guessed). */
function what(w, rules) {
  const d = w.detail || {};
  const share = (x) => formatNumber(x, { style: "percent", maximumFractionDigits: 0 });
  switch (w.kind) {
    case "overdue_meeting": return t("warning.detail.overdue_meeting");
    case "low_attendance": return t("warning.detail.low_attendance", {
      below: formatPercent(Math.round(d.below * 1000), 1000), count: (d.months || []).length });
    case "absent_without_reason": return t("warning.detail.absent_without_reason", { count: d.meetings });
    case "task_past_due": return t("warning.detail.task_past_due", {
      number: d.number, description: d.description, status: choice("task_status", d.status) });
    case "directive_not_acknowledged": return [t("warning.detail.directive_not_acknowledged", {
      number: d.number, missing: d.missing, count: d.addressed }), " · ", unitLink(d.issuer)];
    case "finding_without_follow_up": return t("warning.detail.finding_without_follow_up", {
      severity: choice("severity", d.severity), count: rules.finding_without_follow_up?.days ?? 0 });
    case "near_duplicate_minutes": return t("warning.detail.near_duplicate_minutes", {
      count: d.size, similarity: share(d.similarity ? d.similarity.max : null) });
    case "repeated_opinions": return d.within_one_meeting
      ? t("warning.detail.repeated_within_meeting", { count: d.repeated_opinions })
      : t("warning.detail.repeated_opinions", { text: d.text, count: d.meetings });
    default: return "";
  }
}

function warningRow(w, rules) {
  return {
    class: "warning", dataset: { kind: w.kind, unit: w.unit ?? "", member: w.member ?? "" },
    cells: [
      [w.unit ? h("div", {}, unitLink(w.unit)) : null, w.member ? h("div", {}, memberLink(w.member)) : null],
      since(w),
      what(w, rules),
      (w.evidence || []).length ? h("ul", { class: "evidence" }, w.evidence.map((id) => h("li", {}, docLink(id)))) : "–",
    ],
  };
}

/** One kind's warnings, folded away when there are many (the counts above say how many of each). */
function warningGroup(kind, items, count, rules) {
  return h("details", { class: "warnings", id: `warnings-${kind}`, dataset: { kind }, open: items.length <= OPEN_UP_TO },
    h("summary", {}, h("strong", {}, choice("warning_kind", kind)), " ", h("span", { class: ["badge", "warn"] }, formatNumber(count))),
    count > items.length ? h("p", { class: "hint", dataset: { cut: kind } },
      t("committee.cut", { shown: items.length, count })) : null,
    h("div", { class: "table-wrap" }, table({
      head: [t("committee.concerns"), t("committee.since"), t("committee.detail"), t("committee.evidence")],
      rows: items.map((w) => warningRow(w, rules)),
    })));
}

function warnings(answer) {
  const counts = Object.entries(answer.counts || {});
  const byKind = new Map();
  for (const w of answer.warnings) {
    if (!byKind.has(w.kind)) byKind.set(w.kind, []);
    byKind.get(w.kind).push(w);
  }
  const count = (kind) => answer.counts?.[kind] ?? byKind.get(kind).length;
  return [
    h("p", { class: "hint" }, t("committee.warnings_hint", { date: formatDateTime(answer.as_of) })),
    counts.length ? h("ul", { class: "counts" }, counts.map(([kind, n]) => h("li", { dataset: { kind, count: String(n) } },
      h("span", { class: ["badge", n ? "warn" : "muted"] }, formatNumber(n)), " ",
      byKind.has(kind) ? h("a", { href: `#warnings-${kind}` }, choice("warning_kind", kind)) : choice("warning_kind", kind)))) : null,
    answer.withheld && answer.withheld.length ? h("p", { class: "hint", dataset: { withheld: answer.withheld.join(",") } },
      t("committee.withheld", { kinds: answer.withheld.map((k) => choice("warning_kind", k)).join(", ") })) : null,
    byKind.size ? [...byKind].map(([kind, items]) => warningGroup(kind, items, count(kind), answer.rules || {}))
      : h("p", { class: "muted" }, t("committee.no_warnings")),
  ];
}

// -- directives ------------------------------------------------------------------------------

/** "2 / 3" with what is late: answers filed late, and those missing past their due date. */
function answered(figures, addressed) {
  return [h("span", { class: "count" }, `${formatNumber(figures.total)} / ${formatNumber(addressed)}`),
    figures.late ? [" ", h("span", { class: ["badge", "warn"], dataset: { late: String(figures.late) } },
      t("committee.late", { count: figures.late }))] : null,
    figures.overdue ? [" ", h("span", { class: ["badge", "bad"], dataset: { overdue: String(figures.overdue) } },
      t("committee.overdue", { count: figures.overdue }))] : null];
}

function directives(answer) {
  const rows = answer.directives.map((d) => ({
    class: d.acknowledged.overdue || d.reported.overdue ? "overdue" : null,
    dataset: { directive: d.directive, late: String(Boolean(d.acknowledged.overdue || d.reported.overdue)) },
    cells: [
      [docLink(d.doc_id, d.number), h("div", {}, d.title)],
      unitLink(d.issuer),
      formatDateTime(d.ack_due),
      answered(d.acknowledged, d.addressed),
      formatDateTime(d.report_due),
      answered(d.reported, d.addressed),
    ],
  }));
  return [h("p", { class: "hint" }, t("committee.directives_hint")),
    h("div", { class: "table-wrap" }, table({
      head: [t("directive.directive"), t("committee.issuer"), t("field.ack_due"), t("committee.acknowledged"),
        t("field.report_due"), t("committee.reported")],
      rows, className: "directives", empty: t("committee.no_directives"),
    }))];
}

// -- tasks -----------------------------------------------------------------------------------

function taskRow(task) {
  const overdue = task.state === "overdue";
  return {
    class: overdue ? "overdue" : null,
    dataset: { resolution: task.resolution, task: String(task.task), state: task.state },
    cells: [
      task.description,
      [docLink(task.doc_id, task.number), h("div", {}, task.title)],
      [h("div", {}, unitLink(task.unit)), h("div", {}, memberLink(task.owner))],
      formatDate(task.due),
      [choice("task_status", task.status),
        overdue ? [" ", h("span", { class: ["badge", "bad"] }, t("task_state.overdue"))] : null],
    ],
  };
}

function tasks(due, figures) {
  const shown = [...due.tasks_late, ...due.tasks_due];
  return [
    h("ul", { class: "counts", dataset: { figures: "tasks" } }, [
      ["tasks", t("committee.tasks_total")], ["open", t("task_state.open")], ["overdue", t("task_state.overdue")],
      ["blocked", t("task_status.blocked")], ["done_on_time", t("task_state.done_on_time")],
      ["done_late", t("task_state.done_late")],
    ].map(([name, label]) => h("li", { dataset: { figure: name, count: String(figures[name]) } },
      h("span", { class: ["badge", name === "overdue" && figures[name] ? "bad" : "muted"] }, formatNumber(figures[name])),
      " ", label))),
    h("p", { class: "hint" }, t("committee.tasks_hint")),
    h("div", { class: "table-wrap" }, table({
      head: [t("committee.task"), t("type.resolution"), t("committee.assignee"), t("field.due"), t("field.status")],
      rows: shown.map(taskRow), className: "tasks", empty: t("committee.no_tasks"),
    })),
  ];
}

/** The three sections, each filled when its answers are in. */
export function committeeSections(work) {
  return [
    pending("warnings", t("committee.warnings_title"), [work.warnings], warnings),
    pending("directives", t("committee.directives_title"), [work.due], directives),
    pending("tasks", t("committee.tasks_title"), [work.due, work.tasks], tasks),
  ];
}
