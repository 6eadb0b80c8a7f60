// SHA-256 and Ed25519 from the browser's own WebCrypto (crypto.subtle): no
// JavaScript cryptography library. WebCrypto exists only in a secure context
// (https, or http on localhost); `available()` says whether this page has it,
// and the receipt pages explain what to do when it has not.

const ED25519 = { name: "Ed25519" };

export function available() {
  return Boolean(globalThis.isSecureContext && globalThis.crypto && globalThis.crypto.subtle);
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** Whether this browser verifies Ed25519 (Chromium 137+, Firefox 129+, Safari 17+). */
export async function ed25519Supported() {
  if (!available()) return false;
  try {
    await crypto.subtle.importKey("raw", new Uint8Array(32).fill(1), ED25519, false, ["verify"]);
    return true;
  } catch (exc) {
    return exc.name !== "NotSupportedError";
  }
}

const keys = new Map();

/** True iff `sig` is `publicKey`'s Ed25519 signature over `message`. Never
 * throws: a malformed key or signature is simply false (as ledger/keys.py's verify). */
export async function ed25519Verify(publicKey, message, sig) {
  if (publicKey.length !== 32 || sig.length !== 64) return false;
  try {
    const id = publicKey.join(",");
    let key = keys.get(id);
    if (!key) {
      key = await crypto.subtle.importKey("raw", publicKey, ED25519, false, ["verify"]);
      keys.set(id, key);
    }
    return await crypto.subtle.verify(ED25519, key, sig, message);
  } catch {
    return false;
  }
}
