// Log in to a minutebook node without sending a secret (node/routes/auth.py).
//
// The member picks their key file; it is read here, in the browser, and never
// uploaded. The node sends a challenge (32 random bytes); we sign
// "minutebook/login/v1\0" + challenge with the key's Ed25519 seed through
// WebCrypto and post only the signature. The node answers a session cookie
// (HttpOnly, SameSite=Strict) that the other pages then use.
//
// Key files encrypted under a passphrase (argon2id + SecretBox) cannot be
// opened here: WebCrypto has no argon2id. Use a plain key file on a machine
// you trust, or the CLI (`minutebook get ... --key FILE` asks for the passphrase).

const LOGIN_DOMAIN = new TextEncoder().encode("minutebook/login/v1\0");
// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): WebCrypto imports private keys only so.
const PKCS8_ED25519 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                       0x04, 0x22, 0x04, 0x20]);

// What is wrong with a key file: `code` for the pages to say it in the reader's language
// (i18n `login.key.<code>`), the message in English for developers.
export class KeyFileError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export function b64urlEncode(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function b64urlDecode(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) throw new KeyFileError("not_b64", "not base64url");
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

// {memberId, seed, publicKey} from a key file's JSON text; KeyFileError saying what is wrong.
export function parseKeyFile(text) {
  let obj;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new KeyFileError("not_json", "the file is not a key file (not JSON)");
  }
  if (!obj || typeof obj.member_id !== "string") {
    throw obj && obj.node_id
      ? new KeyFileError("node_key", "this is a node key; log in with a member's key file")
      : new KeyFileError("no_member", "the file has no member_id: not a member key file");
  }
  if (typeof obj.secret_key === "object" && obj.secret_key !== null) {
    throw new KeyFileError("encrypted", "this key file is encrypted with a passphrase; the browser cannot open it " +
                           "(no argon2id in WebCrypto). Use the CLI, or a plain key file.");
  }
  const seed = b64urlDecode(obj.secret_key);
  if (seed.length !== 32) throw new KeyFileError("bad_seed", "secret_key is not a 32-byte Ed25519 seed");
  return {memberId: obj.member_id, seed, publicKey: obj.public_key};
}

async function importSeed(seed) {
  const der = new Uint8Array(PKCS8_ED25519.length + 32);
  der.set(PKCS8_ED25519);
  der.set(seed, PKCS8_ED25519.length);
  return crypto.subtle.importKey("pkcs8", der, {name: "Ed25519"}, true, ["sign"]);
}

// The Ed25519 signature (64 bytes) of the login message for `challenge`; checks the key file's
// public key matches its seed first.
export async function signChallenge(keyFile, challenge) {
  const key = await importSeed(keyFile.seed);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  if (keyFile.publicKey && jwk.x !== keyFile.publicKey) {
    throw new KeyFileError("key_mismatch", "public_key does not match the secret key's seed");
  }
  const message = new Uint8Array(LOGIN_DOMAIN.length + challenge.length);
  message.set(LOGIN_DOMAIN);
  message.set(challenge, LOGIN_DOMAIN.length);
  return new Uint8Array(await crypto.subtle.sign({name: "Ed25519"}, key, message));
}

async function post(base, path, body) {
  const response = await fetch(base + path, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "Accept": "application/json"},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({message: `HTTP ${response.status}`}));
  if (!response.ok) throw new Error(answer.message || `HTTP ${response.status}`);
  return answer;
}

// Log in with a key file's text; resolves to {member_id, expires, scope}.
export async function login(keyFileText, base = "") {
  const keyFile = parseKeyFile(keyFileText);
  const {challenge} = await post(base, "/v1/auth/challenge");
  const signature = await signChallenge(keyFile, b64urlDecode(challenge));
  return post(base, "/v1/auth/login", {member_id: keyFile.memberId, challenge, signature: b64urlEncode(signature)});
}

export async function logout(base = "") {
  return post(base, "/v1/auth/logout");
}

// {caller, kind, via, scope} of the current session, or null when logged out.
export async function session(base = "") {
  const response = await fetch(base + "/v1/auth/session", {credentials: "same-origin",
                                                            headers: {"Accept": "application/json"}});
  return response.ok ? response.json() : null;
}
