// Pieces every page uses: links to members (with the name beside the id),
// units, documents and blocks; status badges; error boxes; paging buttons.
// A link that must look something up (a member's name) registers the lookup
// in `pending`, and the router waits for them before it calls the page ready.

import { ApiError, enc, encPath, memberProfile, unitView } from "./api.js";
import { h } from "./dom.js";
import { has, t } from "./i18n.js";
import { mayRead } from "./session.js";

const pending = new Set();

/** Wait for every lookup the page started (names beside ids). */
export async function settle() {
  while (pending.size) {
    const batch = [...pending];
    pending.clear();
    await Promise.allSettled(batch);
  }
}

export function track(promise) {
  pending.add(promise);
  return promise;
}

/** A member's id linked to their page, their name beside it: the one given, or looked up. */
export function memberLink(id, known = undefined) {
  const name = h("span", { class: "name" }, known || "");
  const link = h("a", { href: `/members/${enc(id)}`, class: "member", dataset: { member: id } },
    name, h("span", { class: "id" }, id));
  if (known === undefined) {
    track(memberProfile(id).then((profile) => {
      if (profile && profile.name) name.textContent = profile.name;
      else link.classList.add("unknown");
    }).catch(() => link.classList.add("unknown")));
  }
  return link;
}

/** A unit path linked to its page (or its dashboard), its name beside it: the one given, or looked up. */
export function unitLink(path, name = undefined, { dashboard = false } = {}) {
  const href = dashboard ? `/dashboard/${encPath(path)}` : `/units/${encPath(path)}`;
  const label = h("span", { class: "name" }, name || "");
  const link = h("a", { href, class: "unit", dataset: { unit: path } }, label, h("span", { class: "id" }, path));
  if (name === undefined && mayRead(path)) {
    track(unitView(path).then((view) => {
      if (view && view.unit && view.unit.name) label.textContent = view.unit.name;
    }).catch(() => link.classList.add("unknown")));
  }
  return link;
}

export function docLink(id, label = null) {
  return h("a", { href: `/documents/${id}`, class: "doc", title: id }, label ?? h("code", { class: "mono" }, id.slice(0, 12) + "…"));
}

export function blockLink(height) {
  return h("a", { href: `/blocks/${height}`, class: "block" }, t("block.number", { height }));
}

/** A document type's label ("Biên bản họp" for minutes); the type itself for a type this page does not know. */
export function typeLabel(type) {
  return has(`type.${type}`) ? t(`type.${type}`) : type;
}

export function statusBadge(status) {
  return h("span", { class: ["badge", status === "accepted" ? "ok" : "bad"] }, t(`status.${status}`));
}

/** A box saying what went wrong, for a failed request or a bug. */
export function errorBox(exc) {
  let key = "error.unexpected";
  if (exc instanceof ApiError) {
    key = { 0: "error.network", 401: "error.unauthenticated", 403: "error.forbidden", 404: "error.not_found" }[exc.status]
      || (exc.status >= 500 ? "error.server" : "error.request");
  }
  const here = encodeURIComponent(location.pathname + location.search);
  return h("div", { class: "card error", role: "alert", dataset: { error: key } },
    h("h1", { tabindex: "-1" }, t(`${key}.title`)),
    h("p", {}, t(`${key}.text`)),
    key === "error.unauthenticated" ? h("p", {}, h("a", { class: "button", href: `/login?next=${here}` }, t("error.sign_in"))) : null,
    exc && exc.message ? h("p", { class: "detail" }, exc.message) : null);
}

/** "Newer / older" style paging: each button a link, or disabled when there is nowhere to go. */
export function pager(items) {
  return h("nav", { class: "pager", aria: { label: t("pager.label") } }, items.map(({ label, href, rel }) =>
    href ? h("a", { href, rel: rel || null, class: "button" }, label)
      : h("span", { class: "button disabled", aria: { disabled: "true" } }, label)));
}

export function heading(title, ...extra) {
  return h("header", { class: "page-head" }, h("h1", { tabindex: "-1" }, title), ...extra);
}
