// The dashboard: a shell (navigation, version handshake, connection notices) around one page at a
// time. Framework-free; both hosts (the standalone page and the JupyterLab extension) mount it.
import { Api, errorText } from "./api";
import { PAGE_ATTRIBUTE, PAGE_TITLES, PAGES, type DashboardHandle, type DashboardOptions, type PageName } from "./contract";
import { assistantsPage, threadsPage, tracesPage } from "./pages/browse";
import { cronsPage } from "./pages/crons";
import { datasetsPage } from "./pages/datasets";
import { playgroundPage } from "./pages/playground";
import { runPage } from "./pages/run";
import { runsPage } from "./pages/runs";
import { h, Notice, type Cleanup, type Page, type PageContext } from "./ui";

const PAGE_IMPL: Record<PageName, Page> = {
  playground: playgroundPage,
  threads: threadsPage,
  assistants: assistantsPage,
  runs: runsPage,
  datasets: datasetsPage,
  crons: cronsPage,
  traces: tracesPage,
  run: runPage,
};


/** The version handshake's verdict (null: nothing to say). */
export function versionWarning(frontend: string | undefined, server: unknown): string | null {
  if (!frontend) return null;
  if (typeof server !== "string" || !server) return "the server did not report its version";
  if (server === frontend) return null;
  return `version mismatch: this page is DuraGraph Lab ${frontend}, the server extension is ${server}. Reload the page; if the warning stays, reinstall duragraph-lab so both match.`;
}

export function mountDashboard(host: HTMLElement, options: DashboardOptions): DashboardHandle {
  const api = new Api(options.transport);
  const showNav = options.showNavigation ?? options.onNavigate === undefined;
  const root = h("div", { class: "dg-dashboard", "data-dg-dashboard": "" });
  const nav = h("nav", { class: "dg-nav", "aria-label": "DuraGraph pages" });
  const banner = new Notice();
  banner.element.classList.add("dg-banner");
  banner.element.setAttribute("data-dg-banner", "");
  const body = h("div", { class: "dg-body" });
  if (showNav) root.append(nav);
  root.append(banner.element, body);
  host.replaceChildren(root);

  let cleanups: Cleanup[] = [];
  let current: { page: PageName; params: Record<string, string> } = { page: options.page, params: options.params ?? {} };
  let disposed = false;

  const navigate = (page: PageName, params: Record<string, string> = {}): void => {
    if (options.onNavigate) options.onNavigate(page, params);
    else show(page, params);
  };

  function renderNav(): void {
    const links = PAGES.filter((p) => p !== "run").map((p) => {
      const b = h("button", { type: "button", class: `dg-nav-item${p === current.page ? " dg-active" : ""}`, "data-nav": p }, PAGE_TITLES[p]);
      b.addEventListener("click", () => navigate(p, {}));
      return b;
    });
    nav.replaceChildren(h("span", { class: "dg-brand" }, "DuraGraph"), ...links);
  }

  function show(page: PageName, params: Record<string, string> = {}): void {
    for (const fn of cleanups.splice(0)) {
      try {
        fn();
      } catch (err) {
        console.warn("DuraGraph: a page's cleanup failed", err);
      }
    }
    current = { page, params };
    renderNav();
    const pageRoot = h("div", { class: `dg-page dg-page-${page}`, [PAGE_ATTRIBUTE]: page });
    body.replaceChildren(pageRoot);
    let pageDisposed = false;
    cleanups.push(() => {
      pageDisposed = true;
    });
    const ctx: PageContext = {
      root: pageRoot,
      api,
      params,
      navigate,
      onDispose: (fn) => cleanups.push(fn),
      get disposed() {
        return pageDisposed || disposed;
      },
    };
    try {
      PAGE_IMPL[page](ctx);
    } catch (err) {
      const notice = new Notice();
      notice.show(`the ${PAGE_TITLES[page]} page failed: ${errorText(err)}`);
      pageRoot.replaceChildren(notice.element);
    }
  }

  // The version handshake, which is also the first check that the server answers at all.
  void (async () => {
    try {
      const info = await api.get<{ version?: unknown }>("info");
      if (disposed) return;
      const warning = versionWarning(options.frontendVersion, info.version);
      if (warning) {
        banner.show(warning, "warning");
        banner.element.setAttribute("data-dg-version-mismatch", "");
      }
    } catch (err) {
      if (!disposed) banner.show(errorText(err), "error");
    }
  })();

  show(current.page, current.params);
  return {
    navigate: (page, params = {}) => show(page, params),
    dispose() {
      disposed = true;
      for (const fn of cleanups.splice(0)) fn();
      cleanups = [];
      host.replaceChildren();
    },
  };
}
