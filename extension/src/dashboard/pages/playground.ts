// Playground: pick an assistant, start or choose a thread, chat. The graph beside the chat lights
// up node by node as the run executes; tokens stream into the reply; an interrupt (human in the
// loop) becomes an approval/input box that resumes the run.
import { preview } from "../../renderers/dom";
import { renderGraph, type GraphHandle, type Topology } from "../../renderers/graph";
import { errorText, type Assistant, type Thread } from "../api";
import { followStream, type StreamHandle } from "../sse";
import { button, h, link, Notice, renderMessages, shortId, type ChatMessage, type PageContext } from "../ui";

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
  const notice = new Notice();
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
  const composer = h("div", { class: "dg-composer" }, input, send);
  const chat = h("div", { class: "dg-chat" }, transcript, streaming, interruptBox, composer);

  const graphBox = h("div", { class: "dg-graph-box", "data-dg-graph": "" });
  const execList = h("ol", { class: "dg-exec-list", "data-dg-executions": "" });
  const side = h("aside", { class: "dg-side" }, h("h3", { class: "dg-section-title" }, "Node execution"), graphBox, execList);
  ctx.root.append(toolbar, notice.element, h("div", { class: "dg-playground" }, chat, side));

  let assistants: Assistant[] = [];
  let graph: GraphHandle | null = null;
  let status: Record<string, string> = {};
  let threadId = "";
  let busy = false;
  let stream: StreamHandle | null = null;
  const chunks = new Map<string, string>();
  ctx.onDispose(() => stream?.close());

  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      void sendMessage();
    }
  });

  function setBusy(b: boolean): void {
    busy = b;
    send.disabled = b;
    ctx.root.toggleAttribute("data-dg-busy", b);
  }

  function paint(): void {
    graph?.setStatus(status);
  }

  async function loadGraph(): Promise<void> {
    const id = assistantSel.value;
    if (!id) return;
    try {
      const topo = await ctx.api.get<Topology>(`assistants/${id}/graph`);
      if (ctx.disposed) return;
      graph = renderGraph(graphBox, topo, status);
    } catch (err) {
      graphBox.replaceChildren(h("div", { class: "dg-notice dg-notice-warning", "data-dg-message": "warning" }, `no graph for this assistant: ${errorText(err)}`));
    }
  }

  async function loadThreads(): Promise<void> {
    const list = await ctx.api.post<Thread[]>("threads/search", { limit: 30, sort_by: "updated_at", sort_order: "desc" });
    const keep = threadSel.value;
    const options = list.map((t) => h("option", { value: t.thread_id }, `${shortId(t.thread_id)} · ${t.status ?? ""}`));
    // The thread in use stays selected even when this list was read before it was created.
    if (keep && keep === threadId && !list.some((t) => t.thread_id === keep)) options.unshift(h("option", { value: keep }, `${shortId(keep)} · new`));
    threadSel.replaceChildren(h("option", { value: "" }, "new thread"), ...options);
    if (keep && (keep === threadId || list.some((t) => t.thread_id === keep))) threadSel.value = keep;
  }

  async function selectThread(id: string): Promise<void> {
    threadId = id;
    status = {};
    paint();
    execList.replaceChildren();
    interruptBox.hidden = true;
    runLink.replaceChildren();
    if (!id) {
      transcript.replaceChildren(h("div", { class: "dg-empty" }, "Send a message to start a new thread."));
      return;
    }
    try {
      const t = await ctx.api.get<Thread>(`threads/${id}`);
      showValues(t.values ?? {});
      const interrupts = (t.interrupts && typeof t.interrupts === "object" ? Object.values(t.interrupts as Record<string, Interrupt[]>).flat() : []) as Interrupt[];
      if (t.status === "interrupted" && interrupts.length) showInterrupt(interrupts);
    } catch (err) {
      notice.show(`could not open thread ${shortId(id)}: ${errorText(err)}`);
    }
  }

  function showValues(values: unknown): void {
    const v = (values && typeof values === "object" ? values : {}) as { messages?: ChatMessage[] };
    const messages = Array.isArray(v.messages) ? v.messages : [];
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

  async function ensureThread(): Promise<string> {
    if (threadId) return threadId;
    const t = await ctx.api.post<Thread>("threads", { metadata: { source: "playground" } });
    threadId = t.thread_id;
    threadSel.append(h("option", { value: threadId }, `${shortId(threadId)} · new`));
    threadSel.value = threadId;
    return threadId;
  }

  async function sendMessage(): Promise<void> {
    const text = input.value.trim();
    if (!text || busy) return;
    input.value = "";
    transcript.querySelector(".dg-empty")?.remove();
    transcript.append(h("div", { class: "dg-msg dg-msg-user dg-pending", "data-role": "user" }, h("div", { class: "dg-msg-role" }, "user"), h("div", { class: "dg-msg-body" }, text)));
    await startRun({ input: { messages: [{ role: "user", content: text }] } });
  }

  async function startRun(body: Record<string, unknown>): Promise<void> {
    if (!assistantSel.value) {
      notice.show("pick an assistant first");
      return;
    }
    notice.clear();
    setBusy(true);
    interruptBox.hidden = true;
    chunks.clear();
    status = {};
    paint();
    execList.replaceChildren();
    let tid: string;
    try {
      tid = await ensureThread();
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
          const id = runId;
          runLink.replaceChildren(link(`run ${shortId(id)} ↗`, () => ctx.navigate("run", { run_id: id, thread_id: tid }), { "data-open-run": id, title: "open the Run view" }));
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
        void loadThreads().catch(() => undefined);
      },
    });
    await stream.done;
    setBusy(false);
  }

  assistantSel.addEventListener("change", () => {
    status = {};
    void loadGraph();
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
      const want = ctx.params.assistant;
      const pick = assistants.find((a) => a.assistant_id === want || a.graph_id === want || a.name === want) ?? assistants.find((a) => a.graph_id === "chat") ?? assistants[0];
      assistantSel.value = pick.assistant_id;
      await loadGraph();
      await loadThreads();
      // The graph is drawn before the thread list is read: a message sent meanwhile started a
      // thread (or is starting one), which the initial selection must not drop (an approval
      // would then resume on a new, empty thread: HTTP 409).
      if (ctx.disposed || threadId || busy) return;
      if (ctx.params.thread_id) {
        threadSel.value = ctx.params.thread_id;
        await selectThread(ctx.params.thread_id);
      } else await selectThread("");
    } catch (err) {
      notice.show(errorText(err));
    }
  })();
}
