// Runs: recent runs across threads, filtered by status, assistant and duration; refreshed live;
// active runs can be cancelled.
import { ACTIVE, errorText, recentRuns, runDuration, type Assistant, type Run } from "../api";
import { badge, button, formatDuration, formatWhen, h, link, Notice, poll, shortId, type PageContext } from "../ui";

export const RUN_STATUSES = ["pending", "running", "success", "error", "interrupted", "cancelled", "timeout"];

export interface RunFilter {
  status: string;
  assistant: string;
  minSeconds: number | null;
  maxSeconds: number | null;
}

export function filterRuns(runs: readonly Run[], f: RunFilter, now = Date.now()): Run[] {
  return runs.filter((r) => {
    if (f.status && r.status !== f.status) return false;
    if (f.assistant && r.assistant_id !== f.assistant && r.graph_id !== f.assistant) return false;
    if (f.minSeconds !== null || f.maxSeconds !== null) {
      const d = runDuration(r, now);
      if (d === null) return false;
      if (f.minSeconds !== null && d < f.minSeconds) return false;
      if (f.maxSeconds !== null && d > f.maxSeconds) return false;
    }
    return true;
  });
}

export function runsPage(ctx: PageContext): void {
  const notice = new Notice();
  const status = h("select", { class: "dg-select", "aria-label": "status", "data-filter": "status" }, h("option", { value: "" }, "any status"), ...RUN_STATUSES.map((s) => h("option", { value: s }, s)));
  const assistant = h("select", { class: "dg-select", "aria-label": "assistant", "data-filter": "assistant" }, h("option", { value: "" }, "any assistant"));
  const minD = h("input", { type: "number", min: "0", step: "0.1", placeholder: "min s", class: "dg-input dg-input-short", "aria-label": "minimum duration (s)", "data-filter": "min" });
  const maxD = h("input", { type: "number", min: "0", step: "0.1", placeholder: "max s", class: "dg-input dg-input-short", "aria-label": "maximum duration (s)", "data-filter": "max" });
  if (ctx.params.status) status.value = ctx.params.status;
  const count = h("span", { class: "dg-muted" });
  const toolbar = h("div", { class: "dg-toolbar" }, h("h2", {}, "Runs"), status, assistant, h("label", { class: "dg-muted" }, "duration"), minD, maxD, count);
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "dg-table", "data-dg-runs": "" },
    h("thead", {}, h("tr", {}, ...["run", "thread", "assistant", "status", "started", "duration", ""].map((c) => h("th", {}, c)))),
    tbody,
  );
  ctx.root.append(toolbar, notice.element, h("div", { class: "dg-scroll" }, table));

  let runs: Run[] = [];
  const names = new Map<string, string>();
  const num = (el: HTMLInputElement) => (el.value === "" || !Number.isFinite(Number(el.value)) ? null : Number(el.value));

  function render(): void {
    const shown = filterRuns(runs, { status: status.value, assistant: assistant.value, minSeconds: num(minD), maxSeconds: num(maxD) });
    count.textContent = `${shown.length} of ${runs.length} runs`;
    if (shown.length === 0) {
      tbody.replaceChildren(h("tr", {}, h("td", { colspan: "7", class: "dg-empty" }, runs.length ? "no run matches the filters" : "no runs yet — start one in the Playground")));
      return;
    }
    tbody.replaceChildren(
      ...shown.map((r) => {
        const cancel = ACTIVE.has(r.status)
          ? button("Cancel", () => void cancelRun(r), { "data-action": "cancel" })
          : h("span");
        return h(
          "tr",
          { "data-run-id": r.run_id, "data-status": r.status },
          h("td", {}, link(shortId(r.run_id), () => ctx.navigate("run", { run_id: r.run_id, thread_id: r.thread_id }), { title: r.run_id, "data-open-run": r.run_id })),
          h("td", {}, link(shortId(r.thread_id), () => ctx.navigate("threads", { thread_id: r.thread_id }), { title: r.thread_id })),
          h("td", {}, names.get(r.assistant_id) ?? r.graph_id ?? shortId(r.assistant_id)),
          h("td", {}, badge(r.status)),
          h("td", {}, formatWhen(r.started_at ?? r.created_at)),
          h("td", { class: "dg-num" }, formatDuration(runDuration(r))),
          h("td", {}, cancel),
        );
      }),
    );
  }

  async function cancelRun(r: Run): Promise<void> {
    try {
      await ctx.api.post(`threads/${r.thread_id}/runs/${r.run_id}/cancel`, {});
      notice.show(`cancel requested for run ${shortId(r.run_id)}`, "info");
      await refresh();
    } catch (err) {
      notice.show(`could not cancel run ${shortId(r.run_id)}: ${errorText(err)}`);
    }
  }

  async function refresh(): Promise<void> {
    runs = await recentRuns(ctx.api, 500);
    if (ctx.disposed) return;
    if (notice.element.dataset.dgMessage === "error") notice.clear();
    render();
  }

  for (const el of [status, assistant, minD, maxD]) el.addEventListener("input", render);
  void ctx.api
    .post<Assistant[]>("assistants/search", { limit: 200 })
    .then((list) => {
      for (const a of list) {
        names.set(a.assistant_id, a.name || a.graph_id);
        assistant.append(h("option", { value: a.assistant_id }, a.name || a.graph_id));
      }
      if (ctx.params.assistant) assistant.value = ctx.params.assistant;
      render();
    })
    .catch((err) => notice.show(`could not list assistants: ${errorText(err)}`));
  poll(ctx, 2000, refresh, (err) => notice.show(`could not load runs: ${errorText(err)}`));
}
