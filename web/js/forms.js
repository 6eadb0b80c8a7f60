// A document's body as a form a committee office reads, one layout per type
// (ledger/schemas.py has the shapes): names beside member ids, unit names
// beside paths, dates in the display zone, enumerations by their labels. A
// type or a field this file does not know is still shown, field by field
// under its own name, so a document of a newer type is never hidden.

import { b64e, toHex } from "./bytes.js";
import { facts, h, table } from "./dom.js";
import { formatDate, formatDateTime, formatNumber, formatPercent, has, t } from "./i18n.js";
import { docLink, memberLink, unitLink } from "./ui.js";

const GRACE_MS = 7 * 86400000; // on schedule: held no later than 7 days after scheduled_for (README "Stats")

const label = (name) => (has(`field.${name}`) ? t(`field.${name}`) : name);
const choice = (group, v) => (has(`${group}.${v}`) ? t(`${group}.${v}`) : String(v));
const text = (v) => h("p", { class: "text" }, v);
const list = (items, ordered = true) => (items && items.length
  ? h(ordered ? "ol" : "ul", {}, items.map((i) => h("li", {}, i))) : h("p", { class: "muted" }, t("form.none")));
const fieldset = (legend, ...children) => h("fieldset", {}, h("legend", {}, legend), ...children);
const key = (bytes) => h("code", { class: "mono", title: bytes instanceof Uint8Array ? b64e(bytes) : String(bytes) },
  bytes instanceof Uint8Array ? toHex(bytes).slice(0, 16) + "…" : String(bytes));

/** Any value, for fields no layout names. */
function generic(v) {
  if (v === null || v === undefined) return "–";
  if (v instanceof Uint8Array) return key(v);
  if (Array.isArray(v)) return list(v.map(generic));
  if (typeof v === "object") return facts(Object.keys(v).sort().map((k) => [label(k), generic(v[k])]));
  if (typeof v === "boolean") return t(v ? "form.yes" : "form.no");
  return String(v);
}

/** Fields of `body` not in `known`, so nothing is ever left out. */
function rest(body, known) {
  const others = Object.keys(body).filter((k) => !known.includes(k)).sort();
  return others.length ? fieldset(t("form.other"), facts(others.map((k) => [label(k), generic(body[k])]))) : null;
}

function schedule(body) {
  if (typeof body.scheduled_for !== "number") return h("span", { class: "badge muted" }, t("minutes.unscheduled"));
  const onTime = body.held_at <= body.scheduled_for + GRACE_MS;
  return h("span", { class: ["badge", onTime ? "ok" : "warn"] }, t(onTime ? "minutes.on_schedule" : "minutes.late"));
}

function minutes(body) {
  const attendees = body.attendees || [];
  const present = attendees.filter((a) => a.present === true).length;
  return [
    fieldset(t("minutes.meeting"), facts([
      [label("meeting_id"), body.meeting_id],
      [label("kind"), choice("meeting_kind", body.kind)],
      [label("mode"), choice("meeting_mode", body.mode)],
      [label("held_at"), formatDateTime(body.held_at)],
      [label("scheduled_for"), h("span", {}, typeof body.scheduled_for === "number" ? formatDateTime(body.scheduled_for) : "–", " ", schedule(body))],
      [label("chair"), memberLink(body.chair)],
      [label("secretary"), memberLink(body.secretary)],
    ])),
    fieldset(t("minutes.attendance", { present, listed: attendees.length }), table({
      head: [t("field.member"), t("field.present"), t("field.reason")],
      rows: attendees.map((a) => [memberLink(a.member),
        a.present ? h("span", { class: "badge ok" }, t("form.present")) : h("span", { class: "badge bad" }, t("form.absent")),
        a.reason || ""]),
      empty: t("form.none"),
    })),
    fieldset(label("agenda"), list(body.agenda)),
    fieldset(label("opinions"), table({
      head: [t("field.member"), t("field.topic"), t("field.summary")],
      rows: (body.opinions || []).map((o) => [memberLink(o.member), o.topic, o.summary]),
      empty: t("form.none"),
    })),
    fieldset(label("votes"), table({
      head: [t("field.motion"), t("field.for"), t("field.against"), t("field.abstain")],
      rows: (body.votes || []).map((v) => [h("span", {}, v.motion, v.poll ? [" · ", docLink(v.poll, t("minutes.poll"))] : null),
        formatNumber(v.for), formatNumber(v.against), formatNumber(v.abstain)]),
      empty: t("form.none"),
    })),
    fieldset(label("decisions"), list(body.decisions)),
    fieldset(label("text"), text(body.text)),
    rest(body, ["meeting_id", "kind", "mode", "held_at", "scheduled_for", "chair", "secretary", "attendees", "agenda",
      "opinions", "votes", "decisions", "text"]),
  ];
}

function resolution(body) {
  const tally = body.tally || {};
  const cast = (tally.for || 0) + (tally.against || 0) + (tally.abstain || 0);
  return [
    fieldset(t("resolution.resolution"), facts([
      [label("number"), body.number],
      [label("title"), body.title],
      [label("adopted_at"), formatDate(body.adopted_at)],
      [label("minutes"), body.minutes ? docLink(body.minutes) : "–"],
    ])),
    fieldset(label("tally"), facts([
      [label("for"), formatNumber(tally.for)],
      [label("against"), formatNumber(tally.against)],
      [label("abstain"), formatNumber(tally.abstain)],
      [label("eligible"), formatNumber(tally.eligible)],
      [t("resolution.participation"), formatPercent(cast, tally.eligible)],
    ])),
    fieldset(label("tasks"), table({
      head: [t("field.owner"), t("field.due"), t("field.description")],
      rows: (body.tasks || []).map((task) => [memberLink(task.owner), formatDate(task.due), task.description]),
      empty: t("form.none"),
    })),
    fieldset(label("text"), text(body.text)),
    rest(body, ["number", "title", "adopted_at", "minutes", "tally", "tasks", "text"]),
  ];
}

function memberStatus(body) {
  return [
    fieldset(t("member_status.change"), facts([
      [label("member"), memberLink(body.member)],
      [label("change"), choice("change", body.change)],
      [label("effective_at"), formatDate(body.effective_at)],
      [label("to_org"), body.to_org ? unitLink(body.to_org) : null],
      [label("name"), body.name ?? null],
      [label("public_key"), body.public_key ? key(body.public_key) : null],
      [label("reason"), body.reason],
    ])),
    rest(body, ["member", "change", "effective_at", "to_org", "name", "public_key", "reason"]),
  ];
}

function finding(body) {
  const subject = body.subject || {};
  const severity = String(body.severity);
  const tone = { critical: "bad", major: "bad", minor: "warn" }[severity] || "muted";
  return [
    fieldset(t("finding.finding"), facts([
      [label("inspection_id"), body.inspection_id],
      [label("subject"), subject.unit ? unitLink(subject.unit) : subject.member ? memberLink(subject.member) : generic(subject)],
      [label("severity"), h("span", { class: ["badge", tone] }, choice("severity", severity))],
    ]), text(body.finding)),
    fieldset(label("recommendations"), list(body.recommendations)),
    rest(body, ["inspection_id", "subject", "severity", "finding", "recommendations"]),
  ];
}

function governance(body) {
  const shown = [];
  const row = (name, render) => {
    if (name in body) shown.push([label(name), render(body[name])]);
  };
  row("action", (v) => choice("action", v));
  row("path", (v) => unitLink(v));
  row("name", String);
  row("kind", (v) => choice("unit_kind", v));
  row("member", (v) => memberLink(v));
  row("role", (v) => choice("role", v));
  row("unit", (v) => unitLink(v));
  row("node_id", String);
  row("peer_addr", String);
  row("public_key", key);
  return [fieldset(t("form.details"), facts(shown)),
    rest(body, ["action", "path", "name", "kind", "member", "role", "unit", "node_id", "peer_addr", "public_key"])];
}

function confidential(body) {
  return [
    fieldset(t("form.confidential"), h("p", { class: "hint" }, t("form.confidential_hint")), facts([
      [label("recipients"), h("span", {}, (body.recipients || []).map((m) => [memberLink(m), " "]))],
      [label("commitment"), key(body.commitment)],
    ])),
    body.meta && Object.keys(body.meta).length ? fieldset(label("meta"), generic(body.meta)) : null,
  ];
}

function profileEntry(body) {
  return [fieldset(t("profile.entry"), facts([
    [label("member"), memberLink(body.member)],
    [label("kind"), choice("profile_kind", body.kind)],
    [label("title"), body.title],
    [label("institution"), body.institution ?? null],
    [label("started_at"), typeof body.started_at === "number" ? formatDate(body.started_at) : null],
    [label("completed_at"), typeof body.completed_at === "number" ? formatDate(body.completed_at) : null],
    [label("result"), body.result ?? null],
    [label("note"), body.note ?? null],
  ])), rest(body, ["member", "kind", "title", "institution", "started_at", "completed_at", "result", "note"])];
}

function amendment(body) {
  return [fieldset(t("amendment.amendment"), facts([
    [label("target"), docLink(body.target)],
    [label("action"), choice("amendment_action", body.action)],
    [label("reason"), body.reason],
  ])), rest(body, ["target", "action", "reason", "body"])];
}

function directive(body) {
  const addressed = body.addressed || {};
  const to = addressed.scope === "units" ? h("span", {}, (addressed.units || []).map((u) => [unitLink(u), " "]))
    : addressed.scope === "level" ? t("directive.level", { kind: choice("unit_kind", addressed.kind) })
      : t("directive.subtree");
  return [fieldset(t("directive.directive"), facts([
    [label("number"), body.number],
    [label("title"), body.title],
    [label("issued_at"), formatDate(body.issued_at)],
    [label("addressed"), to],
    [label("ack_due"), formatDate(body.ack_due)],
    [label("report_due"), formatDate(body.report_due)],
  ])), fieldset(label("text"), text(body.text)),
  rest(body, ["number", "title", "issued_at", "addressed", "ack_due", "report_due", "text"])];
}

/** Answers that refer to another document by a field (acknowledgements, reports, ballots...). */
function answer(field, extra) {
  return (body) => [fieldset(t("form.details"), facts([
    [label(field), docLink(body[field])],
    ...extra.map(([name, render]) => [label(name), name in body ? render(body[name]) : null]),
  ])), rest(body, [field, ...extra.map(([name]) => name)])];
}

function poll(body) {
  const quorum = body.quorum || {};
  return [fieldset(t("poll.poll"), facts([
    [label("poll_id"), body.poll_id],
    [label("motion"), body.motion],
    [label("options"), list(body.options, false)],
    [label("closes_at"), formatDateTime(body.closes_at)],
    [label("quorum"), t(quorum.strict ? "poll.quorum_strict" : "poll.quorum", { num: quorum.num ?? "?", den: quorum.den ?? "?" })],
    [label("eligible"), choice("poll_eligible", body.eligible)],
  ])), body.text ? fieldset(label("text"), text(body.text)) : null,
  rest(body, ["poll_id", "motion", "options", "closes_at", "quorum", "eligible", "text"])];
}

const LAYOUTS = {
  minutes, resolution, member_status: memberStatus, inspection_finding: finding, org_unit: governance,
  role: governance, member_key: governance, node: governance, profile_entry: profileEntry, amendment, directive,
  directive_ack: answer("directive", [["note", String]]),
  directive_report: answer("directive", [["final", (v) => t(v ? "form.yes" : "form.no")], ["text", text]]),
  task_report: answer("resolution", [["task", (v) => formatNumber(v + 1)], ["status", (v) => choice("task_status", v)],
    ["text", text]]),
  poll, ballot: answer("poll", [["choice", String]]), poll_close: answer("poll", [["note", String]]),
};

/** The form of a document body (a decoded doc: bytes as Uint8Array). */
export function documentForm(doc) {
  const body = doc.body || {};
  const layout = body.confidential === true ? confidential : LAYOUTS[doc.type];
  const parts = layout ? layout(body) : [fieldset(t("form.details"), generic(body))];
  return h("div", { class: "form" }, parts);
}

/** A one-line title for a document: its meeting id, resolution number and title, the change and member... */
export function documentTitle(doc) {
  const body = doc.body || {};
  if (body.confidential === true) return t("form.confidential");
  switch (doc.type) {
    case "minutes": return body.meeting_id;
    case "resolution": return `${body.number} · ${body.title}`;
    case "member_status": return `${choice("change", body.change)} · ${body.member}`;
    case "inspection_finding": return body.inspection_id;
    case "org_unit": return `${choice("action", body.action)} · ${body.path}`;
    case "role": return `${choice("action", body.action)} · ${choice("role", body.role)} · ${body.member}`;
    case "member_key": return `${choice("action", body.action)} · ${body.member}`;
    case "node": return `${choice("action", body.action)} · ${body.node_id}`;
    case "profile_entry": return `${choice("profile_kind", body.kind)} · ${body.title}`;
    case "amendment": return choice("amendment_action", body.action);
    case "directive": return `${body.number} · ${body.title}`;
    case "poll": return `${body.poll_id} · ${body.motion}`;
    case "ballot": return body.choice;
    case "task_report": return choice("task_status", body.status);
    default: return "";
  }
}
