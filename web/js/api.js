// Asking the node: JSON from /v1/..., errors as ApiError with the API's own
// {error, message, field} (README "The HTTP API"), so a page can say what went
// wrong (a 401 or 403 from the access rules, a 404 for an unknown id).

export class ApiError extends Error {
  constructor(status, code, message, field = null) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

const RETRIES = [300, 1000]; // ms before asking again when the request did not reach the node at all

function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("aborted", "AbortError"));
    }, { once: true });
  });
}

/** GET `path` as JSON; throws ApiError (status 0, code "network" when the node cannot be reached).
 * A request that never reached the node (a dropped connection, a network that changed under the
 * browser) is asked again twice, a moment apart: a GET changes nothing, and networks in remote
 * cells drop out. */
export async function getJson(path, { signal } = {}) {
  let response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin", signal });
      break;
    } catch (exc) {
      if (exc.name === "AbortError") throw exc;
      if (attempt >= RETRIES.length) throw new ApiError(0, "network", String(exc.message || exc));
      await pause(RETRIES[attempt], signal);
    }
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, body?.error || `http_${response.status}`, body?.message || "", body?.field || null);
  }
  if (body === null) throw new ApiError(response.status, "bad_response", "");
  return body;
}

/** GET, or null for a 404 (for "does this exist?" questions such as search). */
export async function getJsonOrNull(path, options) {
  try {
    return await getJson(path, options);
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 404) return null;
    throw exc;
  }
}

export const enc = encodeURIComponent;

/** Unit paths keep their slashes in URLs; each segment is encoded. */
export const encPath = (path) => String(path).split("/").map(encodeURIComponent).join("/");

const members = new Map(); // member id -> Promise of the profile (or null if unknown)

/** A member's profile ({member_id, name, unit, status, roles}), cached for the page's life; null if unknown. */
export function memberProfile(id) {
  if (!members.has(id)) {
    members.set(id, getJsonOrNull(`/v1/members/${enc(id)}`).then((r) => (r ? r.member : null)).catch((exc) => {
      members.delete(id);
      throw exc;
    }));
  }
  return members.get(id);
}

const units = new Map(); // unit path -> Promise of {unit, children, members} (or null if unknown)

/** A unit as /v1/orgs/{path} answers ({unit, children, members}), cached for the page's life; null if unknown. */
export function unitView(path) {
  if (!units.has(path)) {
    units.set(path, getJsonOrNull(`/v1/orgs/${encPath(path)}`).catch((exc) => {
      units.delete(path);
      throw exc;
    }));
  }
  return units.get(path);
}
