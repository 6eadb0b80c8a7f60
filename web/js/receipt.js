// The receipt check in the browser: the same checks, in the same order and
// under the same names, as the offline verifier (client/verify.py, README
// "Receipt"), against a genesis the reader trusts.
//
//   genesis          genesis lists its nodes (node_id, public_key, role), a voter among them
//   shape            the receipt has every field, of the right type
//   envelope         the envelope bytes decode canonically into {doc, sigs}
//   doc_id           SHA-256 of the document's canonical bytes is doc_id
//   signatures       every envelope signature verifies (Ed25519, "minutebook/doc/v1\0" + doc)
//   block_hash       SHA-256(header bytes) is block.block_hash
//   header_fields    the header decodes canonically and says what header_fields and block.height say
//   membership       each membership receipt (node documents before the block) verifies against the
//                    voters reached so far from genesis, in log order
//   certificate      a strict majority of the voters before the block signed "minutebook/block/v1\0" +
//                    block_hash; non-voters are ignored, each voter counts once, a bad voter entry fails
//   document_status  receipts of the earlier format only, whose block carries the status list
//                    block.documents: it lists the document accepted at leaf_index, the accepted
//                    entries at consecutive leaves ending at log_size - 1 (today's receipts carry no
//                    list: inclusion in the accepted-only log is what proves acceptance, so the
//                    check is "not applicable" there, as client/verify.py skips it)
//   inclusion        the RFC 9162 audit path of SHA-256(0x00 || envelope) at leaf_index reaches
//                    log_root for log_size
//
// Unlike the command line, which stops at the first failure, every check whose
// inputs exist runs, so a reader sees all that holds and all that does not; a
// check that needs what an earlier one could not read is "skipped". The first
// failure in the order above is the one `minutebook verify` names.
//
// Two deliberate differences from the Python verifier: the envelope check reads
// the envelope's structure (doc fields, 32-byte keys, 64-byte signatures) but not
// each document type's body schema (ledger/schemas.py; what a receipt proves does
// not depend on it, and the schemas grow with the ledger); and numbers come
// through JSON.parse, which cannot tell 3 from 3.0.
//
// Failures carry a rule key and values, which the page translates (i18n
// `fail.<check>.<rule>`); nothing here formats text for people.

import { BadBytes, ascii, b64d, concat, equalBytes, hexHash, toHex } from "./bytes.js";
import { NotCanonical, decodeCanonical, encodeCanonical, readSpans } from "./canonical.js";
import { InclusionFailed, leafHash, verifyInclusion } from "./merkle.js";
import { ed25519Verify, sha256 } from "./webcrypto.js";

export const CHECKS = ["genesis", "shape", "envelope", "doc_id", "signatures", "block_hash", "header_fields",
  "membership", "certificate", "document_status", "inclusion"];

const DOC_DOMAIN = ascii("minutebook/doc/v1\0");
const BLOCK_DOMAIN = ascii("minutebook/block/v1\0");
const HEADER_KEYS = ["height", "log_root", "log_size", "prev_hash", "proposer", "term", "timestamp", "tx_root"];
const DOC_KEYS = ["body", "created_at", "nonce", "org", "refs", "type", "v"];
const MEMBER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ORG_PATH = /^[a-z0-9-]+(?:\/[a-z0-9-]+)*$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** A check that did not hold: `rule` and `vars` name what, for the page to say. */
export class CheckFailed extends Error {
  constructor(check, rule, vars = {}) {
    super(`${check}: ${rule} ${JSON.stringify(vars, (k, v) => (v instanceof Uint8Array ? toHex(v) : v))}`);
    this.check = check;
    this.rule = rule;
    this.vars = vars;
  }
}

const isInt = (v, min = 0) => typeof v === "number" && Number.isInteger(v) && v >= min;
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array);
const keysOf = (obj) => Object.keys(obj).sort();
const sameKeys = (obj, keys) => JSON.stringify(keysOf(obj)) === JSON.stringify(keys);

// -- shape (ledger/receipts.py, ledger/blocks.py from_json) ---------------------

function shape(rule, field, extra = {}) {
  return new CheckFailed("shape", rule, { field, ...extra });
}

function require(obj, keys, field) {
  if (!isObject(obj)) throw shape("expected_object", field);
  for (const key of keys) {
    if (!(key in obj)) throw shape("missing", field ? `${field}.${key}` : key);
  }
}

function intField(obj, key, field) {
  if (!isInt(obj[key])) throw shape("expected_int", field);
  return obj[key];
}

function hashes(value, field) {
  if (!Array.isArray(value)) throw shape("expected_hashes", field);
  return value.map((h, i) => bytesField(() => hexHash(h, `${field}[${i}]`)));
}

function bytesField(decode) {
  try {
    return decode();
  } catch (exc) {
    if (exc instanceof BadBytes) throw shape(exc.rule, exc.field);
    throw exc;
  }
}

function documentStatus(obj, field) {
  if (!isObject(obj)) throw shape("expected_object", field);
  for (const key of ["doc_id", "leaf_index", "status"]) {
    if (!(key in obj)) throw shape("missing", `${field}.${key}`);
  }
  const { doc_id: docId, leaf_index: leaf, status } = obj;
  const reason = obj.reason ?? null;
  if (docId !== null && !(typeof docId === "string" && HEX64.test(docId))) throw shape("expected_hex", `${field}.doc_id`);
  if (status !== "accepted" && status !== "rejected") throw shape("bad_status", `${field}.status`);
  if (status === "accepted" && !isInt(leaf)) throw shape("expected_int", `${field}.leaf_index`);
  if (status === "rejected" && leaf !== null) throw shape("rejected_leaf", `${field}.leaf_index`);
  if ((reason !== null) !== (status === "rejected") || (reason !== null && typeof reason !== "string")) {
    throw shape("reason", `${field}.reason`);
  }
  return { docId, leaf, status, reason };
}

function blockShape(obj, field) {
  require(obj, ["height", "header", "header_fields", "block_hash", "certificate"], field);
  if (!isObject(obj.header_fields)) throw shape("expected_object", `${field}.header_fields`);
  if (!Array.isArray(obj.certificate)) throw shape("expected_list", `${field}.certificate`);
  let documents = null; // no status list: a receipt of today's format
  if ("documents" in obj) {
    if (!Array.isArray(obj.documents)) throw shape("expected_list", `${field}.documents`);
    documents = obj.documents.map((d, i) => documentStatus(d, `${field}.documents[${i}]`));
  }
  const height = intField(obj, "height", `${field}.height`);
  const header = bytesField(() => b64d(obj.header, `${field}.header`));
  const blockHash = bytesField(() => hexHash(obj.block_hash, `${field}.block_hash`));
  const certificate = obj.certificate.map((c, i) => {
    const f = `${field}.certificate[${i}]`;
    if (!isObject(c) || !sameKeys(c, ["node", "sig"])) throw shape("expected_node_sig", f);
    if (typeof c.node !== "string" || !c.node) throw shape("expected_string", `${f}.node`);
    return { node: c.node, sig: bytesField(() => b64d(c.sig, `${f}.sig`, 64)) };
  });
  return { height, header, headerFields: obj.header_fields, blockHash, certificate, documents };
}

/** The receipt's shape (ledger/receipts.py Receipt.from_json); throws CheckFailed("shape"). */
export function parseReceipt(obj, field = "", nested = false) {
  require(obj, ["doc_id", "envelope", "leaf_index", "inclusion_proof", "block"], field);
  const p = field ? `${field}.` : "";
  if (typeof obj.doc_id !== "string" || !HEX64.test(obj.doc_id)) throw shape("expected_hex", `${p}doc_id`);
  let membership = [];
  if ("membership" in obj) {
    if (nested) throw shape("nested_membership", `${p}membership`);
    if (!Array.isArray(obj.membership)) throw shape("expected_list", `${p}membership`);
    membership = obj.membership.map((r, i) => parseReceipt(r, `${p}membership[${i}]`, true));
  }
  return {
    docId: obj.doc_id,
    envelope: bytesField(() => b64d(obj.envelope, `${p}envelope`)),
    leafIndex: intField(obj, "leaf_index", `${p}leaf_index`),
    inclusionProof: hashes(obj.inclusion_proof, `${p}inclusion_proof`),
    block: blockShape(obj.block, `${p}block`),
    membership,
  };
}

// -- genesis ----------------------------------------------------------------------

/** The voters of genesis.json: Map node id -> public key (check "genesis"). */
export function genesisVoters(genesis) {
  const fail = (rule, vars) => new CheckFailed("genesis", rule, vars);
  if (!isObject(genesis) || !Array.isArray(genesis.nodes)) throw fail("no_nodes");
  const voters = new Map();
  genesis.nodes.forEach((node, i) => {
    if (!isObject(node) || !("role" in node) || !("node_id" in node) || !("public_key" in node)) throw fail("no_nodes");
    if (node.role !== "voter" && node.role !== "learner") throw fail("role", { index: i });
    if (typeof node.node_id !== "string") throw fail("node_id", { index: i });
    let key;
    try {
      key = b64d(node.public_key, `nodes[${i}].public_key`, 32);
    } catch {
      throw fail("public_key", { index: i });
    }
    if (node.role === "voter") voters.set(node.node_id, key);
  });
  if (!voters.size) throw fail("no_voter");
  return voters;
}

// -- one receipt --------------------------------------------------------------------

/** decode(bytes), a canonical-form failure reported as `check` failing. */
function canonicalFor(check, decode, bytes) {
  try {
    return decode(bytes);
  } catch (exc) {
    if (exc instanceof NotCanonical) throw new CheckFailed(check, "not_canonical", { path: exc.path, rule: exc.rule });
    throw exc;
  }
}

function envelopeOf(bytes) {
  const read = canonicalFor("envelope", readSpans, bytes);
  const fail = (rule, path) => new CheckFailed("envelope", rule, { path });
  const { value, spans } = read;
  if (!sameKeys(value, ["doc", "sigs"])) throw fail("fields", "");
  const doc = value.doc;
  if (!isObject(doc)) throw fail("expected_map", "doc");
  for (const key of DOC_KEYS) if (!(key in doc)) throw fail("missing", `doc.${key}`);
  if (!sameKeys(doc, DOC_KEYS)) throw fail("unknown_fields", "doc");
  if (doc.v !== 1) throw fail("version", "doc.v");
  if (typeof doc.type !== "string" || !doc.type) throw fail("type", "doc.type");
  if (typeof doc.org !== "string" || doc.org.length > 512 || !ORG_PATH.test(doc.org)) throw fail("org", "doc.org");
  if (!isObject(doc.body)) throw fail("expected_map", "doc.body");
  if (!Array.isArray(doc.refs) || !doc.refs.every((r) => typeof r === "string" && HEX64.test(r))) throw fail("refs", "doc.refs");
  if (new Set(doc.refs).size !== doc.refs.length) throw fail("refs", "doc.refs");
  if (!isInt(doc.created_at, 1)) throw fail("created_at", "doc.created_at");
  if (!(doc.nonce instanceof Uint8Array) || doc.nonce.length !== 16) throw fail("nonce", "doc.nonce");
  if (!Array.isArray(value.sigs)) throw fail("expected_list", "sigs");
  const sigs = value.sigs.map((s, i) => {
    const path = `sigs[${i}]`;
    if (!isObject(s) || !sameKeys(s, ["key", "sig", "signer"])) throw fail("sig_fields", path);
    if (typeof s.signer !== "string" || !MEMBER_ID.test(s.signer)) throw fail("signer", `${path}.signer`);
    if (!(s.key instanceof Uint8Array) || s.key.length !== 32) throw fail("key", `${path}.key`);
    if (!(s.sig instanceof Uint8Array) || s.sig.length !== 64) throw fail("sig", `${path}.sig`);
    return { signer: s.signer, key: s.key, sig: s.sig };
  });
  const [start, end] = spans.doc;
  return { doc, docBytes: bytes.subarray(start, end), sigs };
}

function headerOf(bytes) {
  const header = canonicalFor("header_fields", decodeCanonical, bytes);
  const fail = (field) => new CheckFailed("header_fields", "header_field", { field });
  if (!isObject(header) || !sameKeys(header, HEADER_KEYS)) throw new CheckFailed("header_fields", "header_keys");
  if (!isInt(header.height, 1)) throw fail("height");
  for (const key of ["timestamp", "term", "log_size"]) if (!isInt(header[key])) throw fail(key);
  if (typeof header.proposer !== "string" || !header.proposer) throw fail("proposer");
  for (const key of ["prev_hash", "tx_root", "log_root"]) {
    if (!(header[key] instanceof Uint8Array) || header[key].length !== 32) throw fail(key);
  }
  return header;
}

function fieldsJson(header) {
  return {
    height: header.height, prev_hash: toHex(header.prev_hash), timestamp: header.timestamp,
    proposer: header.proposer, term: header.term, tx_root: toHex(header.tx_root),
    log_size: header.log_size, log_root: toHex(header.log_root),
  };
}

/** Check a strict majority of `voters` signed BLOCK_DOMAIN + blockHash; returns the voters counted. */
export async function checkCertificate(blockHash, certificate, voters) {
  if (!voters.size) throw new CheckFailed("certificate", "no_voters");
  const message = concat(BLOCK_DOMAIN, blockHash);
  const signed = new Set();
  for (const [i, entry] of certificate.entries()) {
    const key = voters.get(entry.node);
    if (!key) continue;
    if (!(await ed25519Verify(key, message, entry.sig))) {
      throw new CheckFailed("certificate", "bad_signature", { index: i, node: entry.node });
    }
    signed.add(entry.node);
  }
  const need = Math.floor(voters.size / 2) + 1;
  if (signed.size < need) throw new CheckFailed("certificate", "minority", { signed: signed.size, voters: voters.size, need });
  return [...signed].sort();
}

/**
 * Run the checks envelope .. inclusion on one parsed receipt. `votersBefore(header)`
 * runs the membership step (it may throw CheckFailed("membership")) and returns the
 * voters that certify the block. `record(check, failure|null, value)` is told each
 * result; with `stopAtFirst`, the first failure is thrown instead (for membership
 * receipts, which either hold entirely or fail "membership"). `genesisOk`: whether
 * the genesis check held (the membership step starts from it).
 */
async function checkOne(receipt, votersBefore, record, stopAtFirst, genesisOk = true) {
  const results = { genesis: { ok: genesisOk } };
  const run = async (check, needs, body, applies = true) => {
    if (!applies) {
      record(check, "na");
      results[check] = { ok: true };
      return undefined;
    }
    if (!needs.every((n) => results[n] && results[n].ok)) {
      record(check, "skipped");
      results[check] = { ok: false, skipped: true };
      return undefined;
    }
    try {
      const value = await body();
      results[check] = { ok: true, value };
      record(check, null, value);
      return value;
    } catch (exc) {
      if (!(exc instanceof CheckFailed)) throw exc;
      const failure = exc.check === check ? exc : new CheckFailed(check, exc.rule, exc.vars);
      if (stopAtFirst) throw failure;
      results[check] = { ok: false, failure };
      record(check, failure);
      return undefined;
    }
  };

  const envelope = await run("envelope", [], () => envelopeOf(receipt.envelope));
  await run("doc_id", ["envelope"], async () => {
    const calculated = toHex(await sha256(envelope.docBytes));
    if (calculated !== receipt.docId) throw new CheckFailed("doc_id", "mismatch", { calculated, claimed: receipt.docId });
    return calculated;
  });
  await run("signatures", ["envelope"], async () => {
    if (!envelope.sigs.length) throw new CheckFailed("signatures", "none");
    const message = concat(DOC_DOMAIN, envelope.docBytes);
    const seen = new Set();
    for (const s of envelope.sigs) {
      if (seen.has(s.signer)) throw new CheckFailed("signatures", "twice", { signer: s.signer });
      seen.add(s.signer);
      if (!(await ed25519Verify(s.key, message, s.sig))) throw new CheckFailed("signatures", "bad", { signer: s.signer });
    }
    return envelope.sigs.map((s) => s.signer);
  });
  const block = receipt.block;
  await run("block_hash", [], async () => {
    const calculated = await sha256(block.header);
    if (!equalBytes(calculated, block.blockHash)) {
      throw new CheckFailed("block_hash", "mismatch", { calculated: toHex(calculated), claimed: toHex(block.blockHash) });
    }
    return toHex(calculated);
  });
  const header = await run("header_fields", [], () => {
    const decoded = headerOf(block.header);
    const fields = fieldsJson(decoded);
    const claimed = block.headerFields;
    const names = [...new Set([...Object.keys(fields), ...Object.keys(claimed)])].sort();
    const differ = names.filter((k) => !(k in fields) || !(k in claimed) || fields[k] !== claimed[k]);
    if (differ.length) throw new CheckFailed("header_fields", "differ", { fields: differ.join(", ") });
    if (block.height !== decoded.height) {
      throw new CheckFailed("header_fields", "height", { claimed: block.height, actual: decoded.height });
    }
    return decoded;
  });
  const voters = await run("membership", ["header_fields", "genesis"], () => votersBefore(header));
  const certifiedBy = await run("certificate", ["membership"], () => checkCertificate(block.blockHash, block.certificate, voters));
  await run("document_status", ["header_fields"], () => {
    const accepted = block.documents.filter((d) => d.status === "accepted");
    const first = header.log_size - accepted.length;
    accepted.forEach((d, i) => {
      if (d.leaf !== first + i) {
        throw new CheckFailed("document_status", "order",
          { doc: d.docId, leaf: d.leaf, count: accepted.length, first, last: header.log_size - 1 });
      }
    });
    const entry = accepted.find((d) => d.leaf === receipt.leafIndex);
    if (!entry || entry.docId !== receipt.docId) {
      const refused = block.documents.find((d) => d.docId === receipt.docId && d.status !== "accepted");
      if (refused) throw new CheckFailed("document_status", "rejected", { doc: receipt.docId, reason: refused.reason });
      throw new CheckFailed("document_status", "absent", { height: header.height, doc: receipt.docId, leaf: receipt.leafIndex });
    }
    return entry;
  }, block.documents !== null);
  await run("inclusion", ["header_fields"], async () => {
    try {
      await verifyInclusion(await leafHash(receipt.envelope), receipt.leafIndex, header.log_size,
        receipt.inclusionProof, header.log_root);
    } catch (exc) {
      if (exc instanceof InclusionFailed) throw new CheckFailed("inclusion", exc.rule, exc.vars);
      throw exc;
    }
    return toHex(header.log_root);
  });
  return { envelope, header, voters, certifiedBy };
}

function applyNodeChange(voters, envelope, index) {
  const body = envelope.doc.body;
  const next = new Map(voters);
  if (body.action === "remove") {
    next.delete(body.node_id);
  } else if (body.action === "add") {
    if (body.role === "voter" && body.public_key instanceof Uint8Array) next.set(body.node_id, body.public_key);
    else next.delete(body.node_id);
  } else {
    throw new CheckFailed("membership", "action", { index, action: String(body.action) });
  }
  return next;
}

/**
 * Check `receiptJson` against `genesisJson`. Returns
 * `{results: [{check, status: "pass"|"fail"|"skipped"|"na", failure?}], failure, proved}` ("na": the
 * check does not apply to this receipt):
 * `failure` is the first failed check in CHECKS order (what `minutebook verify` names),
 * `proved` what the receipt proved when every check passed.
 */
export async function checkReceipt(receiptJson, genesisJson) {
  const results = new Map(CHECKS.map((c) => [c, { check: c, status: "skipped" }]));
  const record = (check, failure) => {
    results.set(check, failure === "skipped" || failure === "na" ? { check, status: failure }
      : failure ? { check, status: "fail", failure } : { check, status: "pass" });
  };
  const attempt = (check, body) => {
    try {
      const value = body();
      record(check, null);
      return value;
    } catch (exc) {
      if (!(exc instanceof CheckFailed)) throw exc;
      record(check, exc);
      return null;
    }
  };
  const initial = attempt("genesis", () => genesisVoters(genesisJson));
  const parsed = attempt("shape", () => parseReceipt(receiptJson));
  let outcome = null;
  if (parsed) {
    const followMembership = async (header) => {
      // A node document changes the voters from the block after its own.
      let voters = initial;
      let pending = [];
      let pendingHeight = 0;
      let lastLeaf = -1;
      for (const [i, member] of parsed.membership.entries()) {
        if (member.block.height !== pendingHeight) {
          for (const env of pending) voters = applyNodeChange(voters, env, i);
          pending = [];
          pendingHeight = member.block.height;
        }
        let one;
        try {
          const current = voters;
          one = await checkOne(member, () => current, () => {}, true);
        } catch (exc) {
          if (!(exc instanceof CheckFailed)) throw exc;
          throw new CheckFailed("membership", "item", { index: i, inner: exc });
        }
        if (one.envelope.doc.type !== "node") throw new CheckFailed("membership", "not_node", { index: i, type: one.envelope.doc.type });
        if (member.leafIndex <= lastLeaf) throw new CheckFailed("membership", "order", { index: i });
        if (one.header.height >= header.height) {
          throw new CheckFailed("membership", "late", { index: i, height: one.header.height, block: header.height });
        }
        lastLeaf = member.leafIndex;
        pending.push(one.envelope);
      }
      for (const env of pending) voters = applyNodeChange(voters, env, parsed.membership.length);
      return voters;
    };
    outcome = await checkOne(parsed, followMembership, record, false, initial !== null);
  }
  const list = CHECKS.map((c) => results.get(c));
  const firstFailure = list.find((r) => r.status === "fail");
  let proved = null;
  if (!firstFailure && list.every((r) => r.status === "pass" || r.status === "na")) {
    const { envelope, header, voters, certifiedBy } = outcome;
    proved = {
      doc_id: parsed.docId, type: envelope.doc.type, org: envelope.doc.org, created_at: envelope.doc.created_at,
      signers: envelope.sigs.map((s) => s.signer), leaf_index: parsed.leafIndex, height: header.height,
      block_hash: toHex(parsed.block.blockHash), log_size: header.log_size, log_root: toHex(header.log_root),
      voters: [...voters.keys()].sort(), certified_by: certifiedBy,
    };
  }
  return { results: list, failure: firstFailure ? firstFailure.failure : null, proved };
}

/** The genesis hash: SHA-256 of canonical(genesis with every member's and node's public_key as bytes). */
export async function genesisHash(genesisJson) {
  const withKeys = (entries) => entries.map((e) => ({ ...e, public_key: b64d(e.public_key, "public_key", 32) }));
  const hashed = { ...genesisJson, members: withKeys(genesisJson.members), nodes: withKeys(genesisJson.nodes) };
  return toHex(await sha256(encodeCanonical(hashed)));
}
