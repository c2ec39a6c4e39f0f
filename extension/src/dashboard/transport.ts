// The standalone page's transport: fetch() on the same origin with the login cookie, plus the
// XSRF token (from the `_xsrf` cookie, else the one the page was served with) on writes.
import type { Transport } from "./contract";

export function cookie(name: string, cookies: string): string | null {
  for (const part of cookies.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

export interface FetchTransportOptions {
  baseUrl: string;
  /** the API root; default {baseUrl}duragraph/api/v1/ */
  apiUrl?: string;
  xsrfToken?: string;
  fetch?: typeof fetch;
  cookies?: () => string;
}

export function fetchTransport(options: FetchTransportOptions): Transport {
  const base = options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`;
  const api = options.apiUrl ?? `${base}duragraph/api/v1/`;
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const cookies = options.cookies ?? (() => (typeof document === "undefined" ? "" : document.cookie));
  return {
    baseUrl: base,
    request(path: string, init: RequestInit = {}): Promise<Response> {
      const headers = new Headers(init.headers);
      const method = (init.method ?? "GET").toUpperCase();
      if (method !== "GET" && method !== "HEAD") {
        const token = cookie("_xsrf", cookies()) ?? options.xsrfToken;
        if (token) headers.set("X-XSRFToken", token);
        if (init.body !== undefined && !headers.has("Content-Type")) headers.set("Content-Type", "application/json");
      }
      const url = `${api}${path.replace(/^\//, "")}`;
      return doFetch(url, { credentials: "same-origin", ...init, method, headers });
    },
  };
}
