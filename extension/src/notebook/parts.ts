// The widgets' building blocks; each mounts into an element and returns a cleanup function.
// RunView is the run view shared with the dashboard (runview/view.ts) under the run's header,
// fed by the kernel: the events (Arrow batches), the topology and the state at the selected event.
import { html, clear, preview } from "../renderers/dom";
import { renderGraph, Topology } from "../renderers/graph";
import { renderTimeline } from "../renderers/timeline";
import { mountReplay as mountReplay_ } from "../runview/replay";
import { mountRunView, type StateOrigin } from "../runview/view";
import { AnyModel, EventFeed, setTrait, throttledTimer } from "./model";

type Cleanup = () => void;

function onChange(model: AnyModel, names: string[], cb: () => void): Cleanup {
  for (const n of names) model.on(`change:${n}`, cb);
  return () => {
    for (const n of names) model.off(`change:${n}`, cb);
  };
}

function topologyOf(model: AnyModel): Topology {
  const t = model.get("topology");
  return t && Array.isArray(t.nodes) ? t : { nodes: [], edges: [] };
}

export function mountGraph(model: AnyModel, el: HTMLElement): Cleanup {
  const box = html("div", { class: "dg-graph-box" });
  el.appendChild(box);
  const handle = renderGraph(box, topologyOf(model), model.get("status") ?? {}, {
    onSelectNode: (id) => setTrait(model, "selected_node", id),
  });
  handle.setSelected(model.get("selected_node") || null);
  const offs = [
    onChange(model, ["topology"], () => handle.setTopology(topologyOf(model))),
    onChange(model, ["status"], () => handle.setStatus(model.get("status") ?? {})),
    onChange(model, ["selected_node"], () => handle.setSelected(model.get("selected_node") || null)),
  ];
  return () => offs.forEach((f) => f());
}

function selectedSeq(model: AnyModel): number | null {
  const v = model.get("selected_seq");
  return typeof v === "number" && v >= 0 ? v : null;
}

export function mountTimeline(model: AnyModel, el: HTMLElement, feed: EventFeed): Cleanup {
  const box = html("div", { class: "dg-timeline-box" });
  el.appendChild(box);
  const nodeOrder = () => (topologyOf(model).nodes ?? []).map((n) => n.id);
  const handle = renderTimeline(box, {
    nodeOrder: nodeOrder(),
    onSelect: (seq) => setTrait(model, "selected_seq", seq),
  });
  const unsubscribe = feed.subscribe((rows) => {
    handle.update(rows);
    handle.setSelected(selectedSeq(model));
  });
  const off = onChange(model, ["selected_seq"], () => handle.setSelected(selectedSeq(model)));
  return () => {
    unsubscribe();
    off();
  };
}

/** What the kernel says about the state it shows (`state_at`: the event, or a checkpoint). */
function stateOrigin(model: AnyModel): StateOrigin | null {
  const at = model.get("state_at");
  return at && typeof at.seq === "number" ? (at as StateOrigin) : null;
}

/** "Fork" in the fork dialog: ask the kernel, and answer with its failure if it reports one. */
function forkThroughKernel(model: AnyModel, seq: number, update: Record<string, unknown> | null): Promise<string | void> {
  return new Promise((resolve) => {
    const done = () => {
      model.off("change:message", done);
      clearTimeout(timer);
      const text: string = model.get("message") ?? "";
      resolve(text.startsWith("fork failed") ? text : undefined);
    };
    const timer = setTimeout(done, 30000);
    model.on("change:message", done);
    model.send(update ? { kind: "fork", seq, update } : { kind: "fork", seq });
  });
}

/** The ReplaySlider widget: the shared replay section (runview/replay.ts) on the kernel's
 * events, the state it sends for the selected event, and forks through it. */
export function mountReplay(model: AnyModel, el: HTMLElement, feed: EventFeed): Cleanup {
  let seqs: number[] = [];
  const positionOf = () => {
    const sel = selectedSeq(model);
    const found = sel === null ? -1 : seqs.indexOf(sel);
    return found >= 0 ? found : seqs.length - 1;
  };
  const show = (index: number) => replay.setPosition(index, feed.log.rows[index], seqs.length);
  const push = throttledTimer(() => {
    const seq = seqs[Number(replay.slider.value)];
    if (seq !== undefined) setTrait(model, "selected_seq", seq);
  });
  const replay = mountReplay_({
    onInput: (index, dragging) => {
      show(index);
      if (dragging) push();
      else if (seqs[index] !== undefined) setTrait(model, "selected_seq", seqs[index]);
    },
    onFork: (seq, update) => forkThroughKernel(model, seq, update),
  });
  el.appendChild(replay.element);
  const unsubscribe = feed.subscribe((rows) => {
    seqs = rows.map((r) => r.seq);
    replay.setCount(seqs.length);
    show(positionOf());
  });
  const renderState = () => replay.setState(model.get("state") ?? {}, model.get("prev_state") ?? {}, stateOrigin(model));
  const showNote = () => replay.setNote(model.get("message") ?? "");
  renderState();
  showNote();
  const offs = [
    onChange(model, ["state", "prev_state", "state_at"], renderState),
    onChange(model, ["selected_seq"], () => show(positionOf())),
    onChange(model, ["message"], showNote),
  ];
  return () => {
    unsubscribe();
    offs.forEach((f) => f());
  };
}

export function mountRunHeader(model: AnyModel, el: HTMLElement): Cleanup {
  const box = html("div", { class: "dg-run" });
  el.appendChild(box);
  // The resume box's note: "resuming…" until the kernel answers (its `message`, e.g. a failure).
  let resumeNote: HTMLElement | null = null;
  const draw = () => {
    clear(box);
    resumeNote = null;
    const run = model.get("run") ?? {};
    const head = html("div", { class: "dg-run-head" });
    head.append(
      html("span", { class: `dg-run-status dg-run-${run.status ?? "unknown"}` }, run.status ?? "unknown"),
      html("span", { class: "dg-run-id" }, `run ${run.run_id ?? "?"}`),
      html("span", { class: "dg-run-meta" }, [run.assistant_id ? `assistant ${run.graph_id ?? run.assistant_id}` : "", run.thread_id ? `thread ${run.thread_id}` : ""].filter(Boolean).join(" · ")),
    );
    box.appendChild(head);
    if (run.waiting_for?.message) box.appendChild(html("div", { class: "dg-waiting" }, run.waiting_for.message));
    const origin = run.forked_from;
    if (origin?.run_id) {
      const where = `#${origin.seq}${typeof origin.position === "number" ? ` (position ${origin.position})` : ""}`;
      const edited = origin.edited?.length ? ` · state edited: ${origin.edited.join(", ")}` : "";
      box.appendChild(html("div", { class: "dg-fork-origin", "data-dg-forked-from": origin.run_id, title: origin.run_id }, `forked from run ${String(origin.run_id).slice(0, 8)} at ${where}${edited}`));
    }
    const io = html("details", { class: "dg-run-io" });
    io.appendChild(html("summary", {}, "Input and output"));
    io.append(html("div", { class: "dg-pane-title" }, "Input"), html("pre", { class: "dg-json" }, preview(run.input ?? null, 4000)));
    io.append(html("div", { class: "dg-pane-title" }, "Output"), html("pre", { class: "dg-json" }, preview(run.output ?? null, 4000)));
    if (run.error) io.append(html("div", { class: "dg-pane-title" }, "Error"), html("pre", { class: "dg-json dg-error" }, preview(run.error, 4000)));
    box.appendChild(io);
    const interrupts: { value?: unknown; node?: string }[] = run.interrupts ?? [];
    if (run.status === "interrupted" && interrupts.length) {
      const hitl = html("div", { class: "dg-interrupt" });
      hitl.appendChild(html("div", { class: "dg-pane-title" }, "Waiting for you"));
      for (const i of interrupts) hitl.appendChild(html("pre", { class: "dg-json" }, preview(i.value ?? null, 4000)));
      const input = html("textarea", { class: "dg-resume-input", rows: "2", placeholder: "resume value (JSON, e.g. true)" });
      input.value = "true";
      const button = html("button", { class: "dg-button dg-resume", type: "button" }, "Resume");
      const err = html("span", { class: "dg-replay-note" });
      button.addEventListener("click", () => {
        let value: unknown;
        try {
          value = JSON.parse(input.value);
        } catch {
          err.textContent = "not valid JSON";
          return;
        }
        err.textContent = "resuming…";
        model.send({ kind: "resume", value });
      });
      hitl.append(input, button, err);
      box.appendChild(hitl);
      resumeNote = err;
    }
  };
  draw();
  const offs = [
    onChange(model, ["run"], draw),
    onChange(model, ["message"], () => {
      if (resumeNote) resumeNote.textContent = model.get("message") ?? "";
    }),
  ];
  return () => offs.forEach((f) => f());
}

/** The run view (graph, event log, replay, timeline) on a RunView model: the node statuses are
 * folded here from the events; the kernel answers a selection with the state there. */
export function mountRunBody(model: AnyModel, el: HTMLElement, feed: EventFeed): Cleanup {
  const box = html("div", { class: "dg-run-view-box" });
  el.appendChild(box);
  const pushSelection = throttledTimer(() => setTrait(model, "selected_seq", wanted));
  let wanted = -1;
  const view = mountRunView(box, {
    topology: topologyOf(model),
    onSelect: (sel) => {
      if (!sel.byUser) return;
      wanted = sel.following ? -1 : sel.seq;
      // A drag sends at most one position per timer tick; a click goes at once.
      if (sel.dragging) pushSelection();
      else setTrait(model, "selected_seq", wanted);
    },
    onFork: (seq, update) => {
      view.setNote(`forking at #${seq}…`);
      return forkThroughKernel(model, seq, update);
    },
    onSelectNode: (id) => setTrait(model, "selected_node", id),
  });
  const showState = () => view.setState(model.get("state") ?? {}, model.get("prev_state") ?? {}, stateOrigin(model));
  const showNote = () => view.setNote(model.get("message") ?? "");
  showState();
  showNote();
  view.select(selectedSeq(model));
  view.graph?.setSelected(model.get("selected_node") || null);
  const unsubscribe = feed.subscribe((rows) => view.setEvents(rows));
  const offs = [
    onChange(model, ["topology"], () => view.setTopology(topologyOf(model))),
    onChange(model, ["state", "prev_state", "state_at"], showState),
    onChange(model, ["message"], showNote),
    onChange(model, ["selected_seq"], () => view.select(selectedSeq(model))),
    onChange(model, ["selected_node"], () => view.graph?.setSelected(model.get("selected_node") || null)),
  ];
  return () => {
    unsubscribe();
    offs.forEach((f) => f());
    view.dispose();
  };
}
