// Labels and formats for people: every label the pages show comes from a
// catalogue, web/i18n/<lang>.json (a flat map of dotted keys; a value is a
// string with {name} placeholders, or an object of plural forms keyed by
// Intl.PluralRules categories, "other" required). A key missing from the
// catalogue is a bug: it is reported on the console as an error (the browser
// tests fail on any console error) and shown as the key itself.
//
// Language: the reader's choice (remembered in localStorage), else the first
// of the browser's languages that the node offers, else the node's default
// (Vietnamese). Dates, times and numbers are formatted with Intl for the
// language's locale; times in the display zone the node announces
// (/v1/site display_zone, default Asia/Ho_Chi_Minh), months of monthly
// figures in the chain's zone (chain_zone), as the ledger buckets them.

const STORAGE_KEY = "minutebook.lang";
const catalogues = new Map();

const state = {
  lang: null,
  messages: {},
  locale: "vi-VN",
  zone: "Asia/Ho_Chi_Minh",
  chainZone: "Asia/Ho_Chi_Minh",
  plural: null,
  formats: new Map(),
};

export function currentLanguage() {
  return state.lang;
}

export function currentLocale() {
  return state.locale;
}

/** The language to start in: stored choice, then the browser's languages, then the node's default. */
export function pickLanguage(offered, fallback) {
  let stored = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    stored = null; // storage disabled: choose afresh every time
  }
  if (stored && offered.includes(stored)) return stored;
  for (const tag of navigator.languages || [navigator.language]) {
    const primary = String(tag || "").toLowerCase().split("-")[0];
    if (offered.includes(primary)) return primary;
  }
  return offered.includes(fallback) ? fallback : offered[0];
}

async function catalogue(lang) {
  if (!catalogues.has(lang)) {
    catalogues.set(lang, fetch(`/web/i18n/${lang}.json`).then((r) => {
      if (!r.ok) throw new Error(`catalogue ${lang}: HTTP ${r.status}`);
      return r.json();
    }));
  }
  return catalogues.get(lang);
}

/** Start fetching `lang`'s catalogue (the shell does so while it asks the node about itself). */
export function preload(lang) {
  catalogue(lang).catch(() => catalogues.delete(lang));
}

/** Load `lang`'s catalogue and make it current; `remember` stores the choice. */
export async function setLanguage(lang, { remember = false } = {}) {
  state.messages = await catalogue(lang);
  state.lang = lang;
  state.locale = state.messages["meta.locale"] || lang;
  state.plural = new Intl.PluralRules(state.locale);
  state.formats.clear();
  document.documentElement.lang = lang;
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, lang);
    } catch {
      // storage disabled: the choice lasts for this page only
    }
  }
}

export function setZones({ display, chain }) {
  if (display) state.zone = display;
  if (chain) state.chainZone = chain;
  state.formats.clear();
}

export function displayZone() {
  return state.zone;
}

export function chainZone() {
  return state.chainZone;
}

/** The label `key`, with {name} placeholders filled from `vars` (numbers formatted for the locale). */
export function t(key, vars = {}) {
  let message = state.messages[key];
  if (message === undefined) {
    console.error(`missing label "${key}" in web/i18n/${state.lang}.json`);
    return key;
  }
  if (typeof message === "object") {
    const n = typeof vars.count === "number" ? vars.count : 0;
    message = message[state.plural.select(n)] ?? message.other;
  }
  return message.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in vars)) return whole;
    const value = vars[name];
    return typeof value === "number" ? formatNumber(value) : String(value);
  });
}

/** Whether the catalogue has `key` (for labels of values that may be new, e.g. a document type). */
export function has(key) {
  return state.messages[key] !== undefined;
}

/** Labels written in the HTML: data-i18n (text), data-i18n-placeholder, -aria-label, -title. */
export function applyLabels(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const [attr, data] of [["placeholder", "i18nPlaceholder"], ["aria-label", "i18nAriaLabel"], ["title", "i18nTitle"]]) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) el.setAttribute(attr, t(el.dataset[data]));
  }
}

function format(kind, options) {
  const id = kind + JSON.stringify(options);
  if (!state.formats.has(id)) {
    state.formats.set(id, kind === "number" ? new Intl.NumberFormat(state.locale, options)
      : new Intl.DateTimeFormat(state.locale, options));
  }
  return state.formats.get(id);
}

export function formatNumber(n, options = {}) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  return format("number", options).format(n);
}

// Figures from two counts, with the one rule the CLI uses too (client/display.py): a
// percentage with one decimal and a mean with two, rounded half up from the integers
// themselves (never from a ratio already rounded elsewhere), with the same digits as the
// CLI's; only the decimal sign is the locale's ("91,3%" in Vietnamese).
// q = floor((2 * scale * num + den) / (2 * den)) is exact in doubles for counts below 2^40.

function halfUp(num, den, scale) {
  return Math.floor((2 * scale * num + den) / (2 * den));
}

/** num / den as a percentage with one decimal ("91,3 %" / "91.3%" for 73 / 80); "–" when den is 0. */
export function formatPercent(num, den) {
  if (!den) return "–";
  return format("number", { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1, useGrouping: false })
    .format(halfUp(num, den, 1000) / 1000);
}

/** num / den with two decimals ("1,67" / "1.67" for 5 / 3); "–" when den is 0. */
export function formatRatio(num, den) {
  if (!den) return "–";
  return format("number", { minimumFractionDigits: 2, maximumFractionDigits: 2, useGrouping: false })
    .format(halfUp(num, den, 100) / 100);
}

/** Unix ms as date and time in the display zone, with its offset. */
export function formatDateTime(ms) {
  if (typeof ms !== "number") return "–";
  return format("date", {
    timeZone: state.zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    timeZoneName: "shortOffset",
  }).format(new Date(ms));
}

/** Unix ms as the calendar date in the display zone. */
export function formatDate(ms) {
  if (typeof ms !== "number") return "–";
  return format("date", { timeZone: state.zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(ms));
}

/** A month key "2026-09" as "Sep 2026" / "thg 9, 2026". */
export function formatMonth(month) {
  const [year, mon] = month.split("-").map(Number);
  return format("date", { timeZone: "UTC", year: "numeric", month: "short" }).format(new Date(Date.UTC(year, mon - 1, 15)));
}
