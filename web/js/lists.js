// Lists the node serves a page at a time (views/paging.py: `items` and an
// opaque `next_cursor`, null at the end). A list on an overview shows its first
// few items and a link to the list on its own; the list on its own has a stable
// URL per page (`?list=NAME&cursor=C`), "next" and "first page" links.

import { getJson } from "./api.js";
import { h, table } from "./dom.js";
import { t } from "./i18n.js";
import { pager } from "./ui.js";

export const OVERVIEW = 10;
export const PAGE = 50;

/**
 * One list as a section. `spec`: {name, title, url(cursor, limit) -> API path, head: [labels],
 * row(item) -> cells, empty}. `base`: the page's own URL without query. `focused`: the list
 * is the page's subject (a full page, paging links) rather than a preview on an overview.
 */
export async function listSection(spec, { base, focused, cursor = null, signal, filters = null }) {
  const limit = focused ? PAGE : OVERVIEW;
  const answer = await getJson(spec.url(cursor, limit), { signal });
  const rows = answer.items.map(spec.row);
  const listUrl = (c) => `${base}?list=${spec.name}${spec.query ? `&${spec.query}` : ""}${c ? `&cursor=${encodeURIComponent(c)}` : ""}`;
  const more = focused
    ? pager([
      { label: t("pager.first_page"), href: cursor ? listUrl(null) : null },
      { label: t("pager.next_page"), href: answer.next_cursor ? listUrl(answer.next_cursor) : null, rel: "next" },
    ])
    : answer.next_cursor ? h("p", {}, h("a", { href: listUrl(null) }, t("list.all"))) : null;
  return h("section", { class: "card", dataset: { list: spec.name } },
    h("h2", {}, spec.title),
    filters,
    h("div", { class: "table-wrap" }, table({ head: spec.head, rows, empty: spec.empty })),
    more);
}
