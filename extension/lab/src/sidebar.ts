// The DuraGraph panel of the left sidebar: links to the pages, the assistants, and the recent
// runs with their status, polled while the panel is visible (there is no server-wide run feed:
// the most recently updated threads, then their newest runs, only for threads that changed).
import { Widget } from "@lumino/widgets";
import { PAGE_TITLES, type PageName, type Transport } from "../../src/dashboard/contract";
import { LISTED } from "./page";
import { requestJson } from "./transport";

interface Assistant {
  assistant_id: string;
  graph_id: string;
  name?: string;
}
interface Run {
  run_id: string;
  thread_id: string;
  assistant_id: string;
  status: string;
  created_at: string;
  updated_at?: string;
}

const SHOWN = 25;

export class Sidebar extends Widget {
  /** Milliseconds between two refreshes while the panel is visible. */
  interval = 1500;
  private readonly transport: Transport;
  private readonly open: (page: PageName, params: Record<string, string>) => void;
  private readonly assistantsList: HTMLUListElement;
  private readonly runsList: HTMLUListElement;
  private readonly message: HTMLDivElement;
  private timer: number | undefined;
  private busy = false;
  private assistantNames = new Map<string, string>();

  constructor(transport: Transport, open: (page: PageName, params: Record<string, string>) => void) {
    super();
    this.transport = transport;
    this.open = open;
    this.id = "duragraph-sidebar";
    this.addClass("dg-lab-sidebar");
    this.title.caption = "DuraGraph";

    const header = document.createElement("header");
    header.className = "dg-lab-sidebar-header";
    header.textContent = "DuraGraph";
    const nav = document.createElement("nav");
    nav.className = "dg-lab-nav";
    for (const page of LISTED) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "dg-lab-nav-item";
      button.dataset.page = page;
      button.textContent = PAGE_TITLES[page];
      button.addEventListener("click", () => this.open(page, {}));
      nav.append(button);
    }
    this.message = document.createElement("div");
    this.message.className = "dg-lab-sidebar-message";
    this.message.setAttribute("role", "status");
    this.assistantsList = document.createElement("ul");
    this.assistantsList.className = "dg-lab-assistants";
    this.runsList = document.createElement("ul");
    this.runsList.className = "dg-lab-runs";
    this.node.append(
      header,
      nav,
      this.message,
      section("Assistants", this.assistantsList),
      section("Recent runs", this.runsList),
    );
    this.assistantsList.append(placeholder("Loading…"));
    this.runsList.append(placeholder("Loading…"));
  }

  protected override onAfterShow(): void {
    void this.refresh();
  }

  protected override onAfterAttach(): void {
    this.schedule();
  }

  protected override onBeforeDetach(): void {
    window.clearTimeout(this.timer);
    this.timer = undefined;
  }

  override dispose(): void {
    window.clearTimeout(this.timer);
    this.timer = undefined;
    super.dispose();
  }

  private schedule(): void {
    window.clearTimeout(this.timer);
    if (this.isDisposed) return;
    this.timer = window.setTimeout(async () => {
      if (this.isVisible && !document.hidden) await this.refresh();
      this.schedule();
    }, this.interval);
  }

  /** Fetch assistants and recent runs and redraw; failures become a message in the panel. */
  async refresh(): Promise<void> {
    if (this.busy || this.isDisposed) return;
    this.busy = true;
    try {
      const [assistants, runs] = await Promise.all([this.fetchAssistants(), this.fetchRuns()]);
      this.message.textContent = "";
      this.message.hidden = true;
      this.renderAssistants(assistants);
      this.renderRuns(runs);
    } catch (err) {
      this.message.hidden = false;
      this.message.textContent = `Cannot reach the DuraGraph API: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      this.busy = false;
    }
  }

  private async fetchAssistants(): Promise<Assistant[]> {
    const found = await requestJson<Assistant[]>(this.transport, "assistants/search", {
      limit: 100,
      sort_by: "name",
      sort_order: "asc",
    });
    this.assistantNames = new Map(found.map((a) => [a.assistant_id, a.name || a.graph_id]));
    return found;
  }

  private async fetchRuns(): Promise<Run[]> {
    // The newest runs of any thread, in one request (POST /runs/search).
    return requestJson<Run[]>(this.transport, "runs/search", {
      limit: SHOWN,
      sort_by: "created_at",
      sort_order: "desc",
    });
  }

  private renderAssistants(assistants: Assistant[]): void {
    if (assistants.length === 0) {
      this.assistantsList.replaceChildren(placeholder("No assistants: serve a graph from a worker or a notebook."));
      return;
    }
    this.assistantsList.replaceChildren(
      ...assistants.map((a) => {
        const item = document.createElement("li");
        item.className = "dg-lab-assistant";
        item.dataset.assistantId = a.assistant_id;
        item.tabIndex = 0;
        item.title = `${a.assistant_id} (graph ${a.graph_id})`;
        const name = document.createElement("span");
        name.className = "dg-lab-assistant-name";
        name.textContent = a.name || a.graph_id;
        item.append(name);
        if (a.name && a.name !== a.graph_id) {
          const graph = document.createElement("span");
          graph.className = "dg-lab-dim";
          graph.textContent = a.graph_id;
          item.append(graph);
        }
        activate(item, () => this.open("assistants", { assistant_id: a.assistant_id }));
        return item;
      }),
    );
  }

  private renderRuns(runs: Run[]): void {
    if (runs.length === 0) {
      this.runsList.replaceChildren(placeholder("No runs yet: start one from the Playground."));
      return;
    }
    this.runsList.replaceChildren(
      ...runs.map((run) => {
        const item = document.createElement("li");
        item.className = "dg-lab-run";
        item.dataset.runId = run.run_id;
        item.dataset.threadId = run.thread_id;
        item.dataset.status = run.status;
        item.tabIndex = 0;
        item.title = `run ${run.run_id}\nthread ${run.thread_id}\n${run.created_at}`;
        const status = document.createElement("span");
        status.className = "dg-lab-run-status";
        status.textContent = run.status;
        const name = document.createElement("span");
        name.className = "dg-lab-run-name";
        name.textContent = this.assistantNames.get(run.assistant_id) ?? run.assistant_id.slice(0, 8);
        const when = document.createElement("span");
        when.className = "dg-lab-dim";
        when.textContent = `${run.run_id.slice(0, 8)} · ${ago(run.created_at)}`;
        item.append(status, name, when);
        activate(item, () => this.open("run", { run_id: run.run_id, thread_id: run.thread_id }));
        return item;
      }),
    );
  }
}

function section(title: string, list: HTMLElement): HTMLElement {
  const el = document.createElement("section");
  el.className = "dg-lab-section";
  const h = document.createElement("h3");
  h.textContent = title;
  el.append(h, list);
  return el;
}

function placeholder(text: string): HTMLLIElement {
  const li = document.createElement("li");
  li.className = "dg-lab-placeholder";
  li.textContent = text;
  return li;
}

function activate(el: HTMLElement, action: () => void): void {
  el.addEventListener("click", action);
  el.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      action();
    }
  });
}

function ago(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}
