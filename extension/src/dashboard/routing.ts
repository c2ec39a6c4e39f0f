// URL hash routes of the standalone page: #/<page>[/<id>][?key=value…], e.g. #/runs,
// #/run/<run_id>?thread_id=<thread_id>, #/threads/<thread_id>, #/playground?assistant=chat,
// #/datasets/<name or id>?version=2, #/datasets/<name>?base=<experiment id>&candidate=<experiment id>.
import { PAGE_ID_PARAMS, PAGES, type PageName } from "./contract";

export interface Route {
  page: PageName;
  params: Record<string, string>;
}


export const DEFAULT_ROUTE: Route = { page: "playground", params: {} };

export function parseHash(hash: string): Route {
  let h = hash.startsWith("#") ? hash.slice(1) : hash;
  if (h.startsWith("/")) h = h.slice(1);
  const q = h.indexOf("?");
  const path = q < 0 ? h : h.slice(0, q);
  const query = q < 0 ? "" : h.slice(q + 1);
  const [name, ...rest] = path.split("/").filter(Boolean);
  if (!name || !(PAGES as readonly string[]).includes(name)) return { page: DEFAULT_ROUTE.page, params: {} };
  const page = name as PageName;
  const params: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(query)) params[k] = v;
  const idParam = PAGE_ID_PARAMS[page];
  if (idParam && rest.length) params[idParam] = decodeURIComponent(rest.join("/"));
  return { page, params };
}

export function formatHash(page: PageName, params: Record<string, string> = {}): string {
  const rest = { ...params };
  const idParam = PAGE_ID_PARAMS[page];
  let path = `#/${page}`;
  if (idParam && rest[idParam]) {
    path += `/${encodeURIComponent(rest[idParam])}`;
    delete rest[idParam];
  }
  const entries = Object.entries(rest).filter(([, v]) => v !== undefined && v !== "");
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const query = new URLSearchParams(entries).toString();
  return query ? `${path}?${query}` : path;
}
