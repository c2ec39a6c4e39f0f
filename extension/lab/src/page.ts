// A dashboard page in a main-area tab: a Lumino widget whose node hosts mountDashboard().
import { Widget } from "@lumino/widgets";
import { mountDashboard } from "../../src/dashboard/app";
import { PAGE_TITLES, type DashboardHandle, type PageName, type Transport } from "../../src/dashboard/contract";

declare const __DG_FRONTEND_VERSION__: string;
export const FRONTEND_VERSION = __DG_FRONTEND_VERSION__;

/** The pages of the launcher, the palette and the sidebar, in their order (not the Run view: it is
 * opened from the other pages). */
export const LISTED = ["playground", "runs", "datasets", "crons", "threads", "assistants", "traces"] as const satisfies readonly PageName[];

/** One tab per page, and one Run tab per run id. */
export function tabKey(page: PageName, params: Record<string, string>): string {
  return page === "run" ? `run-${params.run_id ?? ""}` : page;
}

export function tabLabel(page: PageName, params: Record<string, string>): string {
  if (page === "run" && params.run_id) return `Run ${params.run_id.slice(0, 8)}`;
  return `DuraGraph ${PAGE_TITLES[page]}`;
}

export class DashboardPage extends Widget {
  readonly page: PageName;
  params: Record<string, string>;
  private handle: DashboardHandle | null = null;

  private readonly transport: Transport;
  private readonly onNavigate: (page: PageName, params: Record<string, string>) => void;

  constructor(
    page: PageName,
    params: Record<string, string>,
    transport: Transport,
    onNavigate: (page: PageName, params: Record<string, string>) => void,
  ) {
    super();
    this.page = page;
    this.params = { ...params };
    this.transport = transport;
    this.onNavigate = onNavigate;
    this.addClass("dg-lab-page");
    this.node.tabIndex = -1;
    this.mount();
  }

  get key(): string {
    return tabKey(this.page, this.params);
  }

  /** Show other parameters of the same page (e.g. another thread on the Threads page). The
   * handle's navigate() goes through onNavigate (back to the host), so the page is mounted anew. */
  setParams(params: Record<string, string>): void {
    if (JSON.stringify(params) === JSON.stringify(this.params)) return;
    this.params = { ...params };
    this.unmount();
    this.mount();
  }

  private mount(): void {
    try {
      this.handle = mountDashboard(this.node, {
        transport: this.transport,
        page: this.page,
        params: this.params,
        onNavigate: this.onNavigate,
        frontendVersion: FRONTEND_VERSION,
      });
    } catch (err) {
      // Never a blank tab: say what went wrong.
      const box = document.createElement("div");
      box.className = "dg-lab-error";
      box.textContent = `DuraGraph ${PAGE_TITLES[this.page]} could not be shown: ${err instanceof Error ? err.message : String(err)}`;
      this.node.replaceChildren(box);
    }
  }

  private unmount(): void {
    const handle = this.handle;
    this.handle = null;
    try {
      handle?.dispose();
    } catch (err) {
      console.warn("DuraGraph: disposing a page failed", err);
    }
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.unmount();
    super.dispose();
  }
}
