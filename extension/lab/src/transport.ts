// The dashboard's Transport over JupyterLab's ServerConnection: the token header or the login
// cookie and the XSRF header, and the server's base URL (a JupyterHub prefix included).
import { ServerConnection } from "@jupyterlab/services";
import type { Transport } from "../../src/dashboard/contract";

export const API_PATH = "duragraph/api/v1/";

export function labTransport(settings: ServerConnection.ISettings = ServerConnection.makeSettings()): Transport {
  const base = settings.baseUrl.endsWith("/") ? settings.baseUrl : `${settings.baseUrl}/`;
  const root = base + API_PATH;
  return {
    baseUrl: base,
    request: (path: string, init?: RequestInit) =>
      ServerConnection.makeRequest(root + path.replace(/^\/+/, ""), init ?? {}, settings),
  };
}

/** GET or POST a JSON route; a non-2xx answer becomes an Error with the API's message. */
export async function requestJson<T>(transport: Transport, path: string, body?: unknown): Promise<T> {
  const init: RequestInit =
    body === undefined
      ? { method: "GET" }
      : { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } };
  const response = await transport.request(path, init);
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    throw new Error(`${path}: HTTP ${response.status}, not JSON`);
  }
  if (!response.ok) {
    const message =
      data && typeof data === "object" && "message" in data ? String((data as { message: unknown }).message) : text;
    throw new Error(`${path}: HTTP ${response.status} ${message}`.trim());
  }
  return data as T;
}
