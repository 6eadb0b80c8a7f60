// RFC 9162 Merkle tree hashing and the inclusion check (§2.1.3.2), as
// ledger/merkle.py does it: leaf hash SHA-256(0x00 || leaf), node hash
// SHA-256(0x01 || left || right). Sizes and indexes may exceed 2^31, so no
// 32-bit bit operators are used on them.

import { concat, equalBytes } from "./bytes.js";
import { sha256 } from "./webcrypto.js";

export class InclusionFailed extends Error {
  constructor(rule, vars) {
    super(rule);
    this.rule = rule;
    this.vars = vars;
  }
}

export const leafHash = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
export const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

/** The number of hashes an inclusion proof for `index` in a tree of `size`
 * holds: the steps of the loop in verifyInclusion until sn reaches 0. */
export function inclusionProofLength(index, size) {
  let fn = index;
  let sn = size - 1;
  let length = 0;
  while (sn > 0) {
    if (fn === sn && fn % 2 === 0) {
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    }
    length += 1;
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return length;
}

/** RFC 9162 §2.1.3.2: `leaf` (a leaf hash) is leaf `index` of the tree of `size` with `root`. */
export async function verifyInclusion(leaf, index, size, proof, root) {
  if (!(index >= 0 && index < size)) throw new InclusionFailed("index", { index, size });
  const expected = inclusionProofLength(index, size);
  if (proof.length !== expected) throw new InclusionFailed("length", { got: proof.length, expected });
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0 || !equalBytes(r, root)) throw new InclusionFailed("root", { calculated: r, expected: root });
}
