// The API from the page: the bearer token (kept in sessionStorage: this tab only, gone when it
// closes), and every call. A 401 means the token is gone or wrong: back to the login.
const KEY = "smartcity.token";

export class Unauthorized extends Error {}

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

let onUnauthorized = () => {};
export function whenUnauthorized(handler) { onUnauthorized = handler; }

export async function call(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${token.get() ?? ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    token.clear();
    onUnauthorized("The token was refused: log in again.");
    throw new Unauthorized(path);
  }
  const answer = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const detail = answer?.detail;
    const text = Array.isArray(detail) ? detail.map((d) => `${d.field}: ${d.msg}`).join("; ") : detail;
    const error = new Error(text || `${method} ${path}: ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return answer;
}

export const query = (params) => {
  const kept = Object.entries(params).filter(([, v]) => v !== "" && v !== undefined && v !== null);
  return kept.length ? "?" + new URLSearchParams(kept).toString() : "";
};
