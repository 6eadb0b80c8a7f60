// /documents/{doc_id}: one document as a form, with its signers, where it sits
// in the ledger, the documents it refers to, and its receipt checked live in the
// browser (web/js/receipt.js) against this node's genesis.

import { enc, getJson } from "../api.js";
import { b64d } from "../bytes.js";
import { decodeCanonical } from "../canonical.js";
import { facts, fill, h, mono, section, table } from "../dom.js";
import { documentForm, documentTitle } from "../forms.js";
import { formatDateTime, formatNumber, t } from "../i18n.js";
import { showReceiptCheck } from "../receipt_view.js";
import { blockLink, docLink, heading, memberLink, pager, statusBadge, typeLabel, unitLink } from "../ui.js";

const REFERENCES = 50;

function signers(sigs) {
  return h("ul", { class: "signers" }, sigs.map((s) => h("li", {}, memberLink(s.signer), " ",
    h("span", { class: "muted" }, t("document.key")), " ", mono(Array.from(s.key, (b) => b.toString(16).padStart(2, "0")).join("")))));
}

/** The record's versions (an amendable record: original, amendments, a withdrawal), this one marked. */
function versions(record) {
  if (!Array.isArray(record.versions) || record.versions.length < 2) return null;
  return section(t("document.versions"), h("ol", { class: "versions" }, record.versions.map((v) => h("li", {
    dataset: { version: v.doc_id } },
  h("strong", {}, t(`version.${v.action}`)), " · ", v.doc_id === record.doc_id ? h("span", { class: "badge muted" }, t("document.this_one"))
    : docLink(v.doc_id), " · ", blockLink(v.height),
  v.doc_id === record.current ? [" ", h("span", { class: "badge ok" }, t("document.current"))] : null))),
  record.current === null ? h("p", { class: "badge bad" }, t("document.withdrawn")) : null);
}

/** "This is not the version in force" at the top of a superseded or withdrawn record. */
function superseded(record) {
  if (!("current" in record) || record.current === record.doc_id) return null;
  return h("div", { class: "card error", role: "status", dataset: { superseded: record.current === null ? "withdrawn" : "amended" } },
    record.current === null ? t("document.is_withdrawn")
      : [t("document.is_superseded"), " ", docLink(record.current, t("document.see_current"))]);
}

/** The documents that refer to this one (its amendments, acknowledgements, reports, ballots), a page at a time. */
async function references(id, query, signal) {
  const offset = Math.max(0, Number.parseInt(query.get("refs") || "0", 10) || 0);
  const page = await getJson(`/v1/documents/${enc(id)}/references?limit=${REFERENCES}&offset=${offset}`, { signal });
  if (!page.items.length && !offset) return null;
  return section(t("document.referenced_by"), table({
    head: [t("document.created"), t("document.type"), t("field.org")],
    rows: page.items.map((r) => [formatDateTime(r.created_at), docLink(r.doc_id, typeLabel(r.type)), unitLink(r.org)]),
    empty: t("form.none"),
  }), offset || page.more ? pager([
    { label: t("pager.first_page"), href: offset ? `/documents/${id}` : null },
    { label: t("pager.next_page"), href: page.more ? `/documents/${id}?refs=${offset + REFERENCES}` : null, rel: "next" },
  ]) : null);
}

/** An amendment's replacement body, drawn as a form of the amended record's type. */
async function replacement(doc, signal) {
  if (doc.type !== "amendment" || !doc.body || typeof doc.body.body !== "object" || !doc.body.target) return null;
  const target = await getJson(`/v1/documents/${enc(doc.body.target)}`, { signal });
  return section(t("amendment.replacement", { type: typeLabel(target.doc.type) }),
    documentForm({ type: target.doc.type, body: doc.body.body }));
}

export async function render(ctx) {
  const id = ctx.params[0];
  const record = await getJson(`/v1/documents/${enc(id)}`, { signal: ctx.signal });
  const envelope = decodeCanonical(b64d(record.envelope, "envelope"));
  const doc = envelope.doc;
  const title = documentTitle(doc);
  ctx.setTitle(`${typeLabel(doc.type)} ${title}`);

  const receiptBox = h("div", { class: "receipt", id: "receipt-check" });
  // What the receipt check needs is asked at once, beside what the form needs (one round trip less
  // before the check shows); awaited once the page is drawn.
  const checking = record.status === "accepted" ? Promise.all([
    getJson(`/v1/documents/${enc(id)}/receipt`, { signal: ctx.signal }),
    getJson("/v1/genesis", { signal: ctx.signal }),
  ]) : null;
  checking?.catch(() => {}); // its failure is reported where it is awaited, not as unhandled
  const [replaced, referring] = await Promise.all([replacement(doc, ctx.signal),
    record.status === "accepted" ? references(id, ctx.query, ctx.signal) : null]);
  const refs = doc.refs || [];
  fill(ctx.main,
    heading(h("span", {}, typeLabel(doc.type), title ? h("span", { class: "sub" }, " · ", title) : null),
      statusBadge(record.status)),
    superseded(record),
    h("div", { class: "grid" },
      section(t("document.where"), facts([
        [t("field.org"), unitLink(doc.org)],
        [t("document.status"), h("span", {}, statusBadge(record.status), record.reason ? h("span", { class: "muted" }, " ", record.reason) : null)],
        [t("document.block"), blockLink(record.height)],
        [t("document.leaf"), record.leaf_index === null ? t("document.no_leaf") : formatNumber(record.leaf_index)],
        [t("document.created"), formatDateTime(doc.created_at)],
        [t("document.id"), mono(record.doc_id, 0)],
      ])),
      section(t("document.signers"), signers(envelope.sigs),
        refs.length ? [h("h3", {}, t("document.refs")), h("ul", {}, refs.map((r) => h("li", {}, docLink(r))))] : null)),
    section(t("document.body"), documentForm(doc)),
    replaced,
    versions(record),
    referring,
    record.status === "accepted" ? h("section", { class: "card", aria: { labelledby: "receipt-title" } },
      h("h2", { id: "receipt-title" }, t("receipt.title")),
      h("p", { class: "hint" }, t("receipt.intro")),
      receiptBox,
      h("p", { class: "row" },
        h("a", { class: "button", href: `/v1/documents/${enc(id)}/receipt?download=true`, download: `receipt-${id.slice(0, 16)}.json` }, t("receipt.download")),
        h("a", { href: `/verify?doc=${enc(id)}` }, t("receipt.check_file")),
        h("span", { class: "hint" }, t("receipt.cli"), " ",
          h("code", {}, `minutebook verify receipt-${id.slice(0, 16)}.json --genesis genesis.json`)))) // i18n-exempt: a command
      : section(t("receipt.title"), h("p", { class: "hint" }, t("receipt.rejected"))),
    h("details", { class: "raw card" }, h("summary", {}, t("document.raw")),
      h("pre", {}, JSON.stringify(record.doc, null, 2))),
  );
  if (checking) {
    const [receipt, genesis] = await checking;
    const result = await showReceiptCheck(receiptBox, { receipt, genesis, genesisLabel: t("receipt.this_node") });
    if (result && result.failure) {
      ctx.main.querySelector(".page-head").after(h("div", { class: "card error", role: "alert", dataset: { receiptAlert: "fail" } },
        h("strong", {}, t("document.receipt_failed", { check: t(`check.${result.failure.check}`) })), " ",
        h("a", { href: "#receipt-check" }, t("document.see_check"))));
    }
  }
}
