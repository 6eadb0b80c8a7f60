// /blocks?to=H: twenty blocks, newest first, ending at height H (default: the
// newest); newer and older pages, the first and the last, and a jump to a height.

import { getJson } from "../api.js";
import { fill, h, mono, section, table } from "../dom.js";
import { formatDateTime, formatNumber, t } from "../i18n.js";
import { blockLink, heading, pager } from "../ui.js";

export const PAGE = 20;

export async function render(ctx) {
  ctx.setTitle(t("blocks.title"));
  const latest = (await getJson("/v1/blocks?limit=1", { signal: ctx.signal })).height;
  const asked = Number.parseInt(ctx.query.get("to") || "", 10);
  const to = Number.isFinite(asked) ? Math.min(Math.max(asked, 1), latest) : latest;
  const from = Math.max(1, to - PAGE + 1);
  const page = latest ? await getJson(`/v1/blocks?from=${from}&limit=${to - from + 1}`, { signal: ctx.signal }) : { blocks: [] };
  const rows = page.blocks.slice().reverse().map((b) => {
    const accepted = b.documents.filter((d) => d.status === "accepted").length;
    return [blockLink(b.height), formatDateTime(b.header_fields.timestamp), b.header_fields.proposer,
      t("block.accepted_of", { accepted, count: b.documents.length }),
      b.documents.length - accepted ? h("span", { class: "badge bad" }, formatNumber(b.documents.length - accepted)) : "0",
      formatNumber(b.certificate.length), mono(b.block_hash)];
  });
  const newest = to >= latest;
  const oldest = from <= 1;
  const jump = h("form", { on: { submit: (event) => {
    event.preventDefault();
    const height = Number.parseInt(new FormData(event.target).get("height"), 10);
    if (height >= 1) ctx.navigate(`/blocks/${height}`);
  } } }, h("input", { name: "height", type: "number", min: 1, max: latest || 1, aria: { label: t("blocks.jump_label") },
    placeholder: t("blocks.jump_placeholder") }), h("button", { type: "submit" }, t("blocks.jump")));
  const nav = pager([
    { label: t("pager.newest"), href: newest ? null : "/blocks" },
    { label: t("pager.newer"), href: newest ? null : `/blocks?to=${Math.min(latest, to + PAGE)}`, rel: "prev" },
    { label: t("pager.older"), href: oldest ? null : `/blocks?to=${from - 1}`, rel: "next" },
    { label: t("pager.oldest"), href: oldest ? null : `/blocks?to=${Math.min(latest, PAGE)}` },
  ]);
  nav.append(jump);
  fill(ctx.main,
    heading(t("blocks.title"), h("span", { class: "sub" }, latest ? t("blocks.range", { from, to, latest }) : t("block.none"))),
    section(t("blocks.title"), nav, h("div", { class: "table-wrap" }, table({
      head: [t("block.height"), t("block.time"), t("block.proposer"), t("block.documents"), t("block.rejected"),
        t("block.certificate"), t("block.hash")],
      rows, empty: t("block.none"),
    }))),
  );
}
