// The canonical encoding in the browser: msgpack restricted so that a value has
// exactly one encoding (ledger/encoding.py is the authority; README "Canonical
// encoding" states the rules). The receipt check decodes envelopes and block
// headers with it, and encodes genesis to compute its hash.
//
// decodeCanonical rejects rather than repairs, as the Python decoder does, but
// checks each rule while reading instead of decoding and re-encoding: every
// integer, length and string must use msgpack's shortest form, strings must be
// valid UTF-8 in Unicode NFC, map keys strings sorted by their UTF-8 bytes with
// no repeat, no floats, no extension types, nesting below 32 levels, at most
// 100,000 items in a container, nothing after the value. A value read this way
// has one encoding only, so the bytes of any part of it (the `doc` inside an
// envelope) are that part's canonical encoding: readSpans gives them without
// encoding anything again.
//
// Values: null, booleans, numbers (integers; BigInt beyond 2^53), strings,
// Uint8Array for bytes, arrays, and maps as null-prototype objects (a key such
// as "__proto__" is an ordinary key). A failure throws NotCanonical with the
// field path (`doc.body.attendees[3].member`) and a rule key that the pages
// translate (i18n `canonical.<rule>`).

export const MAX_DOCUMENT_BYTES = 1 << 20;
export const MAX_DEPTH = 32;
export const MAX_CONTAINER_LEN = 100000;
export const MAX_STR_BYTES = 1 << 20;

export class NotCanonical extends Error {
  constructor(path, rule, detail = "") {
    super(`${path || "(top)"}: ${rule}${detail ? " " + detail : ""}`);
    this.path = path;
    this.rule = rule;
    this.detail = detail;
  }
}

// ignoreBOM: a string that starts with U+FEFF keeps it (the default would drop it, and the bytes
// would not encode back to themselves).
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

function join(path, key) {
  return path ? `${path}.${key}` : key;
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  take(n, path) {
    if (this.pos + n > this.bytes.length) throw new NotCanonical(path, "truncated");
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(path) { return this.view.getUint8(this.take(1, path)); }
  u16(path) { return this.view.getUint16(this.take(2, path)); }
  u32(path) { return this.view.getUint32(this.take(4, path)); }

  // One value at `path`; containers at `depth` (the top level is 0).
  value(path, depth) {
    const tag = this.u8(path);
    if (tag <= 0x7f) return tag;
    if (tag >= 0xe0) return tag - 0x100;
    if ((tag & 0xe0) === 0xa0) return this.str(tag & 0x1f, path);
    if ((tag & 0xf0) === 0x90) return this.array(tag & 0x0f, path, depth);
    if ((tag & 0xf0) === 0x80) return this.map(tag & 0x0f, path, depth);
    switch (tag) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xcc: return this.minimal(this.u8(path), 0x80, path);
      case 0xcd: return this.minimal(this.u16(path), 0x100, path);
      case 0xce: return this.minimal(this.u32(path), 0x10000, path);
      case 0xcf: return this.int64(this.view.getBigUint64(this.take(8, path)), 0x100000000n, null, path);
      case 0xd0: return this.negative(this.view.getInt8(this.take(1, path)), -32, path);
      case 0xd1: return this.negative(this.view.getInt16(this.take(2, path)), -128, path);
      case 0xd2: return this.negative(this.view.getInt32(this.take(4, path)), -32768, path);
      case 0xd3: return this.int64(this.view.getBigInt64(this.take(8, path)), null, -2147483648n, path);
      case 0xd9: return this.str(this.minimalLength(this.u8(path), 32, path), path);
      case 0xda: return this.str(this.minimalLength(this.u16(path), 0x100, path), path);
      case 0xdb: return this.str(this.minimalLength(this.u32(path), 0x10000, path), path);
      case 0xc4: return this.bin(this.u8(path), path);
      case 0xc5: return this.bin(this.minimalLength(this.u16(path), 0x100, path), path);
      case 0xc6: return this.bin(this.minimalLength(this.u32(path), 0x10000, path), path);
      case 0xdc: return this.array(this.minimalLength(this.u16(path), 16, path), path, depth);
      case 0xdd: return this.array(this.minimalLength(this.u32(path), 0x10000, path), path, depth);
      case 0xde: return this.map(this.minimalLength(this.u16(path), 16, path), path, depth);
      case 0xdf: return this.map(this.minimalLength(this.u32(path), 0x10000, path), path, depth);
      case 0xca: case 0xcb: throw new NotCanonical(path, "float");
      case 0xc7: case 0xc8: case 0xc9: case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        throw new NotCanonical(path, "extension");
      default: throw new NotCanonical(path, "not_msgpack", `0x${tag.toString(16)}`);
    }
  }

  // A uint that a shorter form (fixint, or the next smaller uint) could hold is not canonical.
  minimal(value, floor, path) {
    if (value < floor) throw new NotCanonical(path, "non_minimal");
    return value;
  }

  negative(value, floor, path) {
    if (value >= floor) throw new NotCanonical(path, "non_minimal");
    return value;
  }

  int64(value, uintFloor, intFloor, path) {
    if ((uintFloor !== null && value < uintFloor) || (intFloor !== null && value >= intFloor)) {
      throw new NotCanonical(path, "non_minimal");
    }
    const safe = value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER);
    return safe ? Number(value) : value;
  }

  minimalLength(n, floor, path) {
    if (n < floor) throw new NotCanonical(path, "non_minimal");
    return n;
  }

  raw(n, path) {
    if (n > MAX_STR_BYTES) throw new NotCanonical(path, "too_large");
    const at = this.take(n, path);
    return this.bytes.subarray(at, at + n);
  }

  str(n, path) {
    return decodeStr(this.raw(n, path), path);
  }

  bin(n, path) {
    return this.raw(n, path).slice();
  }

  array(n, path, depth) {
    if (depth >= MAX_DEPTH) throw new NotCanonical(path, "too_deep");
    if (n > MAX_CONTAINER_LEN) throw new NotCanonical(path, "too_large");
    const out = [];
    for (let i = 0; i < n; i++) out.push(this.value(`${path}[${i}]`, depth + 1));
    return out;
  }

  map(n, path, depth, spans = null) {
    if (depth >= MAX_DEPTH) throw new NotCanonical(path, "too_deep");
    if (n > MAX_CONTAINER_LEN) throw new NotCanonical(path, "too_large");
    const out = Object.create(null);
    let previous = null;
    for (let i = 0; i < n; i++) {
      const keyBytes = this.key(path);
      const key = decodeStr(keyBytes, path);
      if (previous !== null && compareBytes(previous, keyBytes) >= 0) {
        throw new NotCanonical(join(path, key), "key_order");
      }
      previous = keyBytes;
      const start = this.pos;
      out[key] = this.value(join(path, key), depth + 1);
      if (spans) spans[key] = [start, this.pos];
    }
    return out;
  }

  // A map key: a str of any of the str family, in its shortest form.
  key(path) {
    const tag = this.u8(path);
    let n;
    if ((tag & 0xe0) === 0xa0) n = tag & 0x1f;
    else if (tag === 0xd9) n = this.minimalLength(this.u8(path), 32, path);
    else if (tag === 0xda) n = this.minimalLength(this.u16(path), 0x100, path);
    else if (tag === 0xdb) n = this.minimalLength(this.u32(path), 0x10000, path);
    else throw new NotCanonical(path, "key_type");
    return this.raw(n, path);
  }
}

function decodeStr(bytes, path) {
  let text;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new NotCanonical(path, "bad_utf8");
  }
  if (text.normalize("NFC") !== text) throw new NotCanonical(path, "not_nfc");
  return text;
}

function begin(bytes, maxBytes) {
  if (!(bytes instanceof Uint8Array)) throw new NotCanonical("", "not_bytes");
  if (bytes.length > maxBytes) throw new NotCanonical("", "too_large");
  return new Reader(bytes);
}

function end(reader) {
  if (reader.pos !== reader.bytes.length) throw new NotCanonical("", "trailing");
}

/** Decode `bytes` and prove they are canonical, or throw NotCanonical. */
export function decodeCanonical(bytes, { maxBytes = MAX_DOCUMENT_BYTES } = {}) {
  const reader = begin(bytes, maxBytes);
  const value = reader.value("", 0);
  end(reader);
  return value;
}

/** Decode a canonical top-level map; also return, per key, the [start, end)
 * byte range of its value (the canonical bytes of that value). */
export function readSpans(bytes, { maxBytes = MAX_DOCUMENT_BYTES } = {}) {
  const reader = begin(bytes, maxBytes);
  const tag = reader.u8("");
  let n = -1;
  if ((tag & 0xf0) === 0x80) n = tag & 0x0f;
  else if (tag === 0xde) n = reader.minimalLength(reader.u16(""), 16, "");
  else if (tag === 0xdf) n = reader.minimalLength(reader.u32(""), 0x10000, "");
  if (n < 0) {
    reader.pos = 0;
    reader.value("", 0); // a canonical-form error comes first, as the Python decoder reports it
    end(reader);
    throw new NotCanonical("", "expected_map");
  }
  const spans = Object.create(null);
  const value = reader.map(n, "", 0, spans);
  end(reader);
  return { value, spans };
}

// -- encoding (for the genesis hash) ------------------------------------------

class Writer {
  constructor() {
    this.chunks = [];
    this.size = 0;
  }

  push(bytes) {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  head(tag, n, width) {
    const out = new Uint8Array(1 + width);
    const view = new DataView(out.buffer);
    out[0] = tag;
    if (width === 1) view.setUint8(1, n);
    else if (width === 2) view.setUint16(1, n);
    else if (width === 4) view.setUint32(1, n);
    this.push(out);
  }

  length(n, fixTag, fixMax, tags) {
    if (fixTag !== null && n <= fixMax) this.push(Uint8Array.of(fixTag | n));
    else if (tags[0] !== null && n <= 0xff) this.head(tags[0], n, 1);
    else if (n <= 0xffff) this.head(tags[1], n, 2);
    else this.head(tags[2], n, 4);
  }

  int(value, path) {
    const big = BigInt(value);
    if (big < -(1n << 63n) || big >= 1n << 64n) throw new NotCanonical(path, "int_range");
    const out = new Uint8Array(9);
    const view = new DataView(out.buffer);
    if (big >= 0n) {
      if (big <= 0x7fn) return this.push(Uint8Array.of(Number(big)));
      if (big <= 0xffn) return this.push(Uint8Array.of(0xcc, Number(big)));
      if (big <= 0xffffn) { out[0] = 0xcd; view.setUint16(1, Number(big)); return this.push(out.slice(0, 3)); }
      if (big <= 0xffffffffn) { out[0] = 0xce; view.setUint32(1, Number(big)); return this.push(out.slice(0, 5)); }
      out[0] = 0xcf; view.setBigUint64(1, big); return this.push(out);
    }
    if (big >= -32n) return this.push(Uint8Array.of(Number(big) & 0xff));
    if (big >= -128n) { out[0] = 0xd0; view.setInt8(1, Number(big)); return this.push(out.slice(0, 2)); }
    if (big >= -32768n) { out[0] = 0xd1; view.setInt16(1, Number(big)); return this.push(out.slice(0, 3)); }
    if (big >= -2147483648n) { out[0] = 0xd2; view.setInt32(1, Number(big)); return this.push(out.slice(0, 5)); }
    out[0] = 0xd3; view.setBigInt64(1, big); return this.push(out);
  }

  str(text, path) {
    if (text.normalize("NFC") !== text) throw new NotCanonical(path, "not_nfc");
    const bytes = utf8Encoder.encode(text);
    this.length(bytes.length, 0xa0, 31, [0xd9, 0xda, 0xdb]);
    this.push(bytes);
  }

  value(v, path, depth) {
    if (v === null) return this.push(Uint8Array.of(0xc0));
    if (v === false) return this.push(Uint8Array.of(0xc2));
    if (v === true) return this.push(Uint8Array.of(0xc3));
    if (typeof v === "bigint") return this.int(v, path);
    if (typeof v === "number") {
      if (!Number.isInteger(v)) throw new NotCanonical(path, "float");
      return this.int(v, path);
    }
    if (typeof v === "string") return this.str(v, path);
    if (v instanceof Uint8Array) {
      this.length(v.length, null, 0, [0xc4, 0xc5, 0xc6]);
      return this.push(v);
    }
    if (depth >= MAX_DEPTH) throw new NotCanonical(path, "too_deep");
    if (Array.isArray(v)) {
      this.length(v.length, 0x90, 15, [null, 0xdc, 0xdd]);
      v.forEach((item, i) => this.value(item, `${path}[${i}]`, depth + 1));
      return undefined;
    }
    if (typeof v === "object") {
      const keys = Object.keys(v).map((k) => [utf8Encoder.encode(k), k]);
      keys.sort((a, b) => compareBytes(a[0], b[0]));
      this.length(keys.length, 0x80, 15, [null, 0xde, 0xdf]);
      for (const [, key] of keys) {
        this.str(key, path);
        this.value(v[key], join(path, key), depth + 1);
      }
      return undefined;
    }
    throw new NotCanonical(path, "type", typeof v);
  }

  bytes() {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

/** The canonical bytes of `value` (JSON-like values, Uint8Array for bytes). */
export function encodeCanonical(value) {
  const writer = new Writer();
  writer.value(value, "", 0);
  return writer.bytes();
}
