// Crons: each schedule with its next fire time and its last runs; enable or disable it. Refreshed
// every two seconds (ticks fire while the page is open).
import { errorText, type Assistant, type Run } from "../api";
import { badge, button, formatWhen, h, link, Notice, poll, shortId, type PageContext } from "../ui";

export interface Cron {
  cron_id: string;
  assistant_id: string;
  thread_id: string | null;
  schedule: string;
  timezone: string | null;
  end_time: string | null;
  enabled: boolean;
  next_run_date: string | null;
  metadata: Record<string, unknown>;
}

/** How many of a cron's latest runs the page shows. */
const LAST_RUNS = 3;

export function cronsPage(ctx: PageContext): void {
  const notice = new Notice();
  const count = h("span", { class: "dg-muted" });
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "dg-table", "data-dg-crons": "" },
    h("thead", {}, h("tr", {}, ...["cron", "assistant", "thread", "schedule", "next run", "last runs", ""].map((c) => h("th", {}, c)))),
    tbody,
  );
  ctx.root.append(h("div", { class: "dg-toolbar" }, h("h2", {}, "Crons"), count), notice.element, h("div", { class: "dg-scroll" }, table));

  // The assistant by its name (its id on hover), as the Runs page shows it. The list is asked
  // again when a cron names an assistant not asked about yet (one made since), not at every poll.
  const names = new Map<string, string>();
  const asked = new Set<string>();
  async function assistantNames(crons: Cron[]): Promise<void> {
    const unknown = crons.map((c) => c.assistant_id).filter((id) => !names.has(id) && !asked.has(id));
    if (unknown.length === 0) return;
    for (const id of unknown) asked.add(id);
    try {
      const list = await ctx.api.post<Assistant[]>("assistants/search", { limit: 1000 });
      for (const a of list) names.set(a.assistant_id, a.name || a.graph_id);
    } catch (err) {
      notice.show(`could not list assistants: ${errorText(err)}`);
    }
  }

  async function lastRuns(cron: Cron): Promise<Run[]> {
    // The runs a cron starts carry its id in their metadata.
    return ctx.api.post<Run[]>("runs/search", { metadata: { cron_id: cron.cron_id }, limit: LAST_RUNS, sort_by: "created_at", sort_order: "desc" });
  }

  async function toggle(cron: Cron): Promise<void> {
    try {
      await ctx.api.raw(`runs/crons/${cron.cron_id}`, { method: "PATCH", body: JSON.stringify({ enabled: !cron.enabled }) });
      notice.show(`cron ${shortId(cron.cron_id)} ${cron.enabled ? "disabled" : "enabled"}`, "info");
      await refresh();
    } catch (err) {
      notice.show(`could not change cron ${shortId(cron.cron_id)}: ${errorText(err)}`);
    }
  }

  async function refresh(): Promise<void> {
    const crons = await ctx.api.post<Cron[]>("runs/crons/search", { limit: 200 });
    await assistantNames(crons);
    const runs = await Promise.all(crons.map((c) => lastRuns(c).catch(() => [] as Run[])));
    if (ctx.disposed) return;
    count.textContent = `${crons.length} cron${crons.length === 1 ? "" : "s"}`;
    if (crons.length === 0) {
      tbody.replaceChildren(h("tr", {}, h("td", { colspan: "7", class: "dg-empty" }, "no crons yet — create one with client.crons.create(…) or POST /runs/crons")));
      return;
    }
    tbody.replaceChildren(
      ...crons.map((c, i) =>
        h(
          "tr",
          { "data-cron-id": c.cron_id, "data-enabled": String(c.enabled) },
          h("td", { title: c.cron_id }, shortId(c.cron_id)),
          h("td", { title: c.assistant_id, "data-assistant": c.assistant_id }, names.get(c.assistant_id) ?? shortId(c.assistant_id)),
          h("td", {}, c.thread_id ? link(shortId(c.thread_id), () => ctx.navigate("threads", { thread_id: c.thread_id ?? "" }), { title: c.thread_id }) : h("span", { class: "dg-muted" }, "stateless")),
          h("td", {}, h("code", {}, c.schedule), c.timezone ? ` (${c.timezone})` : ""),
          h("td", { "data-next-run": c.next_run_date ?? "" }, c.enabled ? (c.next_run_date ? formatWhen(c.next_run_date) : "never (ended)") : "disabled"),
          h(
            "td",
            { "data-last-runs": String(runs[i].length) },
            ...runs[i].map((r) => h("span", {}, link(shortId(r.run_id), () => ctx.navigate("run", { run_id: r.run_id, thread_id: r.thread_id }), { title: r.run_id, "data-open-run": r.run_id }), " ", badge(r.status), " ")),
          ),
          h("td", {}, button(c.enabled ? "Disable" : "Enable", () => void toggle(c), { "data-action": c.enabled ? "disable" : "enable" })),
        ),
      ),
    );
  }

  poll(ctx, 2000, refresh, (err) => notice.show(`could not load crons: ${errorText(err)}`));
}
