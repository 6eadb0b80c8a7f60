// The shell: one page (web/app.html) for every page URL. It learns about the
// node (/v1/site), picks the language, and renders the page the URL names from
// web/js/pages/<name>.js, each of which exports `render(ctx)`. Links between
// pages are followed without reloading (history.pushState); the back button and
// a reload land on the same page, because each page's URL says everything it shows.
//
// When a page has rendered (its data fetched, names beside ids looked up) the
// shell sets <html data-page="NAME" data-ready="1"> and the performance mark
// "page-ready": the browser tests wait on the first and time with the second.

import { getJson } from "./api.js";
import { logout } from "./auth.js";
import { fill, h } from "./dom.js";
import { applyLabels, currentLanguage, pickLanguage, preload, setLanguage, setZones, t } from "./i18n.js";
import { forget, load as loadSession, session } from "./session.js";
import { errorBox, memberLink, settle } from "./ui.js";

const PAGES = [
  [/^\/$/, "home"],
  [/^\/blocks$/, "blocks"],
  [/^\/blocks\/([0-9]+)$/, "block"],
  [/^\/documents\/([0-9a-f]{64})$/, "document"],
  [/^\/units\/(.+?)\/?$/, "unit"],
  [/^\/dashboard(?:\/(.*?))?\/?$/, "dashboard"],
  [/^\/members\/([^/]+)$/, "member"],
  [/^\/search$/, "search"],
  [/^\/verify$/, "verify"],
  [/^\/login$/, "login"],
];

const root = document.documentElement;
const main = document.getElementById("main");
let site = null;
let controller = null;
let firstRender = true;

function match(pathname) {
  for (const [pattern, name] of PAGES) {
    const m = pattern.exec(pathname);
    if (m) return { name, params: m.slice(1).map((p) => (p === undefined ? "" : decodeURIComponent(p))) };
  }
  return null;
}

/** Follow an in-app link without reloading; `replace` for redirects (search -> the one result). */
export function navigate(url, { replace = false } = {}) {
  const target = new URL(url, location.href);
  if (target.origin !== location.origin || !match(target.pathname)) {
    location.assign(target.href);
    return;
  }
  if (replace) history.replaceState(null, "", target.pathname + target.search + target.hash);
  else history.pushState(null, "", target.pathname + target.search + target.hash);
  render();
}

async function render() {
  if (controller) controller.abort();
  controller = new AbortController();
  const { signal } = controller;
  root.dataset.ready = "0";
  const found = match(location.pathname);
  const name = found ? found.name : "not_found";
  root.dataset.page = name;
  markNav(name);
  const ctx = {
    site, signal, main, navigate, session: session(),
    params: found ? found.params : [],
    query: new URLSearchParams(location.search),
    setTitle: (title) => { document.title = `${title} · ${t("app.name")}`; },
  };
  fill(main, h("p", { class: "loading" }, t("common.loading")));
  try {
    if (!found) {
      ctx.setTitle(t("error.not_found.title"));
      fill(main, h("div", { class: "card error", role: "alert" },
        h("h1", { tabindex: "-1" }, t("error.not_found.title")), h("p", {}, t("error.page_not_found")),
        h("p", {}, h("a", { href: "/" }, t("nav.home")))));
    } else {
      const page = await import(`./pages/${name}.js`);
      await page.render(ctx);
      await settle();
    }
  } catch (exc) {
    if (signal.aborted || exc.name === "AbortError") return;
    fill(main, errorBox(exc));
    ctx.setTitle(main.querySelector("h1").textContent);
    if (exc && exc.status === 401 && session()) {
      forget(); // the session ended (expired, or its key revoked): say so in the header too
      showSession();
    }
    if (!(exc && "status" in exc)) console.error(exc);
  }
  if (signal.aborted) return;
  if (!firstRender) {
    const title = main.querySelector("h1");
    if (title) title.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
  firstRender = false;
  showSession();
  root.dataset.ready = "1";
  performance.mark("page-ready", { detail: name });
}

function markNav(name) {
  for (const link of document.querySelectorAll("header.top nav a")) {
    const active = link.dataset.page === name;
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function onClick(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !match(url.pathname)) return;
  event.preventDefault();
  if (url.pathname + url.search === location.pathname + location.search && url.hash) {
    location.hash = url.hash;
    return;
  }
  navigate(url.href);
}

async function switchLanguage(lang) {
  if (lang === currentLanguage()) return;
  root.dataset.ready = "0"; // from the click on: the page is drawn again once the catalogue is in
  await setLanguage(lang, { remember: true });
  showLanguage();
  await render();
}

/** The header's session corner: who is signed in and "sign out", or "sign in". */
function showSession() {
  const who = document.getElementById("who");
  const current = session();
  if (current) {
    fill(who, current.kind === "member" ? memberLink(current.caller) : h("span", {}, current.caller), " ",
      h("button", { type: "button", dataset: { action: "logout" }, on: { click: async () => {
        await logout().catch(() => null);
        forget();
        location.assign("/");
      } } }, t("nav.logout")));
  } else {
    fill(who, h("a", { href: `/login?next=${encodeURIComponent(location.pathname + location.search)}`, class: "button",
      dataset: { page: "login" } }, t("nav.login")));
  }
  const home = (current && current.home_unit) || site?.root_unit || "";
  for (const link of document.querySelectorAll("[data-root-link]")) link.href = `${link.dataset.rootLink}/${home}`;
}

function showLanguage() {
  applyLabels(document);
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === currentLanguage()));
  }
  const footer = document.getElementById("node-facts");
  if (footer && site) {
    footer.textContent = t("footer.facts", { node: site.node_id, chain: site.chain_id, zone: site.display_zone });
  }
  if (site) showSession();
}

// The explorer these pages replaced named its views in the fragment (/#/block/H, /#/doc/ID,
// /#/org/PATH, /#/member/ID): a link kept from it lands on the page it meant.
const FRAGMENTS = { block: "/blocks/", doc: "/documents/", org: "/units/", member: "/members/" };

function followOldFragment() {
  const old = /^#\/(block|doc|org|member)\/(.+)$/.exec(location.hash);
  if (location.pathname === "/" && old) history.replaceState(null, "", FRAGMENTS[old[1]] + old[2]);
}

// The languages web/i18n/ holds and the node's usual default, to start fetching the catalogue
// (and the page's module) while /v1/site answers; the node's answer has the last word.
const CATALOGUES = ["vi", "en"];

async function start() {
  followOldFragment();
  preload(pickLanguage(CATALOGUES, CATALOGUES[0]));
  const found = match(location.pathname);
  if (found) import(`./pages/${found.name}.js`).catch(() => {}); // the error shows when render() imports it
  const asked = loadSession().catch(() => null); // signed out unless the node says otherwise
  try {
    site = await getJson("/v1/site");
  } catch (exc) {
    site = { languages: ["vi", "en"], default_language: "vi", root_unit: null, display_zone: null, chain_zone: null };
    await setLanguage(pickLanguage(site.languages, site.default_language));
    showLanguage();
    fill(main, errorBox(exc));
    root.dataset.ready = "1";
    return;
  }
  setZones({ display: site.display_zone, chain: site.chain_zone });
  await Promise.all([setLanguage(pickLanguage(site.languages, site.default_language)), asked]);
  showLanguage();
  document.addEventListener("click", onClick);
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => switchLanguage(button.dataset.lang));
  }
  document.getElementById("search").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = new FormData(event.target).get("q").toString().trim();
    if (q) navigate(`/search?q=${encodeURIComponent(q)}`);
  });
  window.addEventListener("popstate", render);
  await render();
}

start();
