// The receipt check as a reader sees it: the genesis it starts from (and that
// genesis's hash, to compare with the one the organisation published), then
// each check by name, passed, failed (and why) or skipped, and a verdict that
// names the first failure as `minutebook verify` would.

import { fill, h } from "./dom.js";
import { t } from "./i18n.js";
import { CheckFailed, checkReceipt, genesisHash } from "./receipt.js";
import { available, ed25519Supported } from "./webcrypto.js";
import { toHex } from "./bytes.js";

const MARKS = { pass: "✓", fail: "✗", skipped: "–", na: "○" };

function value(v) {
  if (v instanceof Uint8Array) return toHex(v);
  if (v instanceof CheckFailed) return failureText(v);
  if (typeof v === "object" && v !== null) return JSON.stringify(v);
  return v;
}

/** A failure in the reader's language: `fail.<check>.<rule>` with its values. */
export function failureText(failure) {
  const vars = {};
  for (const [k, v] of Object.entries(failure.vars || {})) vars[k] = value(v);
  if ("path" in vars && !vars.path) vars.path = t("receipt.top_level");
  if (failure.rule === "not_canonical") vars.rule = t(`canonical.${vars.rule}`);
  if (failure.check === "shape") vars.rule = t(`shape.${failure.rule}`);
  const key = failure.check === "shape" ? "fail.shape" : `fail.${failure.check}.${failure.rule}`;
  return t(key, vars);
}

/** Check `receipt` against `genesis` and show it in `container`; returns checkReceipt's result (or null). */
export async function showReceiptCheck(container, { receipt, genesis, genesisLabel }) {
  fill(container, h("p", { class: "loading" }, t("receipt.checking")));
  if (!available() || !(await ed25519Supported())) {
    fill(container, h("div", { class: "verdict fail", dataset: { verdict: "unavailable" } },
      t(available() ? "receipt.no_ed25519" : "receipt.insecure")), h("p", { class: "hint" }, t("receipt.offline_hint")));
    return null;
  }
  const result = await checkReceipt(receipt, genesis);
  let hash = null;
  try {
    hash = await genesisHash(genesis);
  } catch {
    hash = null;
  }
  const failed = result.failure;
  const verdict = failed
    ? h("div", { class: "verdict fail", role: "alert", dataset: { verdict: "fail", check: failed.check } },
      t("receipt.failed", { check: t(`check.${failed.check}`), code: failed.check }), " ", failureText(failed))
    : h("div", { class: "verdict pass", role: "status", dataset: { verdict: "pass" } },
      t("receipt.passed", { count: result.results.filter((r) => r.status === "pass").length }));
  const list = h("ol", { class: "checks" }, result.results.map((r) => h("li", { class: r.status, dataset: { check: r.check, status: r.status } },
    h("span", { class: "mark", aria: { hidden: "true" } }, MARKS[r.status]),
    h("span", {}, h("strong", {}, t(`check.${r.check}`)), " ", h("span", { class: "code" }, r.check),
      h("span", { class: "visually-hidden" }, " ", t(`receipt.status.${r.status}`))),
    h("span", { class: "what" }, t(`check.${r.check}.what`)),
    r.failure ? h("span", { class: "why" }, failureText(r.failure)) : null,
    r.status === "na" ? h("span", { class: "why na" }, t(`receipt.na.${r.check}`)) : null)));
  fill(container,
    verdict,
    h("p", { class: "hint" }, t("receipt.against", { genesis: genesisLabel, chain: String(genesis?.chain_id ?? "?") }), " ",
      hash ? h("code", { class: "mono", dataset: { genesisHash: hash } }, hash) : t("receipt.genesis_unreadable")),
    list,
    result.proved ? h("p", { class: "hint" }, t("receipt.proved", {
      height: result.proved.height, leaf: result.proved.leaf_index, size: result.proved.log_size,
      voters: result.proved.certified_by.join(", "),
    })) : null,
  );
  return result;
}
