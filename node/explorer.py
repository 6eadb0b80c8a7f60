"""The web explorer served at ``/``: one page of plain HTML and vanilla JS (no
build step) over the node's own JSON API. Views (by URL fragment): ``#/`` tree
head and latest blocks; ``#/block/H`` a block and its documents; ``#/doc/ID``
a document with its receipt and a link to download the receipt JSON (for
``minutebook verify``); ``#/org/PATH`` a unit with its meeting figures (shown with
``formatPercent`` / ``formatRatio``, the JavaScript twin of client/display.py)."""

from __future__ import annotations

__all__ = ["EXPLORER_HTML"]

EXPLORER_HTML = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>minutebook explorer</title>
<style>
 body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2630;background:#f6f7f9}
 header{background:#17324d;color:#fff;padding:.7em 1.2em;display:flex;gap:1.5em;align-items:center;flex-wrap:wrap}
 header a{color:#cfe3ff;text-decoration:none} header b{font-size:1.15em}
 main{max-width:1100px;margin:1em auto;padding:0 1em}
 section{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:.8em 1.1em;margin-bottom:1em}
 h2{font-size:1.05em;margin:.2em 0 .6em} table{border-collapse:collapse;width:100%}
 td,th{text-align:left;padding:.25em .5em;border-bottom:1px solid #eef0f3;vertical-align:top}
 th{font-weight:600;color:#4a5868;white-space:nowrap} code,.mono{font-family:ui-monospace,monospace;font-size:.88em;word-break:break-all}
 .ok{color:#18794e} .bad{color:#b42318} .muted{color:#6b7785} pre{white-space:pre-wrap;word-break:break-word;background:#f3f5f8;padding:.6em;border-radius:4px;max-height:30em;overflow:auto}
 form{display:inline} input{font:inherit;padding:.15em .4em}
</style>
</head>
<body>
<header><b>minutebook</b><a href="#/">Tree head &amp; blocks</a><a id="rootlink" href="#/org/">Organisation</a>
<a href="/docs">API docs</a>
<form id="find"><input id="q" size="40" placeholder="document id, block height or org path"> <button>Go</button></form>
<span id="node" class="muted"></span></header>
<main id="view"><section>Loading…</section></main>
<script>
"use strict";
const $ = (s) => document.querySelector(s);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"}[c]));
const when = (ms) => ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "";
const short = (h) => h ? esc(h.slice(0, 16)) + "…" : "";
let rootUnit = "";
async function api(path) {
  const r = await fetch(path, {headers: {Accept: "application/json"}});
  const body = await r.json().catch(() => ({error: "bad_response", message: "not JSON"}));
  if (!r.ok) throw new Error((body.message || body.error || r.status) + (body.field ? " [" + body.field + "]" : ""));
  return body;
}
function kv(rows) {
  return "<table>" + rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join("") + "</table>";
}
// One rule with the CLI (client/display.py): from the two integer counts, half up.
function formatPercent(num, den) {
  if (!den) return "–";
  const q = Math.floor((2000 * num + den) / (2 * den));
  return Math.floor(q / 10) + "." + (q % 10) + "%";
}
function formatRatio(num, den) {
  if (!den) return "–";
  const q = Math.floor((200 * num + den) / (2 * den));
  return Math.floor(q / 100) + "." + String(q % 100).padStart(2, "0");
}
async function home() {
  const [th, page] = await Promise.all([api("/v1/tree-head"), api("/v1/blocks?limit=20")]);
  const rows = page.blocks.slice().reverse().map((b) => {
    const acc = b.documents.filter((d) => d.status === "accepted").length;
    return `<tr><td><a href="#/block/${b.height}">${b.height}</a></td><td>${when(b.header_fields.timestamp)}</td>
      <td>${acc} / ${b.documents.length}</td><td>${b.certificate.length}</td><td class="mono">${short(b.block_hash)}</td></tr>`;
  }).join("");
  return `<section><h2>Signed tree head</h2>${kv([["height", th.height], ["log size", th.log_size],
      ["log root", `<code>${esc(th.log_root)}</code>`], ["block hash", `<code>${esc(th.block_hash)}</code>`],
      ["time", when(th.timestamp)], ["certificate", th.certificate.map((c) => esc(c.node)).join(", ") || "none yet"]])}
    <p class="muted">Download: <a href="/v1/tree-head">tree head JSON</a></p></section>
    <section><h2>Latest blocks</h2><table><tr><th>height</th><th>time</th><th>accepted / docs</th><th>signatures</th><th>hash</th></tr>${rows || "<tr><td colspan=5>no blocks yet</td></tr>"}</table></section>`;
}
async function block(h) {
  const b = await api("/v1/blocks/" + encodeURIComponent(h));
  const f = b.header_fields;
  const docs = b.documents.map((d) => `<tr><td>${d.leaf_index ?? "–"}</td><td>${d.doc_id ? `<a class="mono" href="#/doc/${d.doc_id}">${short(d.doc_id)}</a>` : "<span class=bad>undecodable</span>"}</td>
     <td class="${d.status === "accepted" ? "ok" : "bad"}">${esc(d.status)}</td><td>${esc(d.reason || "")}</td></tr>`).join("");
  const nav = `<a href="#/block/${b.height - 1}">← ${b.height - 1}</a> · <a href="#/block/${b.height + 1}">${b.height + 1} →</a>`;
  return `<section><h2>Block ${b.height}</h2><p>${b.height > 1 ? nav : `<a href="#/block/2">2 →</a>`}</p>${kv([
      ["block hash", `<code>${esc(b.block_hash)}</code>`], ["previous", `<code>${esc(f.prev_hash)}</code>`],
      ["time", when(f.timestamp)], ["proposer", esc(f.proposer)], ["term", f.term], ["tx root", `<code>${esc(f.tx_root)}</code>`],
      ["log size", f.log_size], ["log root", `<code>${esc(f.log_root)}</code>`],
      ["certificate", b.certificate.map((c) => esc(c.node)).join(", ") || "none yet"]])}
    <p class="muted">Download: <a href="/v1/blocks/${b.height}">block JSON</a> · <a href="/v1/blocks/${b.height}/envelopes">envelopes</a></p></section>
    <section><h2>Documents</h2><table><tr><th>leaf</th><th>id</th><th>status</th><th>reason</th></tr>${docs}</table></section>`;
}
async function doc(id) {
  const d = await api("/v1/documents/" + encodeURIComponent(id));
  const doc = d.doc;
  let receipt = "";
  if (d.status === "accepted") {
    receipt = `<section><h2>Receipt</h2><p><a href="/v1/documents/${esc(id)}/receipt?download=true">Download receipt JSON</a>
      and check it offline: <code>minutebook verify receipt-${esc(id.slice(0, 16))}.json --genesis genesis.json</code></p></section>`;
  }
  return `<section><h2>Document ${esc(doc.type)} in ${`<a href="#/org/${esc(doc.org)}">${esc(doc.org)}</a>`}</h2>${kv([
      ["id", `<code>${esc(d.doc_id)}</code>`], ["status", `<span class="${d.status === "accepted" ? "ok" : "bad"}">${esc(d.status)}</span> ${esc(d.reason || "")}`],
      ["block", `<a href="#/block/${d.height}">${d.height}</a>`], ["leaf index", d.leaf_index ?? "none (rejected documents are not in the log)"], ["created", when(doc.created_at)]])}
    <h2>Body</h2><pre>${esc(JSON.stringify(doc.body, null, 2))}</pre></section>${receipt}`;
}
function figureRows(s) {
  const m = s.meetings, a = s.attendance, v = s.votes;
  return [["units (cells / committees)", `${s.units.total} (${s.units.cells} / ${s.units.committees})`],
    ["meetings held", `${m.held} (regular ${m.regular})`],
    ["on time / late / unscheduled", `${m.on_time} / ${m.late} / ${m.unscheduled}`],
    ["overdue cells / committees", `${s.overdue.cells} / ${s.overdue.committees}`],
    ["attendance against the roll", `${formatPercent(a.roll.present, a.roll.members)} (${a.roll.present} of ${a.roll.members})`],
    ["attendance against the list", `${formatPercent(a.listed.present, a.listed.listed)} (${a.listed.present} of ${a.listed.listed})`],
    ["minutes leaving out roll members", `${a.minutes_leaving_out_roll_members}`],
    ["opinions per meeting", formatRatio(s.opinions.total, m.held)],
    ["vote participation", formatPercent(v.ballots, v.eligible)],
    ["inspection findings", s.inspection_findings ? Object.entries(s.inspection_findings).map(([k, n]) => `${esc(k)}: ${n}`).join(", ") : "withheld (inspectors only)"],
    ["member status changes", Object.entries(s.member_status_changes).filter(([, n]) => n).map(([k, n]) => `${esc(k)}: ${n}`).join(", ") || "none"]];
}
function overdueList(s) {
  return ["cells", "committees"].map((kind) => s.overdue_units[kind].length ? `<p>Overdue ${kind}: ` +
    s.overdue_units[kind].slice(0, 20).map((u) => `<a href="#/org/${esc(u.path)}">${esc(u.name || u.path)}</a> (last regular meeting ${u.last_regular_meeting ? when(u.last_regular_meeting).slice(0, 10) : "none"})`).join(", ") +
    (s.overdue_units[kind].length > 20 ? " …" : "") + "</p>" : "").join("");
}
async function org(path) {
  if (!path) path = rootUnit;
  const [o, s] = await Promise.all([api("/v1/orgs/" + path), api("/v1/orgs/" + path + "/stats")]);
  const up = path.includes("/") ? `<a href="#/org/${esc(path.slice(0, path.lastIndexOf("/")))}">↑ parent</a>` : "";
  const kids = s.children.map((c) => `<tr><td>${c.own ? esc(c.name || c.path) + " (own records)" : `<a href="#/org/${esc(c.path)}">${esc(c.name || c.path)}</a>`}</td><td>${c.meetings.held}</td>
     <td>${c.meetings.on_time}/${c.meetings.late}</td><td>${c.overdue.cells}/${c.overdue.committees}</td><td>${formatPercent(c.attendance.roll.present, c.attendance.roll.members)}</td><td>${formatRatio(c.opinions.total, c.meetings.held)}</td><td>${formatPercent(c.votes.ballots, c.votes.eligible)}</td></tr>`).join("");
  return `<section><h2>${esc(o.unit.name || path)} <span class="muted">${esc(path)}</span></h2><p>${up}</p>
    ${kv([["kind", esc(o.unit.kind || "")], ["members (direct)", o.members], ["period", `${s.months.first} – ${s.months.last} (${esc(s.time_zone)})`]])}</section>
    <section><h2>Meeting figures (rolled up)</h2>${kv(figureRows(s))}${overdueList(s)}</section>
    <section><h2>Rows</h2><table><tr><th>unit</th><th>meetings</th><th>on time/late</th><th>overdue cells/committees</th><th>attendance (roll)</th><th>opinions/mtg</th><th>vote part.</th></tr>${kids}</table></section>`;
}
async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  const [kind, ...rest] = parts;
  const arg = decodeURIComponent(rest.join("/"));
  $("#view").innerHTML = "<section>Loading…</section>";
  try {
    const html = kind === "block" ? await block(arg) : kind === "doc" ? await doc(arg) : kind === "org" ? await org(arg) : await home();
    $("#view").innerHTML = html;
  } catch (e) {
    $("#view").innerHTML = `<section class="bad">${esc(e.message)}</section>`;
  }
}
$("#find").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("#q").value.trim();
  location.hash = /^[0-9a-f]{64}$/.test(q) ? "#/doc/" + q : /^\d+$/.test(q) ? "#/block/" + q : "#/org/" + q;
});
window.addEventListener("hashchange", route);
api("/v1/status").then((s) => {
  rootUnit = s.root_unit || "";
  $("#rootlink").href = "#/org/" + rootUnit;
  $("#node").textContent = `${s.node_id} · ${s.role || ""} · height ${s.height}`;
}).catch(() => {}).finally(route);
</script>
</body>
</html>
"""
