// Building the pages' DOM: elements from plain values, text always as text
// nodes (never parsed as HTML), so data from the ledger cannot inject markup.

/**
 * h("a", {href: "/x", class: "link"}, "text", child, [more, children]).
 * Props: `class` (string or array), `text`, `dataset` (object), `on` ({event: handler}),
 * `aria` ({label: ...} -> aria-label), anything else as an attribute (false/null: omitted).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (name === "text") el.textContent = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "on") for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
    else if (name === "aria") for (const [k, v] of Object.entries(value)) el.setAttribute(`aria-${k}`, v);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/** Replace `el`'s children with `children` (nested arrays flattened; null, undefined and false left out). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A table: `head` labels, `rows` arrays of cells (each a value or a node), or {cells, class, dataset}
 * for a row that says more about itself; optional caption. */
export function table({ head, rows, caption = null, className = null, empty = null }) {
  const row = (r) => (Array.isArray(r) ? { cells: r } : r);
  return h("table", { class: className },
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, head.map((label) => h("th", { scope: "col" }, label)))),
    h("tbody", {}, rows.length ? rows.map(row).map((r) => h("tr", { class: r.class, dataset: r.dataset },
      r.cells.map((c) => h("td", {}, c))))
      : empty ? h("tr", {}, h("td", { colspan: head.length, class: "empty" }, empty)) : null));
}

/** A definition list from [label, value] pairs (values may be nodes; null values are left out). */
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(([, v]) => v !== null && v !== undefined)
    .map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]));
}

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

/** A shortened hash or id in monospace, the whole value in its title. */
export function mono(text, short = 16) {
  const value = String(text ?? "");
  return h("code", { class: "mono", title: value }, short && value.length > short + 2 ? value.slice(0, short) + "…" : value);
}
