// /blocks/{height}?page=N: a block's header, certificate and documents, each
// with its type, unit, signers and status, fifty to a page (a block holds up to
// 500: the names beside ids are looked up for the page shown only); the previous
// and next block ("next" on the newest block is disabled, not a dead link).

import { ApiError, getJson } from "../api.js";
import { b64d } from "../bytes.js";
import { decodeCanonical } from "../canonical.js";
import { facts, fill, h, mono, section, table } from "../dom.js";
import { formatDateTime, formatNumber, t } from "../i18n.js";
import { docLink, heading, memberLink, pager, statusBadge, typeLabel, unitLink } from "../ui.js";

export const ROWS = 50;

/** The block's envelopes decoded ({doc, sigs} or null each); null when the session may not read them
 * (they are every document's content: an auditor's, node/scopes.py), so none is asked for in vain. */
async function envelopes(height, signal, session) {
  if (!session || !session.reads_all) return null;
  try {
    const answer = await getJson(`/v1/blocks/${height}/envelopes`, { signal });
    return answer.envelopes.map((e) => {
      try {
        return decodeCanonical(b64d(e, "envelope"));
      } catch {
        return null;
      }
    });
  } catch (exc) {
    if (exc instanceof ApiError && (exc.status === 401 || exc.status === 403)) return null;
    throw exc;
  }
}

export async function render(ctx) {
  const height = Number.parseInt(ctx.params[0], 10);
  if (!(height >= 1)) throw new ApiError(404, "not_found", t("block.not_found", { height }));
  const [page, decoded] = await Promise.all([
    getJson(`/v1/blocks?from=${height}&limit=1`, { signal: ctx.signal }),
    envelopes(height, ctx.signal, ctx.session).catch(() => null),
  ]);
  const block = page.blocks[0];
  if (!block || block.height !== height) throw new ApiError(404, "not_found", t("block.not_found", { height }));
  ctx.setTitle(t("block.number", { height }));
  const f = block.header_fields;
  const latest = page.height;
  const pages = Math.max(1, Math.ceil(block.documents.length / ROWS));
  const asked = Number.parseInt(ctx.query.get("page") || "1", 10);
  const current = Math.min(Math.max(Number.isFinite(asked) ? asked : 1, 1), pages);
  const first = (current - 1) * ROWS;
  const rows = block.documents.slice(first, first + ROWS).map((d, k) => {
    const i = first + k;
    const env = decoded ? decoded[i] : null;
    const doc = env ? env.doc : null;
    return [formatNumber(i + 1),
      doc ? typeLabel(doc.type) : "–",
      doc ? unitLink(doc.org) : "–",
      doc ? formatDateTime(doc.created_at) : "–",
      env ? h("span", {}, env.sigs.map((s) => [memberLink(s.signer), " "])) : "–",
      h("span", {}, statusBadge(d.status), d.reason ? h("span", { class: "muted" }, " ", d.reason) : null),
      d.doc_id ? docLink(d.doc_id) : h("span", { class: "badge bad" }, t("block.undecodable"))];
  });
  const rowPager = pages > 1 ? pager([
    { label: t("pager.previous_page"), href: current > 1 ? `/blocks/${height}?page=${current - 1}` : null, rel: "prev" },
    { label: t("pager.page", { page: current, pages }), href: null },
    { label: t("pager.next_page"), href: current < pages ? `/blocks/${height}?page=${current + 1}` : null, rel: "next" },
  ]) : null;
  fill(ctx.main,
    heading(t("block.number", { height }), h("span", { class: "sub" }, formatDateTime(f.timestamp))),
    pager([
      { label: t("block.previous"), href: height > 1 ? `/blocks/${height - 1}` : null, rel: "prev" },
      { label: t("block.next"), href: height < latest ? `/blocks/${height + 1}` : null, rel: "next" },
      { label: t("block.all"), href: `/blocks?to=${height}` },
    ]),
    section(t("block.header"), facts([
      [t("block.hash"), mono(block.block_hash, 0)],
      [t("block.prev_hash"), mono(f.prev_hash, 0)],
      [t("block.time"), formatDateTime(f.timestamp)],
      [t("block.proposer"), f.proposer],
      [t("block.term"), formatNumber(f.term)],
      [t("block.tx_root"), mono(f.tx_root, 0)],
      [t("block.log_size"), formatNumber(f.log_size)],
      [t("block.log_root"), mono(f.log_root, 0)],
      [t("block.certificate"), block.certificate.length ? block.certificate.map((c) => c.node).join(", ") : t("block.uncertified")],
    ]), h("p", { class: "hint" }, h("a", { href: `/v1/blocks/${height}` }, t("block.json")), " · ",
      h("a", { href: `/v1/blocks/${height}/envelopes` }, t("block.envelopes_json")))),
    section(t("block.documents_title", { count: block.documents.length }),
      decoded ? null : h("p", { class: "hint" }, t("block.envelopes_unavailable")),
      rowPager,
      h("div", { class: "table-wrap" }, table({
        head: ["#", t("document.type"), t("field.org"), t("document.created"), t("document.signers"), t("document.status"), t("document.id")],
        rows, empty: t("block.empty"),
      }))),
  );
}
