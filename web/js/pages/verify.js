// /verify: check a receipt someone handed over (a file from `minutebook
// receipt` or the download link of a document page), or the receipt of a
// document id from this node (?doc=ID), against this node's genesis or a
// genesis.json the reader opens. Files are read in the browser; nothing is sent.

import { ApiError, enc, getJson } from "../api.js";
import { fill, h, section } from "../dom.js";
import { t } from "../i18n.js";
import { showReceiptCheck } from "../receipt_view.js";
import { heading } from "../ui.js";

const DOC_ID = /^[0-9a-f]{64}$/;

async function readJson(file) {
  try {
    return JSON.parse(await file.text());
  } catch {
    throw new Error(t("verify.not_json", { file: file.name }));
  }
}

export async function render(ctx) {
  ctx.setTitle(t("verify.title"));
  const result = h("div", { id: "receipt-check", class: "receipt" });
  const problem = h("p", { class: "why", role: "alert" });
  const receiptInput = h("input", { type: "file", id: "receipt-file", accept: ".json,application/json" });
  const genesisInput = h("input", { type: "file", id: "genesis-file", accept: ".json,application/json" });
  const docInput = h("input", { type: "text", id: "doc-id", name: "doc", size: 66, spellcheck: "false",
    value: ctx.query.get("doc") || "", placeholder: t("verify.doc_placeholder") });

  async function genesis() {
    const file = genesisInput.files[0];
    if (file) return { genesis: await readJson(file), genesisLabel: t("receipt.file", { file: file.name }) };
    return { genesis: await getJson("/v1/genesis"), genesisLabel: t("receipt.this_node") };
  }

  async function check(loadReceipt) {
    problem.textContent = "";
    fill(result);
    try {
      const receipt = await loadReceipt();
      await showReceiptCheck(result, { receipt, ...(await genesis()) });
    } catch (exc) {
      problem.textContent = exc instanceof ApiError ? t("verify.fetch_failed", { message: exc.message || exc.code }) : exc.message;
    }
    document.documentElement.dataset.checked = String(Number(document.documentElement.dataset.checked || 0) + 1);
  }

  receiptInput.addEventListener("change", () => {
    if (receiptInput.files[0]) check(() => readJson(receiptInput.files[0]));
  });
  genesisInput.addEventListener("change", () => {
    if (receiptInput.files[0]) check(() => readJson(receiptInput.files[0]));
  });
  const docForm = h("form", { class: "row", on: { submit: (event) => {
    event.preventDefault();
    const id = docInput.value.trim();
    if (!DOC_ID.test(id)) {
      problem.textContent = t("verify.bad_doc_id");
      return;
    }
    history.replaceState(null, "", `/verify?doc=${id}`);
    check(() => getJson(`/v1/documents/${enc(id)}/receipt`));
  } } },
  h("label", { for: "doc-id" }, t("verify.doc_label")), docInput, h("button", { type: "submit", class: "primary" }, t("verify.check")));

  fill(ctx.main,
    heading(t("verify.title")),
    section(t("verify.what"), h("p", {}, t("verify.intro")),
      h("div", { class: "form" },
        h("p", { class: "row" }, h("label", { for: "receipt-file" }, t("verify.receipt_label")), receiptInput),
        docForm,
        h("p", { class: "row" }, h("label", { for: "genesis-file" }, t("verify.genesis_label")), genesisInput,
          h("span", { class: "hint" }, t("verify.genesis_hint")))),
      problem),
    section(t("receipt.title"), result),
  );
  const doc = ctx.query.get("doc");
  if (doc && DOC_ID.test(doc)) await check(() => getJson(`/v1/documents/${enc(doc)}/receipt`, { signal: ctx.signal }));
}
