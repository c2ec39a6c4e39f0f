// The standalone page ({base_url}duragraph/ui/): reads the configuration the server put in the
// page, mounts the dashboard and keeps it in sync with the URL hash (#/runs, #/run/<id>, …).
import { mountDashboard } from "./app";
import { fetchTransport } from "./transport";
import { formatHash, parseHash } from "./routing";

declare const __DG_VERSION__: string;

interface PageConfig {
  baseUrl: string;
  apiUrl?: string;
  serverVersion?: string;
  xsrfToken?: string;
}

function start(): void {
  const host = document.getElementById("duragraph-root");
  if (!host) return;
  let config: PageConfig;
  try {
    config = JSON.parse(document.getElementById("duragraph-config")?.textContent ?? "") as PageConfig;
  } catch {
    host.textContent = "DuraGraph: the page's configuration is missing or unreadable; reload the page.";
    return;
  }
  const transport = fetchTransport({ baseUrl: config.baseUrl, apiUrl: config.apiUrl, xsrfToken: config.xsrfToken });
  const route = parseHash(location.hash);
  const handle = mountDashboard(host, {
    transport,
    page: route.page,
    params: route.params,
    frontendVersion: typeof __DG_VERSION__ === "string" ? __DG_VERSION__ : undefined,
    showNavigation: true,
    onNavigate: (page, params) => {
      location.hash = formatHash(page, params);
    },
  });
  window.addEventListener("hashchange", () => {
    const r = parseHash(location.hash);
    handle.navigate(r.page, r.params);
  });
}

// Nothing may escape as an uncaught error: report it in the page instead.
window.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  console.warn("DuraGraph: unhandled", e.reason);
});
start();
