// The Run view: the run's graph lit up live, its node timeline, the event log (a virtual list:
// 100,000 events scroll smoothly), a replay slider with the state at any event and its diff from
// the step before, fork from an event, the re-execution report, and exports.
import { diffJson, renderDiff, renderJson } from "../../renderers/diff";
import type { EventRow } from "../../renderers/events";
import { renderGraph, type GraphHandle, type Topology } from "../../renderers/graph";
import { renderTimeline, type TimelineHandle } from "../../renderers/timeline";
import { ACTIVE, errorText, runDuration, type ApiEvent, type Checkpoint, type Run } from "../api";
import { followStream, HttpError } from "../sse";
import { VirtualList } from "../vlist";
import { badge, button, download, formatDuration, formatWhen, h, link, Notice, section, shortId, type PageContext } from "../ui";

export const EVENT_ROW_HEIGHT = 24;

/** An API event as the shared renderers' row (the notebook widgets' shape). */
export function toEventRow(e: ApiEvent): EventRow {
  const d = (e.data && typeof e.data === "object" ? e.data : {}) as Record<string, unknown>;
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const s = (v: unknown) => (typeof v === "string" ? v : null);
  return {
    seq: e.seq,
    recorded_at: Date.parse(e.recorded_at),
    type: e.type,
    node: s(d.node),
    ns: s(d.ns),
    step: n(d.step),
    attempt: n(d.attempt),
    task: s(d.task),
    started_at: n(d.started_at),
    finished_at: n(d.finished_at),
    duration_ms: n(d.duration_ms),
    data: JSON.stringify(e.data ?? null),
  };
}

/** Each node's status after the first `upto` events (all when undefined). */
export function nodeStatuses(events: readonly ApiEvent[], upto = events.length): Record<string, string> {
  const status: Record<string, string> = {};
  for (let i = 0; i < Math.min(upto, events.length); i++) {
    const e = events[i];
    const d = (e.data && typeof e.data === "object" ? e.data : {}) as Record<string, unknown>;
    if (e.type === "step_planned" && Array.isArray(d.tasks)) {
      for (const t of d.tasks as { node?: unknown }[]) if (typeof t.node === "string") status[t.node] = "running";
    } else if (e.type === "node_completed" && typeof d.node === "string") {
      status[d.node] = "done";
    } else if (e.type === "node_failed" && typeof d.node === "string") {
      status[d.node] = d.will_retry ? "running" : "failed";
    } else if (e.type === "run_interrupted") {
      for (const [k, v] of Object.entries(status)) if (v === "running") status[k] = "interrupted";
    } else if (e.type === "run_cancelled" || e.type === "run_failed" || e.type === "run_timed_out") {
      for (const [k, v] of Object.entries(status)) if (v === "running") status[k] = "failed";
    }
  }
  return status;
}

/** The checkpoint in force at event `seq` (the latest one at or before it) and the one before. */
export function checkpointAt(history: readonly Checkpoint[], seq: number): { at: Checkpoint | null; before: Checkpoint | null } {
  const sorted = history.filter((c) => typeof c.metadata?.seq === "number").sort((a, b) => (a.metadata!.seq as number) - (b.metadata!.seq as number));
  let at: Checkpoint | null = null;
  let before: Checkpoint | null = null;
  for (const c of sorted) {
    if ((c.metadata!.seq as number) > seq) break;
    before = at;
    at = c;
  }
  return { at, before };
}

const CSV_COLUMNS = ["seq", "event_id", "type", "recorded_at", "node", "step", "task", "attempt", "data"] as const;

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? "" : typeof v === "string" ? v : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function eventsToCsv(events: readonly ApiEvent[]): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const e of events) {
    const d = (e.data && typeof e.data === "object" ? e.data : {}) as Record<string, unknown>;
    lines.push(
      [e.seq, e.event_id, e.type, e.recorded_at, d.node ?? "", d.step ?? "", d.task ?? "", d.attempt ?? "", JSON.stringify(e.data ?? null)]
        .map(csvCell)
        .join(","),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}

function eventSummary(e: ApiEvent): string {
  const text = JSON.stringify(e.data ?? null);
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}

export function runPage(ctx: PageContext): void {
  const runId = ctx.params.run_id ?? "";
  const notice = new Notice();
  const streamNotice = new Notice();
  if (!runId) {
    notice.show("no run given: open a run from the Runs page (#/run/<run_id>)");
    ctx.root.append(h("h2", {}, "Run"), notice.element);
    return;
  }
  const title = h("h2", {}, `Run ${shortId(runId)}`);
  const meta = h("div", { class: "dg-run-meta" }, "loading…");
  const cancelBtn = button("Cancel", () => void cancel(), { "data-action": "cancel", hidden: "" });
  const replayBtn = button("Re-execute", () => void reexecute(), { "data-action": "reexecute", title: "re-execute the run from its log with the current code and report the first divergence" });
  const exportJson = button("Export JSON", () => exportAs("json"), { "data-export": "json" });
  const exportCsv = button("Export CSV", () => exportAs("csv"), { "data-export": "csv" });
  const exportParquet = button("Export Parquet", () => void exportParquetFile(), { "data-export": "parquet" });
  const header = h("div", { class: "dg-toolbar" }, title, meta, cancelBtn, replayBtn, exportJson, exportCsv, exportParquet);
  const report = h("div", { class: "dg-report", "data-dg-report": "" });

  const graphBox = h("div", { class: "dg-graph-box", "data-dg-graph": "" });
  const timelineBox = h("div", { class: "dg-timeline-box" });
  const list = new VirtualList<ApiEvent>({
    rowHeight: EVENT_ROW_HEIGHT,
    fallbackHeight: 360,
    className: "dg-eventlog",
    renderRow: (e, i) =>
      h(
        "div",
        { class: `dg-event-row${i === selected ? " dg-selected" : ""}`, "data-seq": String(e.seq), role: "row" },
        h("span", { class: "dg-ev-seq" }, `#${e.seq}`),
        h("span", { class: "dg-ev-time" }, new Date(Date.parse(e.recorded_at)).toLocaleTimeString()),
        h("span", { class: `dg-ev-type dg-ev-${e.type}` }, e.type),
        h("span", { class: "dg-ev-node" }, String((e.data as { node?: unknown } | null)?.node ?? "")),
        h("span", { class: "dg-ev-data" }, eventSummary(e)),
      ),
  });
  list.element.setAttribute("data-dg-eventlog", "");
  list.element.setAttribute("aria-label", "event log");
  const slider = h("input", { type: "range", min: "0", max: "0", value: "0", class: "dg-replay-range", "aria-label": "replay position", "data-dg-replay": "" });
  const sliderLabel = h("span", { class: "dg-replay-label", "data-dg-replay-label": "" }, "no events");
  const forkBtn = button("Fork from here", () => void fork(), { "data-action": "fork" });
  const stateBox = h("div", { class: "dg-replay-state", "data-dg-state": "" });
  const diffBox = h("div", { class: "dg-replay-diff", "data-dg-diff": "" });
  const checkpointLabel = h("div", { class: "dg-muted" });

  ctx.root.append(
    header,
    notice.element,
    streamNotice.element,
    report,
    h(
      "div",
      { class: "dg-run-grid" },
      section("Graph", graphBox),
      section("Event log", list.element),
    ),
    section(
      "Replay",
      h("div", { class: "dg-replay-bar" }, slider, sliderLabel, forkBtn),
      checkpointLabel,
      h("div", { class: "dg-replay-panes" }, h("div", { class: "dg-pane" }, h("div", { class: "dg-pane-title" }, "State at this event"), stateBox), h("div", { class: "dg-pane" }, h("div", { class: "dg-pane-title" }, "Change from the checkpoint before"), diffBox)),
    ),
    section("Node timeline", timelineBox),
  );

  let run: Run | null = null;
  let events: ApiEvent[] = [];
  let history: Checkpoint[] = [];
  let selected = -1;
  let pinned = false; // the user moved the slider: do not follow new events
  let graph: GraphHandle | null = null;
  let timeline: TimelineHandle | null = null;
  let loading = false;
  let gone = false;
  let stream: { close(): void } | null = null;

  function renderMeta(): void {
    if (!run) return;
    meta.replaceChildren(
      badge(run.status),
      " thread ",
      link(shortId(run.thread_id), () => ctx.navigate("threads", { thread_id: run!.thread_id }), { title: run.thread_id }),
      ` · ${run.graph_id ?? shortId(run.assistant_id)} · started ${formatWhen(run.started_at ?? run.created_at)} · ${formatDuration(runDuration(run))}`,
      run.error ? h("span", { class: "dg-error-text" }, ` · ${typeof run.error === "string" ? run.error : JSON.stringify(run.error)}`) : "",
    );
    meta.setAttribute("data-status", run.status);
    cancelBtn.hidden = !ACTIVE.has(run.status);
  }

  function select(index: number): void {
    if (events.length === 0) {
      sliderLabel.textContent = "no events";
      return;
    }
    selected = Math.max(0, Math.min(index, events.length - 1));
    slider.value = String(selected);
    const e = events[selected];
    sliderLabel.textContent = `#${e.seq} ${e.type} (${selected + 1}/${events.length})`;
    graph?.setStatus(nodeStatuses(events, selected + 1));
    timeline?.setSelected(e.seq);
    list.refresh();
    const { at, before } = checkpointAt(history, e.seq);
    if (at) {
      checkpointLabel.textContent = `checkpoint at #${at.metadata?.seq} (${at.metadata?.event ?? ""}, step ${at.metadata?.step ?? "?"})`;
      renderJson(stateBox, at.values ?? {});
      renderDiff(diffBox, diffJson(before?.values ?? {}, at.values ?? {}));
    } else {
      checkpointLabel.textContent = history.length ? "before the run's first checkpoint" : "no checkpoints yet";
      renderJson(stateBox, {});
      renderDiff(diffBox, []);
    }
  }

  slider.addEventListener("input", () => {
    pinned = Number(slider.value) < events.length - 1;
    select(Number(slider.value));
    list.scrollToIndex(selected);
  });
  list.element.addEventListener("click", (ev) => {
    const row = (ev.target as HTMLElement).closest<HTMLElement>(".dg-event-row");
    if (!row?.dataset.index) return;
    pinned = true;
    select(Number(row.dataset.index));
  });
  list.element.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    ev.preventDefault();
    pinned = true;
    select(selected + (ev.key === "ArrowDown" ? 1 : -1));
    list.scrollToIndex(selected);
  });

  async function loadRun(): Promise<void> {
    try {
      run = await ctx.api.get<Run>(`runs/${runId}`);
    } catch (err) {
      if (err instanceof HttpError && err.status === 404) {
        gone = true;
        stream?.close();
        notice.show(run ? `run ${runId} was deleted while open; what is shown is what was loaded before` : `run ${runId} does not exist (it may have been deleted)`);
        notice.element.setAttribute("data-dg-gone", "");
        return;
      }
      throw err;
    }
    renderMeta();
  }

  async function loadEvents(): Promise<void> {
    if (loading || gone) return;
    loading = true;
    try {
      let added = false;
      for (;;) {
        const after = events.length ? events[events.length - 1].seq : 0;
        const page = await ctx.api.get<{ events: ApiEvent[]; has_more: boolean }>(`runs/${runId}/events?after=${after}&limit=1000`);
        if (ctx.disposed) return;
        const fresh = page.events.filter((e) => e.seq > after);
        if (fresh.length) {
          events = events.concat(fresh);
          added = true;
        }
        if (!page.has_more || fresh.length === 0) break;
      }
      if (added) {
        history = await ctx.api.get<Checkpoint[]>(`threads/${run?.thread_id ?? ctx.params.thread_id}/history?limit=1000`).catch(() => history);
        slider.max = String(Math.max(0, events.length - 1));
        list.setItems(events);
        timeline?.update(events.map(toEventRow));
        select(pinned ? selected : events.length - 1);
      }
    } finally {
      loading = false;
    }
  }

  let pending = false;
  function scheduleLoad(): void {
    if (pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      void loadEvents().catch((err) => notice.show(`could not load events: ${errorText(err)}`));
    }, 150);
  }

  function follow(): void {
    if (!run || !ACTIVE.has(run.status)) return;
    stream = followStream({
      transport: ctx.api.transport,
      path: `runs/${runId}/stream?stream_mode=updates`,
      onEvent: (e) => {
        if (e.seq !== null) scheduleLoad();
      },
      onProblem: (message, final) => {
        if (final && gone) return;
        streamNotice.show(`live updates: ${message}`, final ? "error" : "warning");
      },
      onEnd: () => {
        streamNotice.clear();
        void loadRun()
          .then(loadEvents)
          .catch((err) => notice.show(errorText(err)));
      },
    });
    ctx.onDispose(() => stream?.close());
  }

  async function cancel(): Promise<void> {
    if (!run) return;
    try {
      await ctx.api.post(`threads/${run.thread_id}/runs/${runId}/cancel`, {});
      notice.show("cancel requested", "info");
      await loadRun();
    } catch (err) {
      notice.show(`could not cancel: ${errorText(err)}`);
    }
  }

  async function fork(): Promise<void> {
    const e = events[selected];
    if (!e) return;
    try {
      forkBtn.disabled = true;
      const forked = await ctx.api.post<Run>(`runs/${runId}/fork`, { seq: e.seq });
      notice.show(`forked at #${e.seq}: run ${shortId(forked.run_id)}`, "info");
      ctx.navigate("run", { run_id: forked.run_id, thread_id: forked.thread_id });
    } catch (err) {
      notice.show(`could not fork at #${e.seq}: ${errorText(err)}`);
    } finally {
      forkBtn.disabled = false;
    }
  }

  async function reexecute(): Promise<void> {
    report.replaceChildren(h("span", { class: "dg-muted" }, "re-executing…"));
    try {
      const result = await ctx.api.post<{ identical?: boolean; tasks_checked?: number; divergence?: unknown }>(`runs/${runId}/replay`, {});
      const box = h("div", { class: "dg-pane" });
      renderJson(box, result);
      const verdict = result.identical
        ? `identical: ${result.tasks_checked ?? 0} node executions re-executed with the current code, no divergence`
        : `diverged: ${typeof result.divergence === "string" ? result.divergence : JSON.stringify(result.divergence)}`;
      report.replaceChildren(
        h("div", { class: "dg-pane-title" }, "Re-execution report"),
        h("div", { class: result.identical ? "dg-report-ok" : "dg-error-text", "data-dg-identical": String(Boolean(result.identical)) }, verdict),
        box,
      );
    } catch (err) {
      report.replaceChildren();
      notice.show(`re-execution failed: ${errorText(err)}`);
    }
  }

  function exportAs(kind: "json" | "csv"): void {
    if (kind === "json") download(`run-${runId}-events.json`, new Blob([JSON.stringify(events, null, 1)], { type: "application/json" }));
    else download(`run-${runId}-events.csv`, new Blob([eventsToCsv(events)], { type: "text/csv" }));
  }

  async function exportParquetFile(): Promise<void> {
    try {
      const resp = await ctx.api.raw(`runs/${runId}/events.parquet`);
      download(`run-${runId}-events.parquet`, await resp.blob());
    } catch (err) {
      notice.show(`Parquet export failed: ${errorText(err)}`);
    }
  }

  void (async () => {
    try {
      await loadRun();
      const loaded = run as Run | null;
      if (!loaded || ctx.disposed) return;
      try {
        const topo = await ctx.api.get<Topology>(`assistants/${loaded.assistant_id}/graph`);
        if (ctx.disposed) return;
        graph = renderGraph(graphBox, topo, {});
      } catch (err) {
        graphBox.replaceChildren(h("div", { class: "dg-notice dg-notice-warning", "data-dg-message": "warning" }, `no graph: ${errorText(err)}`));
      }
      timeline = renderTimeline(timelineBox, { onSelect: (seq) => select(events.findIndex((e) => e.seq === seq)) });
      await loadEvents();
      follow();
    } catch (err) {
      notice.show(errorText(err));
    }
  })();
  // Notice a deletion (or a status change of a run followed by nobody else) while open.
  const timer = setInterval(() => {
    if (gone || ctx.disposed) return;
    void loadRun().catch((err) => notice.show(errorText(err)));
  }, 3000);
  ctx.onDispose(() => clearInterval(timer));
}
