// DuraGraph Lab's JupyterLab 4 extension: the dashboard pages in main-area tabs (one per page, one
// Run tab per run id), a DuraGraph panel in the left sidebar, launcher cards (category
// "DuraGraph") and command palette entries. Tabs come back after a reload (layout restorer).
import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin,
} from "@jupyterlab/application";
import { ICommandPalette, MainAreaWidget, WidgetTracker } from "@jupyterlab/apputils";
import { ILauncher } from "@jupyterlab/launcher";
import type { ReadonlyPartialJSONObject } from "@lumino/coreutils";
import { PAGE_TITLES, PAGES, type PageName } from "../../src/dashboard/contract";
import { duragraphIcon, PAGE_ICONS } from "./icon";
import { DashboardPage, LISTED, tabKey, tabLabel } from "./page";
import { Sidebar } from "./sidebar";
import { labTransport } from "./transport";

const CATEGORY = "DuraGraph";
const OPEN = "duragraph:open";

export const commandFor = (page: PageName): string => `duragraph:open-${page}`;

function paramsOf(args: ReadonlyPartialJSONObject, skip: string[] = []): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(args)) {
    if (skip.includes(key) || value === undefined || value === null || typeof value === "object") continue;
    params[key] = String(value);
  }
  return params;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: "duragraph-lab:plugin",
  description: "DuraGraph dashboard: Playground, Runs, Datasets, Threads, Assistants, Traces and Run view.",
  autoStart: true,
  optional: [ILauncher, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
  ) => {
    const transport = labTransport(app.serviceManager.serverSettings);
    const tracker = new WidgetTracker<MainAreaWidget<DashboardPage>>({ namespace: "duragraph" });

    const open = (page: PageName, params: Record<string, string>): MainAreaWidget<DashboardPage> => {
      const key = tabKey(page, params);
      const existing = tracker.find((w) => w.content.key === key);
      if (existing) {
        existing.content.setParams(params);
        app.shell.activateById(existing.id);
        return existing;
      }
      const content = new DashboardPage(page, params, transport, (next, nextParams) => {
        void app.commands.execute(OPEN, { ...nextParams, page: next });
      });
      const widget = new MainAreaWidget({ content });
      widget.id = `duragraph-${key}`;
      widget.addClass("dg-lab-tab");
      widget.toolbar.hide(); // the pages carry their own controls
      widget.title.label = tabLabel(page, params);
      widget.title.caption = page === "run" ? `DuraGraph run ${params.run_id ?? ""}` : widget.title.label;
      widget.title.icon = PAGE_ICONS[page];
      widget.title.className = "dg-lab-tab-title"; // kept whole (style/lab.css)
      widget.title.closable = true;
      void tracker.add(widget);
      app.shell.add(widget, "main");
      app.shell.activateById(widget.id);
      return widget;
    };

    app.commands.addCommand(OPEN, {
      label: (args) => {
        const page = args.page as PageName | undefined;
        return page && PAGES.includes(page) ? `DuraGraph ${PAGE_TITLES[page]}` : "Open a DuraGraph page";
      },
      describedBy: {
        args: {
          type: "object",
          properties: { page: { type: "string", enum: [...PAGES] } },
          required: ["page"],
        },
      },
      execute: (args) => {
        const page = args.page as PageName;
        if (!PAGES.includes(page)) throw new Error(`${OPEN}: unknown page ${JSON.stringify(args.page)}`);
        if (page === "run" && !args.run_id) throw new Error(`${OPEN}: a run needs a run_id`);
        return open(page, paramsOf(args, ["page"]));
      },
    });
    for (const page of LISTED) {
      app.commands.addCommand(commandFor(page), {
        label: (args) => (args.isLauncher ? PAGE_TITLES[page] : `Open DuraGraph ${PAGE_TITLES[page]}`),
        caption: `Open the DuraGraph ${PAGE_TITLES[page]} page`,
        icon: PAGE_ICONS[page],
        execute: (args) => open(page, paramsOf(args, ["isLauncher", "isPalette", "isContextMenu"])),
      });
    }
    app.commands.addCommand(commandFor("run"), {
      label: (args) => (args.run_id ? `Open DuraGraph run ${String(args.run_id).slice(0, 8)}` : "Open a DuraGraph run"),
      caption: "Open the Run view of a run (args: run_id, thread_id)",
      icon: PAGE_ICONS.run,
      isEnabled: (args) => typeof args.run_id === "string" && args.run_id !== "",
      execute: (args) => {
        if (typeof args.run_id !== "string" || !args.run_id) {
          throw new Error(`${commandFor("run")}: pass {"run_id": "…"}`);
        }
        return open("run", paramsOf(args, ["isLauncher", "isPalette", "isContextMenu"]));
      },
    });

    LISTED.forEach((page, rank) => {
      launcher?.add({ command: commandFor(page), category: CATEGORY, rank, args: { isLauncher: true } });
      palette?.addItem({ command: commandFor(page), category: CATEGORY });
    });

    const sidebar = new Sidebar(transport, (page, params) => void app.commands.execute(OPEN, { ...params, page }));
    sidebar.title.icon = duragraphIcon;
    app.shell.add(sidebar, "left", { rank: 850 });

    if (restorer) {
      restorer.add(sidebar, sidebar.id);
      void restorer.restore(tracker, {
        command: OPEN,
        args: (w) => ({ ...w.content.params, page: w.content.page }),
        name: (w) => w.content.key,
      });
    }
  },
};

export default plugin;
