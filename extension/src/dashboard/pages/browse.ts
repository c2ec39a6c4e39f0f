// Assistants, Threads and Traces: a list on the left, the selected item on the right.
import { renderJson } from "../../renderers/diff";
import { renderGraph, type Topology } from "../../renderers/graph";
import { ACTIVE, errorText, formatTokens, recentRuns, runDuration, type Assistant, type Run, type SpanRow, type Thread } from "../api";
import { renderMessages } from "../messages";
import { badge, formatDuration, formatWhen, h, link, Notice, poll, section, shortId, type ChatMessage, type PageContext } from "../ui";

function runsTable(ctx: PageContext, runs: readonly Run[]): HTMLElement {
  if (!runs.length) return h("div", { class: "dg-empty" }, "no runs");
  return h(
    "table",
    { class: "dg-table" },
    h("thead", {}, h("tr", {}, ...["run", "status", "started", "duration"].map((c) => h("th", {}, c)))),
    h(
      "tbody",
      {},
      ...runs.map((r) =>
        h(
          "tr",
          { "data-run-id": r.run_id },
          h("td", {}, link(shortId(r.run_id), () => ctx.navigate("run", { run_id: r.run_id, thread_id: r.thread_id }), { title: r.run_id, "data-open-run": r.run_id })),
          h("td", {}, badge(r.status)),
          h("td", {}, formatWhen(r.started_at ?? r.created_at)),
          h("td", { class: "dg-num" }, formatDuration(runDuration(r))),
        ),
      ),
    ),
  );
}

function jsonBox(value: unknown): HTMLElement {
  const box = h("div", { class: "dg-pane" });
  renderJson(box, value ?? {});
  return box;
}

function splitLayout(ctx: PageContext, title: string, tools: HTMLElement[]): { notice: Notice; list: HTMLElement; detail: HTMLElement } {
  const notice = new Notice();
  const list = h("div", { class: "dg-master", role: "list" });
  const detail = h("div", { class: "dg-detail" }, h("div", { class: "dg-empty" }, "select an item on the left"));
  ctx.root.append(h("div", { class: "dg-toolbar" }, h("h2", {}, title), ...tools), notice.element, h("div", { class: "dg-split" }, list, detail));
  return { notice, list, detail };
}

function item(label: string, sub: string, active: boolean, onClick: () => void, attrs: Record<string, string>): HTMLElement {
  const b = h("button", { type: "button", class: `dg-item${active ? " dg-active" : ""}`, role: "listitem", ...attrs }, h("span", { class: "dg-item-label" }, label), h("span", { class: "dg-muted" }, sub));
  b.addEventListener("click", onClick);
  return b;
}

// -- Assistants -------------------------------------------------------------------------------
export function assistantsPage(ctx: PageContext): void {
  const { notice, list, detail } = splitLayout(ctx, "Assistants", []);
  let assistants: Assistant[] = [];
  let current = ctx.params.assistant_id ?? "";

  function renderList(): void {
    list.replaceChildren(
      ...assistants.map((a) =>
        item(a.name || a.graph_id, a.served === false ? `${a.graph_id} · no worker` : a.graph_id, a.assistant_id === current, () => void open(a.assistant_id), {
          "data-assistant-id": a.assistant_id,
          ...(a.served === false ? { "data-dg-unserved": "" } : {}),
        }),
      ),
    );
  }

  async function open(id: string): Promise<void> {
    current = id;
    renderList();
    const a = assistants.find((x) => x.assistant_id === id);
    if (!a) {
      detail.replaceChildren(h("div", { class: "dg-notice dg-notice-error", "data-dg-message": "error", role: "alert" }, `assistant ${id} does not exist`));
      return;
    }
    const graphBox = h("div", { class: "dg-graph-box", "data-dg-graph": "" }, "loading…");
    const versions = h("div", {}, "loading…");
    const runs = h("div", {}, "loading…");
    detail.replaceChildren(
      h("h3", {}, a.name || a.graph_id),
      a.description ? h("p", {}, a.description) : "",
      h("div", { class: "dg-muted" }, `graph ${a.graph_id} · id ${a.assistant_id} · version ${a.version ?? "?"}`),
      a.served === false
        ? h("div", { class: "dg-waiting", "data-dg-waiting": "no_worker" }, `no worker is serving graph ${a.graph_id}: its runs wait until one does (duragraph-lab worker module:graph, or %duragraph serve in a notebook)`)
        : "",
      link("Open in Playground", () => ctx.navigate("playground", { assistant: a.assistant_id })),
      section("Topology", graphBox),
      section("Configuration", jsonBox({ config: a.config ?? {}, context: a.context ?? {}, metadata: a.metadata ?? {} })),
      section("Versions", versions),
      section("Recent runs", runs),
    );
    ctx.api
      .get<Topology>(`assistants/${id}/graph?details=true`)
      .then((t) => void renderGraph(graphBox, t, {}))
      .catch((err) => graphBox.replaceChildren(`no topology: ${errorText(err)}`));
    ctx.api
      .post<Assistant[]>(`assistants/${id}/versions`, { limit: 20 })
      .then((vs) =>
        versions.replaceChildren(
          h("table", { class: "dg-table" }, h("tbody", {}, ...vs.map((v) => h("tr", {}, h("td", {}, `v${v.version ?? "?"}`), h("td", {}, formatWhen(v.created_at)), h("td", {}, v.name ?? ""))))),
        ),
      )
      .catch((err) => versions.replaceChildren(`no versions: ${errorText(err)}`));
    recentRuns(ctx.api, 20, { assistant_id: id })
      .then((rs) => runs.replaceChildren(runsTable(ctx, rs)))
      .catch((err) => runs.replaceChildren(`no runs: ${errorText(err)}`));
  }

  void (async () => {
    try {
      assistants = await ctx.api.post<Assistant[]>("assistants/search", { limit: 200, sort_by: "name", sort_order: "asc" });
      if (ctx.disposed) return;
      if (!assistants.length) notice.show("no assistants registered", "info");
      renderList();
      const first = current || assistants[0]?.assistant_id;
      if (first) await open(first);
    } catch (err) {
      notice.show(`could not list assistants: ${errorText(err)}`);
    }
  })();
}

// -- Threads ----------------------------------------------------------------------------------
export function threadsPage(ctx: PageContext): void {
  const search = h("input", { type: "search", class: "dg-input", placeholder: "search id or metadata", "aria-label": "search threads", "data-dg-search": "" });
  const statusSel = h("select", { class: "dg-select", "aria-label": "status" }, ...["", "idle", "busy", "interrupted", "error"].map((s) => h("option", { value: s }, s || "any status")));
  const { notice, list, detail } = splitLayout(ctx, "Threads", [search, statusSel]);
  let threads: Thread[] = [];
  let current = ctx.params.thread_id ?? "";

  function renderList(): void {
    const q = search.value.trim().toLowerCase();
    const shown = threads.filter((t) => !q || t.thread_id.includes(q) || JSON.stringify(t.metadata ?? {}).toLowerCase().includes(q));
    list.replaceChildren(...(shown.length ? shown.map((t) => item(shortId(t.thread_id), `${t.status ?? ""} · ${formatWhen(t.updated_at)}`, t.thread_id === current, () => void open(t.thread_id), { "data-thread-id": t.thread_id })) : [h("div", { class: "dg-empty" }, "no threads")]));
  }

  async function loadList(): Promise<void> {
    const body: Record<string, unknown> = { limit: 100, sort_by: "updated_at", sort_order: "desc" };
    if (statusSel.value) body.status = statusSel.value;
    threads = await ctx.api.post<Thread[]>("threads/search", body);
    if (!ctx.disposed) renderList();
  }

  let lastKey = "";
  async function open(id: string, quiet = false): Promise<void> {
    current = id;
    renderList();
    try {
      const [t, runs] = await Promise.all([ctx.api.get<Thread>(`threads/${id}`), ctx.api.get<Run[]>(`threads/${id}/runs?limit=50`)]);
      if (ctx.disposed || current !== id) return;
      const key = JSON.stringify([t.updated_at, t.status, runs.map((r) => [r.run_id, r.status])]);
      if (quiet && key === lastKey) return;
      lastKey = key;
      const values = (t.values ?? {}) as { messages?: ChatMessage[] };
      const msgs = h("div", { class: "dg-transcript" });
      if (Array.isArray(values.messages) && values.messages.length) renderMessages(msgs, values.messages);
      else msgs.append(h("div", { class: "dg-empty" }, "no messages"));
      detail.replaceChildren(
        h("h3", {}, `Thread ${shortId(id)} `, badge(t.status ?? "")),
        h("div", { class: "dg-muted" }, `${id} · created ${formatWhen(t.created_at)} · updated ${formatWhen(t.updated_at)}`),
        h("div", { class: "dg-toolbar" }, link("Continue in Playground", () => ctx.navigate("playground", { thread_id: id })), link("Traces", () => ctx.navigate("traces", { thread_id: id }))),
        section("Messages", msgs),
        section("Runs", runsTable(ctx, runs)),
        section("State", jsonBox(t.values)),
        section("Metadata", jsonBox(t.metadata)),
      );
      detail.toggleAttribute("data-dg-live", t.status === "busy" || runs.some((r) => ACTIVE.has(r.status)));
    } catch (err) {
      detail.replaceChildren(h("div", { class: "dg-notice dg-notice-error", "data-dg-message": "error", role: "alert" }, `thread ${shortId(id)}: ${errorText(err)}`));
    }
  }

  search.addEventListener("input", renderList);
  statusSel.addEventListener("change", () => void loadList().catch((err) => notice.show(errorText(err))));
  void loadList()
    .then(() => (current ? open(current) : threads[0] ? open(threads[0].thread_id) : undefined))
    .catch((err) => notice.show(`could not list threads: ${errorText(err)}`));
  // Live while busy: refresh the open thread (and the list) while something runs.
  poll(
    ctx,
    1500,
    async () => {
      if (current && detail.hasAttribute("data-dg-live")) {
        await open(current, true);
        await loadList();
      }
    },
    (err) => notice.show(errorText(err)),
  );
}

// -- Traces -----------------------------------------------------------------------------------
/** Bars of a waterfall: each span's offset and width as fractions of the trace's extent. */
export function waterfall(spans: readonly SpanRow[]): { span: SpanRow; left: number; width: number }[] {
  const times = spans.flatMap((s) => [Date.parse(s.started_at ?? ""), Date.parse(s.ended_at ?? "")]).filter(Number.isFinite);
  if (!times.length) return spans.map((span) => ({ span, left: 0, width: 0 }));
  const t0 = Math.min(...times);
  const extent = Math.max(1, Math.max(...times) - t0);
  return spans.map((span) => {
    const a = Date.parse(span.started_at ?? "");
    const b = Date.parse(span.ended_at ?? "");
    const start = Number.isFinite(a) ? a : t0;
    const end = Number.isFinite(b) ? b : start;
    return { span, left: (start - t0) / extent, width: Math.max(0, end - start) / extent };
  });
}

export function tracesPage(ctx: PageContext): void {
  const { notice, list, detail } = splitLayout(ctx, "Traces", []);
  let current = ctx.params.thread_id ?? "";
  let threads: Thread[] = [];

  function renderList(): void {
    list.replaceChildren(...threads.map((t) => item(`session ${shortId(t.thread_id)}`, `${t.status ?? ""} · ${formatWhen(t.updated_at)}`, t.thread_id === current, () => void open(t.thread_id), { "data-thread-id": t.thread_id })));
  }

  async function open(id: string): Promise<void> {
    current = id;
    renderList();
    try {
      const runs = await ctx.api.get<Run[]>(`threads/${id}/runs?limit=50`);
      const blocks = await Promise.all(
        runs.map(async (r) => {
          const spans = await ctx.api.get<SpanRow[]>(`runs/${r.run_id}/spans`).catch((err) => errorText(err));
          const head = h("div", { class: "dg-trace-head" }, link(`trace ${shortId(r.run_id)}`, () => ctx.navigate("run", { run_id: r.run_id, thread_id: id }), { "data-open-run": r.run_id }), " ", badge(r.status), ` ${formatWhen(r.started_at ?? r.created_at)} · ${formatDuration(runDuration(r))}`, r.usage ? h("span", { class: "dg-muted", "data-dg-tokens": "" }, ` · ${formatTokens(r.usage)} tokens`) : "");
          if (typeof spans === "string") return h("div", { class: "dg-trace" }, head, h("div", { class: "dg-notice dg-notice-warning", "data-dg-message": "warning" }, spans));
          const bars = waterfall(spans).map(({ span, left, width }) =>
            h(
              "div",
              { class: "dg-span-row", "data-node": span.node, title: `${span.node} · step ${span.step ?? "?"} · attempt ${span.attempt ?? 1} · ${span.status}${span.usage ? ` · ${formatTokens(span.usage)} tokens` : ""}${span.error ? ` · ${JSON.stringify(span.error)}` : ""}` },
              h("span", { class: "dg-span-label" }, `${span.ns ? `${span.ns}` : ""}${span.node}`),
              h("span", { class: "dg-span-track" }, h("span", { class: `dg-span-bar dg-span-${span.status}`, style: `left:${(left * 100).toFixed(3)}%;width:max(2px,${(width * 100).toFixed(3)}%)` })),
              h("span", { class: "dg-num dg-muted" }, span.duration_ms === null ? "" : formatDuration(span.duration_ms / 1000)),
              h("span", { class: "dg-num dg-muted", "data-dg-tokens": "" }, formatTokens(span.usage)),
            ),
          );
          return h("div", { class: "dg-trace", "data-run-id": r.run_id }, head, ...(bars.length ? bars : [h("div", { class: "dg-empty" }, "no spans")]));
        }),
      );
      if (ctx.disposed || current !== id) return;
      detail.replaceChildren(h("h3", {}, `Session ${shortId(id)}`), h("div", { class: "dg-muted" }, "thread = session · run = trace · node execution = span"), ...(blocks.length ? blocks : [h("div", { class: "dg-empty" }, "no runs in this thread")]));
    } catch (err) {
      detail.replaceChildren(h("div", { class: "dg-notice dg-notice-error", "data-dg-message": "error", role: "alert" }, `session ${shortId(id)}: ${errorText(err)}`));
    }
  }

  void (async () => {
    try {
      threads = await ctx.api.post<Thread[]>("threads/search", { limit: 100, sort_by: "updated_at", sort_order: "desc" });
      if (ctx.disposed) return;
      renderList();
      const first = current || threads[0]?.thread_id;
      if (first) await open(first);
      else detail.replaceChildren(h("div", { class: "dg-empty" }, "no threads yet"));
    } catch (err) {
      notice.show(`could not list threads: ${errorText(err)}`);
    }
  })();
}
