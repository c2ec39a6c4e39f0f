// The Run view: the run view shared with the notebook's RunView widget (runview/view.ts: the graph
// lit up at the selected event, the event log, the replay slider with the state right after any
// event and the change it made, fork from an event with an optional state edit, the node
// timeline) under the dashboard's own header: the run's status, where a fork came from, cancel,
// the re-execution report and exports. The state at an event comes from GET /runs/{id}/state.
import { renderJson } from "../../renderers/diff";
import type { EventRow } from "../../renderers/events";
import type { Topology } from "../../renderers/graph";
import { mountRunView, type Selection, type StateOrigin } from "../../runview/view";
import { ACTIVE, errorText, formatTokens, runDuration, tokensByNode, type ApiEvent, type ForkOrigin, type Run, type SpanRow } from "../api";
import { followStream, HttpError } from "../sse";
import { badge, button, download, formatDuration, formatWhen, h, link, Notice, shortId, type PageContext } from "../ui";

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

/** The state after an event, as GET /runs/{id}/state answers. */
interface EventState extends StateOrigin {
  values: unknown;
  previous: unknown;
}

/** "forked from run X at #seq (position p) · edited k": a link to the origin, at that event. */
export function forkOrigin(from: ForkOrigin, open: (runId: string, seq: number) => void): HTMLElement {
  const where = `#${from.seq}${typeof from.position === "number" ? ` (position ${from.position})` : ""}`;
  const edited = from.edited?.length ? ` · state edited: ${from.edited.join(", ")}` : "";
  return h(
    "div",
    { class: "dg-fork-origin", "data-dg-forked-from": from.run_id },
    "forked from ",
    link(`run ${shortId(from.run_id)} at ${where}`, () => open(from.run_id, from.seq), { title: `${from.run_id}, event #${from.seq}`, "data-open-origin": from.run_id }),
    edited,
  );
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
  const originBox = h("div", { class: "dg-run-origin" });
  const tokens = h("div", { class: "dg-run-tokens", "data-dg-run-tokens": "", hidden: "" });
  const body = h("div", { class: "dg-run-view" });
  ctx.root.append(header, originBox, notice.element, streamNotice.element, report, tokens, body);

  let run: Run | null = null;
  let events: ApiEvent[] = [];
  let rows: EventRow[] = [];
  let loading = false;
  let gone = false;
  let stream: { close(): void } | null = null;
  let selectedOnce = false;

  const view = mountRunView(body, {
    onSelect: (sel) => showState(sel),
    onFork: (seq, update) => fork(seq, update),
  });

  // The state after each event, asked once (an event's state never changes), one request at a
  // time: a drag asks only for where the slider is when the previous answer comes.
  const states = new Map<number, EventState>();
  let wantedSeq: number | null = null;
  let asking = false;
  function showState(sel: Selection | null): void {
    if (!sel) return;
    wantedSeq = sel.seq;
    void askState();
  }
  async function askState(): Promise<void> {
    if (asking || wantedSeq === null || ctx.disposed) return;
    const seq = wantedSeq;
    const known = states.get(seq);
    if (known) {
      view.setState(known.values, known.previous, known);
      return;
    }
    asking = true;
    try {
      const at = await ctx.api.get<EventState>(`runs/${runId}/state?seq=${seq}`);
      states.set(seq, at);
      if (wantedSeq === seq && !ctx.disposed) view.setState(at.values, at.previous, at);
    } catch (err) {
      if (wantedSeq === seq && !ctx.disposed) view.setState({}, {}, null, `could not read the state at #${seq}: ${errorText(err)}`);
    } finally {
      asking = false;
    }
    if (wantedSeq !== seq) void askState();
  }

  function renderMeta(): void {
    if (!run) return;
    meta.replaceChildren(
      badge(run.status),
      " thread ",
      link(shortId(run.thread_id), () => ctx.navigate("threads", { thread_id: run!.thread_id }), { title: run.thread_id }),
      ` · ${run.graph_id ?? shortId(run.assistant_id)} · started ${formatWhen(run.started_at ?? run.created_at)} · ${formatDuration(runDuration(run))}`,
      run.usage ? h("span", { "data-dg-tokens": "" }, ` · ${formatTokens(run.usage)} tokens`) : "",
      run.error ? h("span", { class: "dg-error-text" }, ` · ${typeof run.error === "string" ? run.error : JSON.stringify(run.error)}`) : "",
      run.waiting_for ? h("div", { class: "dg-waiting", "data-dg-waiting": run.waiting_for.reason }, run.waiting_for.message) : "",
    );
    originBox.replaceChildren(run.forked_from ? forkOrigin(run.forked_from, (id, seq) => ctx.navigate("run", { run_id: id, seq: String(seq) })) : "");
    meta.setAttribute("data-status", run.status);
    cancelBtn.hidden = !ACTIVE.has(run.status);
    // The per-node table is read again only when the run's totals changed (a node that called a
    // model completed): the run itself is re-read every few seconds.
    const usageKey = JSON.stringify(run.usage ?? null);
    if (usageKey !== tokensShown) {
      tokensShown = usageKey;
      void loadTokens().catch(() => undefined);
    }
  }

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

  let tokensShown = "null";

  /** Tokens per node, from the run's spans (each node execution's model calls), when any call
   * reported usage. */
  async function loadTokens(): Promise<void> {
    if (!run?.usage) {
      tokens.hidden = true;
      return;
    }
    const spans = await ctx.api.get<SpanRow[]>(`runs/${runId}/spans`);
    if (ctx.disposed) return;
    const rows = tokensByNode(spans).map((r) =>
      h("tr", { "data-node": r.node }, h("td", {}, r.node), h("td", { class: "dg-num" }, String(r.executions)), h("td", { class: "dg-num" }, r.usage.input_tokens.toLocaleString()), h("td", { class: "dg-num" }, r.usage.output_tokens.toLocaleString())),
    );
    tokens.replaceChildren(
      h("div", { class: "dg-pane-title" }, `Tokens: ${formatTokens(run.usage)}`),
      h("table", { class: "dg-table" }, h("thead", {}, h("tr", {}, ...["node", "executions", "input tokens", "output tokens"].map((c) => h("th", {}, c)))), h("tbody", {}, ...rows)),
    );
    tokens.hidden = false;
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
          rows = rows.concat(fresh.map(toEventRow));
          added = true;
        }
        if (!page.has_more || fresh.length === 0) break;
      }
      if (added) {
        view.setEvents(rows);
        // Opened at an event (a fork's origin links here): show it once it is loaded.
        const at = Number(ctx.params.seq);
        if (!selectedOnce && Number.isInteger(at) && at > 0) view.select(at);
        selectedOnce = true;
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
        // A worker took the run it waited for: say so (the header said why it waited).
        if (e.seq !== null && run?.waiting_for) void loadRun().catch(() => undefined);
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

  /** Fork after `seq` (with the dialog's edit); the new run opens. Why not, for the dialog. */
  async function fork(seq: number, update: Record<string, unknown> | null): Promise<string | void> {
    try {
      const forked = await ctx.api.post<Run>(`runs/${runId}/fork`, update ? { seq, update } : { seq });
      notice.show(`forked at #${seq}: run ${shortId(forked.run_id)}`, "info");
      ctx.navigate("run", { run_id: forked.run_id, thread_id: forked.thread_id });
    } catch (err) {
      return `could not fork at #${seq}: ${errorText(err)}`;
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
        // With x-ray, as the notebook's RunView: a subgraph's inner nodes can be expanded.
        const topo = await ctx.api.get<Topology>(`assistants/${loaded.assistant_id}/graph?xray=true&details=true`);
        if (ctx.disposed) return;
        view.setTopology(topo);
      } catch (err) {
        view.setTopology(null, errorText(err));
      }
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
