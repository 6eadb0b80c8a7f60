// Bytes as the JSON formats write them (ledger/jsonfmt.py): base64url without
// padding, and hashes as 64 lowercase hex characters. Decoding is strict, as in
// Python: a string that is not the one canonical spelling of its bytes is refused.

const B64URL = /^[A-Za-z0-9_-]*$/;
const HEX64 = /^[0-9a-f]{64}$/;

export class BadBytes extends Error {
  constructor(field, rule) {
    super(`${field}: ${rule}`);
    this.field = field;
    this.rule = rule;
  }
}

export function b64e(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Unpadded base64url to bytes; `length` (if given) must match. */
export function b64d(text, field, length = null) {
  if (typeof text !== "string") throw new BadBytes(field, "expected_b64");
  if (!B64URL.test(text) || text.length % 4 === 1) throw new BadBytes(field, "expected_b64");
  const padded = text.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (text.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  if (b64e(bytes) !== text) throw new BadBytes(field, "expected_b64");
  if (length !== null && bytes.length !== length) throw new BadBytes(field, "expected_length");
  return bytes;
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A lowercase-hex SHA-256 hash to its 32 bytes. */
export function hexHash(text, field) {
  if (typeof text !== "string" || !HEX64.test(text)) throw new BadBytes(field, "expected_hex");
  return Uint8Array.from(text.match(/../g), (pair) => parseInt(pair, 16));
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export const ascii = (text) => new TextEncoder().encode(text);
