// Playground: pick an assistant, start or choose a thread (its threads, titled by their first
// message or input), and run it: a chat box for graphs with `messages`, a form or JSON editor built
// from the graph's input schema for the others. The graph beside it lights up node by node as the
// run executes, and a finished run can be replayed on it; tokens stream into the reply; tool calls
// show as cards; an interrupt (human in the loop) becomes an approval/input box that resumes the
// run. The last assistant and each assistant's last thread are remembered across reloads.
import { preview } from "../../renderers/dom";
import { renderGraph, type GraphHandle, type Topology } from "../../renderers/graph";
import { errorText, type Assistant, type Run, type Thread } from "../api";
import { renderMessages } from "../messages";
import { isChatSchema, keyOrder, propertiesOf, type GraphSchemas, type JsonSchema } from "../schema_input";
import { followStream, type StreamHandle } from "../sse";
import { button, h, link, Notice, shortId, type ChatMessage, type PageContext } from "../ui";
import { ensurePlaygroundStyles } from "./playground_style";
import { inputEditor, type InputEditor } from "./playground_input";
import { finalStatuses, replayPlayer } from "./playground_replay";
import { assistantThreads, PlaygroundMemory, threadTitle } from "./playground_threads";

export const STREAM_MODES = ["values", "messages-tuple", "tasks", "updates"];

interface Interrupt {
  value: unknown;
  id?: string;
}

/** Node status from a `tasks` stream frame (a task starting, or its result). */
export function taskStatus(data: unknown): { node: string; status: string } | null {
  if (!data || typeof data !== "object") return null;
  const t = data as { name?: unknown; result?: unknown; error?: unknown; interrupts?: unknown; triggers?: unknown };
  if (typeof t.name !== "string") return null;
  if ("result" in t || "error" in t) {
    if (Array.isArray(t.interrupts) && t.interrupts.length) return { node: t.name, status: "interrupted" };
    return { node: t.name, status: t.error ? "failed" : "done" };
  }
  return { node: t.name, status: "running" };
}

export function playgroundPage(ctx: PageContext): void {
  ensurePlaygroundStyles(ctx.root);
  const notice = new Notice();
  const memory = new PlaygroundMemory();
  const assistantSel = h("select", { class: "dg-select", "aria-label": "assistant", "data-dg-assistant": "" });
  const threadSel = h("select", { class: "dg-select", "aria-label": "thread", "data-dg-thread": "" }, h("option", { value: "" }, "new thread"));
  const newThread = button("New thread", () => {
    threadSel.value = "";
    void selectThread("");
  }, { "data-action": "new-thread" });
  const runLink = h("span", { class: "dg-run-link" });
  const toolbar = h("div", { class: "dg-toolbar" }, h("h2", {}, "Playground"), assistantSel, threadSel, newThread, runLink);

  const transcript = h("div", { class: "dg-transcript", "data-dg-transcript": "", "aria-live": "polite" });
  const streaming = h("div", { class: "dg-msg dg-msg-assistant dg-streaming", "data-dg-streaming": "", hidden: "" });
  const interruptBox = h("div", { class: "dg-interrupt", "data-dg-interrupt": "", hidden: "" });
  const input = h("textarea", { class: "dg-input dg-chat-input", rows: "2", placeholder: "Message (Enter to send, Shift+Enter for a new line)", "aria-label": "message", "data-dg-chat-input": "" });
  const send = button("Send", () => void sendMessage(), { "data-action": "send", class: "dg-button dg-primary" });
  const composer = h("div", { class: "dg-composer", "data-dg-composer": "" }, input, send);
  // The input built from the graph's schema: the whole input of a graph that is not a chat, the
  // other keys (folded) of one that is.
  const inputBox = h("div", { class: "dg-input-slot", "data-dg-input-slot": "" });
  const chat = h("div", { class: "dg-chat" }, transcript, streaming, interruptBox, composer, inputBox);

  const graphBox = h("div", { class: "dg-graph-box", "data-dg-graph": "" });
  const execList = h("ol", { class: "dg-exec-list", "data-dg-executions": "" });
  const replayStep = h("span", { class: "dg-replay-step dg-muted", "data-dg-replay-step": "" });
  const replay = button("▶ Replay run", () => void toggleReplay(), { "data-action": "replay", title: "play the last run's steps again on the graph" });
  replay.disabled = true;
  const side = h(
    "aside",
    { class: "dg-side" },
    h("div", { class: "dg-side-head" }, h("h3", { class: "dg-section-title" }, "Node execution"), replay, replayStep),
    graphBox,
    execList,
  );
  ctx.root.append(toolbar, notice.element, h("div", { class: "dg-playground" }, chat, side));

  let assistants: Assistant[] = [];
  let graph: GraphHandle | null = null;
  let status: Record<string, string> = {};
  let threadId = "";
  let busy = false;
  let stream: StreamHandle | null = null;
  let chatGraph = true;
  let schema: JsonSchema | null = null;
  let editor: InputEditor | null = null;
  let lastRunId = "";
  const chunks = new Map<string, string>();
  const player = replayPlayer(ctx.api, (frame, i, n) => {
    if (ctx.disposed) return;
    graph?.setStatus(frame.status);
    replayStep.textContent = `step ${i + 1}/${n} · ${frame.label}`;
  });
  ctx.onDispose(() => {
    stream?.close();
    player.stop();
  });

  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      void sendMessage();
    }
  });

  function setBusy(b: boolean): void {
    busy = b;
    send.disabled = b;
    editor?.setBusy(b);
    replay.disabled = b || !lastRunId;
    ctx.root.toggleAttribute("data-dg-busy", b);
  }

  function setLastRun(id: string): void {
    lastRunId = id;
    replay.disabled = busy || !id;
    replayStep.textContent = "";
  }

  async function toggleReplay(): Promise<void> {
    if (player.playing) {
      player.stop();
      return;
    }
    if (!lastRunId || busy) return;
    ctx.root.setAttribute("data-dg-replaying", "");
    replay.textContent = "■ Stop";
    try {
      // The graph ends as the run ended (START and END included), stopped early or not.
      const end = await player.play(lastRunId);
      if (!busy) status = end;
    } catch (err) {
      notice.show(`could not replay run ${shortId(lastRunId)}: ${errorText(err)}`);
    } finally {
      if (!ctx.disposed) {
        ctx.root.removeAttribute("data-dg-replaying");
        replay.textContent = "▶ Replay run";
        paint();
      }
    }
  }

  function currentAssistant(): Assistant | undefined {
    return assistants.find((a) => a.assistant_id === assistantSel.value);
  }

  /** The chat box, the schema's input, or both, for the selected assistant. */
  async function loadInput(topo: Topology | null): Promise<void> {
    const id = assistantSel.value;
    let found: GraphSchemas | null = null;
    try {
      found = await ctx.api.get<GraphSchemas>(`assistants/${id}/schemas`);
    } catch (err) {
      notice.show(`could not read the graph's input schema (${errorText(err)}): the input is checked by the server only`, "warning");
    }
    if (ctx.disposed || id !== assistantSel.value) return;
    schema = found?.input_schema ?? null;
    const channels = (topo as { channels?: Record<string, unknown> } | null)?.channels ?? {};
    chatGraph = schema ? isChatSchema(schema) : "messages" in channels;
    ctx.root.dataset.dgInputKind = chatGraph ? "chat" : "schema";
    composer.hidden = !chatGraph;
    const others = Object.keys(propertiesOf(schema)).filter((k) => k !== "messages");
    if (chatGraph && !others.length) {
      editor = null;
      inputBox.replaceChildren();
      return;
    }
    editor = inputEditor(schema, (value) => void sendInput(value), chatGraph);
    editor.setBusy(busy);
    inputBox.replaceChildren(chatGraph ? h("details", { class: "dg-more-input" }, h("summary", {}, `Other input keys (${others.join(", ")})`), editor.element) : editor.element);
  }

  function paint(): void {
    graph?.setStatus(status);
  }

  async function loadGraph(): Promise<void> {
    const id = assistantSel.value;
    if (!id) return;
    let topo: Topology | null = null;
    try {
      topo = await ctx.api.get<Topology>(`assistants/${id}/graph?details=true`);
      if (ctx.disposed) return;
      graph = renderGraph(graphBox, topo, status);
    } catch (err) {
      graph = null;
      graphBox.replaceChildren(h("div", { class: "dg-notice dg-notice-warning", "data-dg-message": "warning" }, `no graph for this assistant: ${errorText(err)}`));
    }
    await loadInput(topo);
  }

  /** The selected assistant's threads, titled; the thread in use stays selected. */
  async function loadThreads(): Promise<string[]> {
    const assistant = assistantSel.value;
    const list = assistant ? await assistantThreads(ctx.api, assistant, Object.keys(propertiesOf(schema))) : [];
    if (ctx.disposed || assistant !== assistantSel.value) return [];
    const keep = threadSel.value;
    const label = (title: string, st?: string) => (st && st !== "idle" ? `${title} · ${st}` : title);
    const options = list.map(({ thread, title }) => h("option", { value: thread.thread_id, title: thread.thread_id }, label(title, thread.status)));
    // The thread in use stays selected even when this list was read before it was created.
    if (keep && keep === threadId && !list.some((t) => t.thread.thread_id === keep)) options.unshift(h("option", { value: keep }, `${shortId(keep)} · new`));
    threadSel.replaceChildren(h("option", { value: "" }, "new thread"), ...options);
    if (keep && (keep === threadId || list.some((t) => t.thread.thread_id === keep))) threadSel.value = keep;
    return list.map((t) => t.thread.thread_id);
  }

  async function selectThread(id: string): Promise<void> {
    threadId = id;
    memory.remember(assistantSel.value, id);
    player.stop();
    setLastRun("");
    status = {};
    paint();
    execList.replaceChildren();
    interruptBox.hidden = true;
    runLink.replaceChildren();
    inputs = [];
    if (!id) {
      transcript.replaceChildren(h("div", { class: "dg-empty" }, chatGraph ? "Send a message to start a new thread." : "Fill in the input and press Run to start a new thread."));
      return;
    }
    try {
      const [t, runs] = await Promise.all([
        ctx.api.get<Thread>(`threads/${id}`),
        ctx.api.post<Run[]>("runs/search", { thread_id: id, limit: 100, sort_by: "created_at", sort_order: "asc" }),
      ]);
      if (ctx.disposed || id !== threadId) return;
      inputs = runs.map((r) => (r as { kwargs?: { input?: unknown } }).kwargs?.input).filter((i) => i !== undefined && i !== null);
      const last = runs[runs.length - 1];
      if (last) {
        setLastRun(last.run_id);
        showRunLink(last.run_id, id);
        // The graph shows how the thread's last run went (unless a new one started meanwhile).
        void finalStatuses(ctx.api, last.run_id)
          .then((end) => {
            if (!ctx.disposed && threadId === id && !busy && !player.playing && lastRunId === last.run_id) {
              status = end;
              paint();
            }
          })
          .catch(() => undefined);
      }
      showValues(t.values ?? {});
      if (!chatGraph && inputs.length && editor) editor.show(ordered(inputs[inputs.length - 1] as Record<string, unknown>));
      const interrupts = (t.interrupts && typeof t.interrupts === "object" ? Object.values(t.interrupts as Record<string, Interrupt[]>).flat() : []) as Interrupt[];
      if (t.status === "interrupted" && interrupts.length) showInterrupt(interrupts);
    } catch (err) {
      notice.show(`could not open thread ${shortId(id)}: ${errorText(err)}`);
    }
  }

  function showRunLink(id: string, tid: string): void {
    runLink.replaceChildren(link(`run ${shortId(id)} ↗`, () => ctx.navigate("run", { run_id: id, thread_id: tid }), { "data-open-run": id, title: "open the Run view" }));
  }

  /** The inputs sent on this thread (a graph that is not a chat shows them above its state). */
  let inputs: unknown[] = [];

  /** An object with its keys in the input schema's order (stored values come back reordered). */
  function ordered<T>(value: T): T {
    if (!value || typeof value !== "object" || Array.isArray(value)) return value;
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(keyOrder(Object.keys(obj), Object.keys(propertiesOf(schema))).map((k) => [k, obj[k]])) as T;
  }

  function inputBubble(value: unknown): HTMLElement {
    return h("div", { class: "dg-msg dg-msg-user dg-msg-input", "data-role": "input" }, h("div", { class: "dg-msg-role" }, "input"), h("pre", { class: "dg-msg-body dg-json" }, compact(ordered(value))));
  }

  /** A value on one line when it is short, else indented JSON. */
  function compact(v: unknown): string {
    if (typeof v === "string") return v;
    const line = JSON.stringify(v);
    return line !== undefined && line.length <= 80 ? line : preview(v, 1200);
  }

  /** The state as a card of keys and values (a graph that is not a chat). */
  function stateCard(values: Record<string, unknown>): HTMLElement {
    const entries = Object.entries(ordered(values)).filter(([k]) => k !== "__interrupt__");
    return h(
      "div",
      { class: "dg-state-card", "data-dg-playground-state": "" },
      h("div", { class: "dg-msg-role" }, "state"),
      entries.length
        ? h("dl", { class: "dg-state-rows" }, ...entries.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { "data-key": k }, compact(v))]))
        : h("div", { class: "dg-empty" }, "the state is empty"),
    );
  }

  function showValues(values: unknown): void {
    const v = (values && typeof values === "object" ? values : {}) as Record<string, unknown> & { messages?: ChatMessage[] };
    const messages = Array.isArray(v.messages) ? v.messages : [];
    if (!chatGraph) {
      transcript.replaceChildren(...inputs.map(inputBubble), stateCard(v));
      transcript.scrollTop = transcript.scrollHeight;
      return;
    }
    if (messages.length) renderMessages(transcript, messages);
    else transcript.replaceChildren(h("div", { class: "dg-empty" }, "no messages in this thread's state"));
    // Show the state's other values (a draft awaiting approval, say) when there are no messages.
    const rest = Object.fromEntries(Object.entries(v).filter(([k]) => k !== "messages" && k !== "__interrupt__"));
    if (Object.keys(rest).length) transcript.append(h("details", { class: "dg-state-extra" }, h("summary", {}, "state"), h("pre", { class: "dg-json" }, preview(rest, 4000))));
    transcript.scrollTop = transcript.scrollHeight;
  }

  function showInterrupt(interrupts: Interrupt[]): void {
    // The paused task sends no result: the nodes still running are the ones waiting.
    status = Object.fromEntries(Object.entries(status).map(([k, v]) => [k, v === "running" ? "interrupted" : v]));
    paint();
    for (const li of execList.querySelectorAll<HTMLElement>("li[data-status='running']")) {
      if (status[li.dataset.node ?? ""] === "interrupted") li.append(" (waiting for input)");
    }
    const first = interrupts[0];
    const value = first?.value;
    const v = (value && typeof value === "object" ? value : {}) as { question?: unknown; draft?: unknown };
    const answer = h("textarea", { class: "dg-input", rows: "2", placeholder: "a reply or JSON value to resume with", "aria-label": "resume value", "data-dg-resume-input": "" });
    const resumeWith = (val: unknown) => void startRun({ command: { resume: val } });
    const parsed = () => {
      const text = answer.value.trim();
      if (!text) return null;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
    };
    interruptBox.replaceChildren(
      h("div", { class: "dg-interrupt-title" }, typeof v.question === "string" ? v.question : "The run is waiting for input"),
      typeof v.draft === "string" ? h("blockquote", { class: "dg-draft" }, v.draft) : h("pre", { class: "dg-json" }, preview(value, 2000)),
      answer,
      h(
        "div",
        { class: "dg-toolbar" },
        button("Approve", () => resumeWith(true), { "data-action": "approve", class: "dg-button dg-primary" }),
        button("Reject", () => resumeWith(answer.value.trim() ? { approved: false, feedback: answer.value.trim() } : false), { "data-action": "reject" }),
        button("Resume with value", () => resumeWith(parsed()), { "data-action": "resume" }),
      ),
    );
    interruptBox.hidden = false;
  }

  function showChunk(data: unknown): void {
    if (!Array.isArray(data) || !data[0] || typeof data[0] !== "object") return;
    const chunk = data[0] as { id?: string; content?: unknown; type?: string };
    if (chunk.type && !/ai|AIMessage/i.test(chunk.type)) return;
    const id = chunk.id ?? "_";
    const text = (chunks.get(id) ?? "") + (typeof chunk.content === "string" ? chunk.content : "");
    chunks.set(id, text);
    streaming.hidden = false;
    streaming.replaceChildren(h("div", { class: "dg-msg-role" }, "assistant"), h("div", { class: "dg-msg-body" }, text));
  }

  function recordTask(data: unknown): void {
    const st = taskStatus(data);
    if (!st) return;
    status = { ...status, [st.node]: st.status };
    paint();
    execList.append(h("li", { class: `dg-exec dg-status-${st.status}`, "data-node": st.node, "data-status": st.status }, `${st.node}: ${st.status}`));
  }

  async function ensureThread(title: string): Promise<string> {
    if (threadId) return threadId;
    const a = currentAssistant();
    // The assistant in the metadata lists the thread under it before its first run is stored.
    const t = await ctx.api.post<Thread>("threads", { metadata: { source: "playground", assistant_id: assistantSel.value, graph_id: a?.graph_id ?? null, title } });
    threadId = t.thread_id;
    memory.remember(assistantSel.value, threadId);
    threadSel.insertBefore(h("option", { value: threadId, title: threadId }, title || `${shortId(threadId)} · new`), threadSel.options[1] ?? null);
    threadSel.value = threadId;
    return threadId;
  }

  async function sendMessage(): Promise<void> {
    const text = input.value.trim();
    if (!text || busy) return;
    input.value = "";
    transcript.querySelector(".dg-empty")?.remove();
    transcript.append(h("div", { class: "dg-msg dg-msg-user dg-pending", "data-role": "user" }, h("div", { class: "dg-msg-role" }, "user"), h("div", { class: "dg-msg-body" }, text)));
    await startRun({ input: { messages: [{ role: "user", content: text }] } }, threadTitle({ thread_id: "", values: { messages: [{ type: "human", content: text }] } }));
  }

  /** Run the graph with an input from the schema's editor (already checked against the schema). */
  async function sendInput(value: Record<string, unknown>): Promise<void> {
    if (busy) return;
    if (!chatGraph) {
      inputs = [...inputs, value];
      transcript.querySelector(".dg-empty")?.remove();
      transcript.querySelector("[data-dg-playground-state]")?.before(inputBubble(value));
      if (!transcript.querySelector("[data-dg-playground-state]")) transcript.append(inputBubble(value));
    }
    await startRun({ input: value }, threadTitle({ thread_id: "" }, value, Object.keys(propertiesOf(schema))));
  }

  async function startRun(body: Record<string, unknown>, title = ""): Promise<void> {
    if (!assistantSel.value) {
      notice.show("pick an assistant first");
      return;
    }
    notice.clear();
    player.stop();
    setLastRun("");
    setBusy(true);
    interruptBox.hidden = true;
    chunks.clear();
    status = {};
    paint();
    execList.replaceChildren();
    let tid: string;
    try {
      tid = await ensureThread(title);
    } catch (err) {
      notice.show(`could not create a thread: ${errorText(err)}`);
      setBusy(false);
      return;
    }
    let runId: string | null = null;
    let lastValues: Record<string, unknown> | null = null;
    let reconnecting = false;
    stream?.close();
    stream = followStream({
      transport: ctx.api.transport,
      path: `threads/${tid}/runs/stream`,
      init: { method: "POST", body: JSON.stringify({ assistant_id: assistantSel.value, stream_mode: STREAM_MODES, ...body }) },
      reconnectPath: (id) => `threads/${tid}/runs/${id}/stream?${STREAM_MODES.map((m) => `stream_mode=${m}`).join("&")}`,
      onEvent: (e) => {
        if (ctx.disposed) return;
        if (e.event === "metadata" && e.data && typeof e.data === "object" && "run_id" in e.data) {
          runId = String((e.data as { run_id: unknown }).run_id);
          showRunLink(runId, tid);
        } else if (e.event === "messages") {
          showChunk(e.data);
        } else if (e.event === "tasks") {
          recordTask(e.data);
        } else if (e.event === "values") {
          lastValues = (e.data && typeof e.data === "object" ? e.data : {}) as Record<string, unknown>;
          showValues(lastValues);
          if (!("__interrupt__" in lastValues)) streaming.hidden = true;
        } else if (e.event === "error") {
          const d = e.data as { error?: string; message?: string } | null;
          notice.show(`the run failed: ${d?.error ?? "error"}: ${d?.message ?? ""}`);
        }
      },
      onProblem: (message, final) => {
        reconnecting = !final && message.startsWith("connection lost");
        notice.show(message, final ? "error" : "warning");
      },
      onEnd: () => {
        setBusy(false);
        streaming.hidden = true;
        const interrupts = lastValues?.__interrupt__;
        if (Array.isArray(interrupts) && interrupts.length) showInterrupt(interrupts as Interrupt[]);
        if (reconnecting) notice.clear(); // back after a reconnect; other warnings stay
        ctx.root.setAttribute("data-dg-last-run", runId ?? "");
        if (runId) {
          const id = runId;
          setLastRun(id);
          // The stored log's statuses at the run's end (START and END too, which the tasks
          // stream does not mention).
          void finalStatuses(ctx.api, id)
            .then((end) => {
              if (!ctx.disposed && !busy && !player.playing && lastRunId === id) {
                status = { ...status, ...end };
                paint();
              }
            })
            .catch(() => undefined);
        }
        void loadThreads().catch(() => undefined);
      },
    });
    await stream.done;
    setBusy(false);
  }

  /** The assistant's remembered thread (if it is still one of its threads), else a new one. */
  async function openAssistant(wantThread?: string): Promise<void> {
    memory.remember(assistantSel.value);
    threadId = "";
    threadSel.value = "";
    await loadGraph();
    const ids = await loadThreads();
    if (ctx.disposed || threadId || busy) return;
    const remembered = memory.threadOf(assistantSel.value);
    const pick = wantThread ?? (remembered && ids.includes(remembered) ? remembered : "");
    if (pick && !ids.includes(pick)) threadSel.append(h("option", { value: pick }, `thread ${shortId(pick)}`));
    threadSel.value = pick;
    await selectThread(pick);
  }

  assistantSel.addEventListener("change", () => {
    status = {};
    player.stop();
    void openAssistant().catch((err) => notice.show(errorText(err)));
  });
  threadSel.addEventListener("change", () => void selectThread(threadSel.value));

  void (async () => {
    try {
      assistants = await ctx.api.post<Assistant[]>("assistants/search", { limit: 200, sort_by: "name", sort_order: "asc" });
      if (ctx.disposed) return;
      if (!assistants.length) {
        notice.show("no assistants: start a worker with graphs (duragraph-lab dev registers the demos)", "warning");
        return;
      }
      assistantSel.replaceChildren(...assistants.map((a) => h("option", { value: a.assistant_id, "data-graph-id": a.graph_id }, a.name || a.graph_id)));
      // The URL's assistant, else the one used last (remembered across reloads), else chat.
      const want = ctx.params.assistant ?? memory.assistant;
      const pick = assistants.find((a) => a.assistant_id === want || a.graph_id === want || a.name === want) ?? assistants.find((a) => a.graph_id === "chat") ?? assistants[0];
      assistantSel.value = pick.assistant_id;
      // The graph is drawn before the thread list is read: a message sent meanwhile started a
      // thread (or is starting one), which the initial selection must not drop (an approval
      // would then resume on a new, empty thread: HTTP 409). openAssistant checks.
      await openAssistant(ctx.params.thread_id || undefined);
    } catch (err) {
      notice.show(errorText(err));
    }
  })();
}
