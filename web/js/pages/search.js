// /search?q=: what the text names, asked of the node (/v1/search: exact ids,
// heights and paths, then units and members whose names have words beginning
// with the query's, diacritics aside; nothing is scanned here). One result
// opens at once; several are listed; none says what can be searched.

import { enc, encPath, getJson } from "../api.js";
import { fill, h, section } from "../dom.js";
import { t } from "../i18n.js";
import { heading, typeLabel } from "../ui.js";

function link(r) {
  switch (r.kind) {
    case "document": return { href: `/documents/${r.doc_id}`, label: `${typeLabel(r.type)} · ${r.org}`, id: r.doc_id };
    case "block": return { href: `/blocks/${r.height}`, label: t("block.number", { height: r.height }), id: String(r.height) };
    case "unit": return { href: `/units/${encPath(r.path)}`, label: r.name || r.path, id: r.path };
    case "member": return { href: `/members/${enc(r.member_id)}`, label: r.name || r.member_id, id: r.member_id };
    default: return null;
  }
}

export async function render(ctx) {
  const q = (ctx.query.get("q") || "").trim();
  ctx.setTitle(t("search.title"));
  const answer = q ? await getJson(`/v1/search?q=${enc(q)}`, { signal: ctx.signal }) : { results: [] };
  const results = answer.results.map((r) => ({ kind: r.kind, ...link(r) })).filter((r) => r.href);
  if (results.length === 1) {
    ctx.navigate(results[0].href, { replace: true });
    return;
  }
  fill(ctx.main,
    heading(t("search.title"), q ? h("span", { class: "sub" }, t("search.for", { q })) : null),
    section(results.length ? t("search.results", { count: results.length }) : t("search.nothing"),
      results.length ? h("ul", { class: "results" }, results.map((r) => h("li", { dataset: { kind: r.kind } },
        h("span", { class: "badge muted" }, t(`search.kind.${r.kind}`)), " ", h("a", { href: r.href }, r.label), " ",
        h("span", { class: "muted" }, r.id))))
        : h("p", {}, q ? t("search.none", { q }) : t("search.empty")),
      answer.complete === false ? h("p", { class: "hint" }, t("search.incomplete")) : null,
      h("p", { class: "hint" }, t("search.hint"))),
  );
}
