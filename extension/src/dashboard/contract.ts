// The contract between the dashboard pages (extension/src/dashboard/) and their two hosts: the
// standalone page served at {base_url}duragraph/ui/ and the JupyterLab extension that docks the
// same pages in main-area tabs. Hosts differ only in how they reach the server (fetch with the
// XSRF cookie/token vs JupyterLab's ServerConnection) and in how they navigate (URL hash vs tabs).

/** The dashboard's pages. "run" shows one run (params.run_id, params.thread_id). "datasets" lists
 * the evaluation datasets; params.dataset (an id or a name) opens one (params.version picks a
 * version), and params.base + params.candidate (experiment ids) show their comparison. */
export type PageName = "playground" | "threads" | "assistants" | "runs" | "datasets" | "crons" | "traces" | "run";

export const PAGES: readonly PageName[] = ["playground", "threads", "assistants", "runs", "datasets", "crons", "traces", "run"];

/** Each page's title (the navigation bar's, the Lab tabs', launcher's and palette's). */
export const PAGE_TITLES: Record<PageName, string> = {
  playground: "Playground",
  threads: "Threads",
  assistants: "Assistants",
  runs: "Runs",
  datasets: "Datasets",
  crons: "Crons",
  traces: "Traces",
  run: "Run",
};

/** For a page about one thing, the parameter that names it: the hash route's path segment
 * (#/run/<run_id>). */
export const PAGE_ID_PARAMS: Partial<Record<PageName, string>> = {
  run: "run_id",
  threads: "thread_id",
  assistants: "assistant_id",
  traces: "thread_id",
  datasets: "dataset",
};

/** How the pages reach the server. `path` is relative to the API root
 * ({base_url}duragraph/api/v1/), e.g. "runs/abc/events". The returned Response may be a stream
 * (SSE); the transport adds authentication (token header or cookie + XSRF). */
export interface Transport {
  request(path: string, init?: RequestInit): Promise<Response>;
  /** The server's base URL ({base_url}), for links. */
  readonly baseUrl: string;
}

export interface DashboardOptions {
  transport: Transport;
  page: PageName;
  params?: Record<string, string>;
  /** Called when a page wants to open another page (e.g. a run from the Runs table). The host
   * decides how: the standalone page changes the URL hash, JupyterLab opens or focuses a tab.
   * Without it, the dashboard navigates in place. */
  onNavigate?: (page: PageName, params: Record<string, string>) => void;
  /** The front end's version, compared with the server extension's (GET /info) at mount. */
  frontendVersion?: string;
  /** Show the dashboard's own page navigation bar (default: only when there is no onNavigate,
   * i.e. when the dashboard navigates in place, as on the standalone page). */
  showNavigation?: boolean;
}

export interface DashboardHandle {
  navigate(page: PageName, params?: Record<string, string>): void;
  dispose(): void;
}

/** Every page's root element carries data-dg-page="<PageName>" (hosts and tests find pages by
 * it); the dashboard root carries data-dg-dashboard. */
export const PAGE_ATTRIBUTE = "data-dg-page";

/** Implemented by extension/src/dashboard/app.ts: */
export type MountDashboard = (host: HTMLElement, options: DashboardOptions) => DashboardHandle;
