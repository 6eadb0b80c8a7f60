// Who the pages are signed in as. A page session (node/routes/auth.py) lives in
// an HttpOnly cookie the scripts cannot read, so the pages keep a note of it in
// localStorage ({member_id, expires}), written at login and dropped at logout, at
// its expiry or on the first 401; only while the note says so do they ask the
// node /v1/auth/session (a member route: asked signed out, it would answer 401 on
// every page). The answer says what the session reads (`reads_all`: every record
// and block envelope) and where the pages start for it (`home_unit`).

import { ApiError, getJson } from "./api.js";

const NOTE = "minutebook.session";
let current = null; // {caller, kind, via, scope, reads_all, home_unit} | null

function read() {
  try {
    const note = JSON.parse(localStorage.getItem(NOTE) || "null");
    if (note && typeof note.expires === "number" && note.expires > Date.now()) return note;
  } catch {
    // no storage, or a note that is not ours: signed out
  }
  forget();
  return null;
}

/** Keep the note of a login answer ({member_id, expires, scope}). */
export function note(answer) {
  try {
    localStorage.setItem(NOTE, JSON.stringify({ member_id: answer.member_id, expires: answer.expires }));
  } catch {
    // storage disabled: the session still works, the pages just do not know it
  }
}

export function forget() {
  current = null;
  try {
    localStorage.removeItem(NOTE);
  } catch {
    // nothing kept
  }
}

/** Ask the node who we are, if the note says we signed in; null when signed out. */
export async function load() {
  if (!read()) return null;
  try {
    current = await getJson("/v1/auth/session");
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) forget();
    else throw exc;
  }
  return current;
}

/** The session as last loaded (null: signed out). */
export function session() {
  return current;
}

/** Whether the session reads unit `path`'s records (as the node's require_unit decides), so that a page
 * asks for a unit's name or figures only when the answer can be anything but a 403. */
export function mayRead(path) {
  if (!current) return false;
  if (current.reads_all || path === current.own_unit) return true;
  return (current.reach || []).some((top) => path === top || path.startsWith(`${top}/`));
}

/** A path of this site to come back to after signing in (nothing else: no open redirect). */
export function safeNext(path) {
  return typeof path === "string" && path.startsWith("/") && !path.startsWith("//") ? path : "/";
}
