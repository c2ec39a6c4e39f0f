// The view of one run, composed once for every host: the notebook's RunView widget and the
// dashboard's Run view mount this and differ only in their header (what they let you do with the
// run) and in where the state at an event comes from (the kernel, or the thread's history).
//
// The graph (node status at the selected event, folded by ./status.ts), the event log (a virtual
// list), the replay bar (slider, fork from here) with the state at the event and its change, and
// the node timeline all show one selection: moving any of them moves the others. With nothing
// picked, the view follows the run's latest event.
import { diffJson, renderDiff, renderJson } from "../renderers/diff";
import { h, section } from "../renderers/dom";
import type { EventRow } from "../renderers/events";
import { renderGraph, type GraphHandle, type Topology } from "../renderers/graph";
import { drawnNodeId, renderTimeline } from "../renderers/timeline";
import { VirtualList } from "../renderers/vlist";
import { StatusHistory } from "./status";

export const EVENT_ROW_HEIGHT = 24;

/** The position a view shows. */
export interface Selection {
  seq: number;
  index: number;
  /** at the latest event, and staying there as events come */
  following: boolean;
  /** moved by the user (slider, event log, timeline), not by new events or by the host */
  byUser: boolean;
  /** moved by dragging the slider: more positions follow at once (a host may throttle them) */
  dragging: boolean;
}

export interface RunViewOptions {
  topology?: Topology | null;
  /** Called whenever the selected event changes (the host shows the state there: setState). */
  onSelect?: (selection: Selection) => void;
  /** "Fork from here" (no button without it). */
  onFork?: (seq: number) => void;
  /** A click on a node of the graph. */
  onSelectNode?: (id: string) => void;
}

export interface RunViewHandle {
  readonly element: HTMLElement;
  /** The graph (null until a topology was given). */
  readonly graph: GraphHandle | null;
  /** The run's graph, or why there is none. */
  setTopology(topology: Topology | null, problem?: string): void;
  /** The run's events so far, in seq order (the same rows again plus new ones as the run goes). */
  setEvents(rows: readonly EventRow[]): void;
  /** Show the event `seq` (null: follow the latest) without calling onSelect. */
  select(seq: number | null): void;
  /** The state at the selected event and the one before it; `caption` says where it comes from. */
  setState(state: unknown, before: unknown, caption?: string): void;
  /** A line beside the replay bar (a fork's result, a failure). */
  setNote(text: string): void;
  selection(): Selection | null;
  dispose(): void;
}

/** What the replay label says about an event. */
export function describeEvent(row: EventRow, index: number, count: number): string {
  const node = row.node ? ` · ${drawnNodeId(row.ns, row.node)}` : "";
  const step = row.step !== null ? ` · step ${row.step}` : "";
  return `#${row.seq} ${row.type}${node}${step} (${index + 1}/${count})`;
}

function summary(row: EventRow): string {
  return row.data.length > 160 ? `${row.data.slice(0, 160)}…` : row.data;
}

export function mountRunView(container: HTMLElement, options: RunViewOptions = {}): RunViewHandle {
  let rows: readonly EventRow[] = [];
  let index = -1;
  let following = true;
  let graph: GraphHandle | null = null;
  /** An event the host selected before it arrived: shown once it does. */
  let wanted: number | null = null;
  const history = new StatusHistory();

  const graphBox = h("div", { class: "dg-graph-box", "data-dg-graph": "" });
  const list = new VirtualList<EventRow>({
    rowHeight: EVENT_ROW_HEIGHT,
    fallbackHeight: 360,
    className: "dg-eventlog",
    renderRow: (e, i) =>
      h(
        "div",
        { class: `dg-event-row${i === index ? " dg-selected" : ""}`, "data-seq": String(e.seq), role: "row" },
        h("span", { class: "dg-ev-seq" }, `#${e.seq}`),
        h("span", { class: "dg-ev-time" }, new Date(e.recorded_at).toLocaleTimeString()),
        h("span", { class: `dg-ev-type dg-ev-${e.type}` }, e.type),
        h("span", { class: "dg-ev-node" }, e.node ? drawnNodeId(e.ns, e.node) : ""),
        h("span", { class: "dg-ev-data" }, summary(e)),
      ),
  });
  list.element.setAttribute("data-dg-eventlog", "");
  list.element.setAttribute("aria-label", "event log");

  const slider = h("input", { type: "range", min: "0", max: "0", value: "0", class: "dg-replay-range", "aria-label": "replay position", "data-dg-replay": "" });
  slider.disabled = true;
  const label = h("span", { class: "dg-replay-label", "data-dg-replay-label": "" }, "no events");
  const fork = h("button", { type: "button", class: "dg-button dg-fork", "data-action": "fork" }, "Fork from here");
  fork.hidden = !options.onFork;
  const note = h("span", { class: "dg-replay-note", "data-dg-replay-note": "" });
  const caption = h("div", { class: "dg-replay-caption dg-muted", "data-dg-replay-caption": "" });
  const stateBox = h("div", { class: "dg-replay-state", "data-dg-state": "" });
  const diffBox = h("div", { class: "dg-replay-diff", "data-dg-diff": "" });
  const timelineBox = h("div", { class: "dg-timeline-box" });

  const element = h(
    "div",
    { class: "dg-run-view-body" },
    h("div", { class: "dg-run-grid" }, section("Graph", graphBox), section("Event log", list.element)),
    section(
      "Replay",
      h("div", { class: "dg-replay-bar" }, slider, label, fork, note),
      caption,
      h(
        "div",
        { class: "dg-replay-panes" },
        h("div", { class: "dg-pane" }, h("div", { class: "dg-pane-title" }, "State at this event"), stateBox),
        h("div", { class: "dg-pane" }, h("div", { class: "dg-pane-title" }, "Change from the checkpoint before"), diffBox),
      ),
    ),
    section("Node timeline", timelineBox),
  );
  container.append(element);

  const timeline = renderTimeline(timelineBox, {
    onSelect: (seq) => pick(rows.findIndex((r) => r.seq === seq), true),
  });

  function current(byUser: boolean, dragging = false): Selection | null {
    const row = rows[index];
    return row ? { seq: row.seq, index, following, byUser, dragging } : null;
  }

  /** Show position `i` everywhere; `byUser`: the user moved it (and may stop following). */
  function show(i: number, byUser: boolean, dragging = false): void {
    if (!rows.length) {
      index = -1;
      label.textContent = "no events";
      graph?.setStatus({});
      return;
    }
    index = Math.max(0, Math.min(i, rows.length - 1));
    const row = rows[index];
    slider.value = String(index);
    label.textContent = describeEvent(row, index, rows.length);
    graph?.setStatus(history.at(index + 1));
    timeline.setSelected(row.seq);
    list.refresh();
    const sel = current(byUser, dragging);
    if (sel) options.onSelect?.(sel);
  }

  function pick(i: number, byUser: boolean, dragging = false): void {
    if (i < 0) return;
    following = i >= rows.length - 1;
    show(i, byUser, dragging);
  }

  slider.addEventListener("input", () => {
    pick(Number(slider.value), true, true);
    list.scrollToIndex(index);
  });
  list.element.addEventListener("click", (ev) => {
    const row = (ev.target as HTMLElement).closest<HTMLElement>(".dg-event-row");
    if (row?.dataset.index) pick(Number(row.dataset.index), true);
  });
  list.element.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    ev.preventDefault();
    pick(Math.max(0, index + (ev.key === "ArrowDown" ? 1 : -1)), true);
    list.scrollToIndex(index);
  });
  fork.addEventListener("click", () => {
    const row = rows[index];
    if (row) options.onFork?.(row.seq);
  });

  function setTopology(topo: Topology | null, problem?: string): void {
    if (!topo) {
      graph = null;
      graphBox.replaceChildren(h("div", { class: "dg-notice dg-notice-warning", "data-dg-message": "warning" }, `no graph${problem ? `: ${problem}` : ""}`));
      return;
    }
    const status = index >= 0 ? history.at(index + 1) : {};
    if (graph) {
      graph.setTopology(topo);
      graph.setStatus(status);
    } else {
      graph = renderGraph(graphBox, topo, status, { onSelectNode: options.onSelectNode });
    }
    timeline.setNodeOrder((topo.nodes ?? []).map((n) => n.id));
  }

  function select(seq: number | null): void {
    wanted = null;
    if (seq === null || seq < 0) {
      following = true;
      show(rows.length - 1, false);
      return;
    }
    const i = rows.findIndex((r) => r.seq === seq);
    if (i < 0) {
      wanted = seq;
      return;
    }
    following = i === rows.length - 1;
    show(i, false);
    list.scrollToIndex(i);
  }

  if (options.topology !== undefined) setTopology(options.topology);

  return {
    element,
    get graph() {
      return graph;
    },
    setTopology,
    setEvents(next) {
      rows = next;
      history.update(next);
      slider.max = String(Math.max(0, next.length - 1));
      slider.disabled = next.length === 0;
      list.setItems(next);
      timeline.update(next);
      if (wanted !== null) select(wanted);
      else show(following ? next.length - 1 : index, false);
    },
    select,
    setState(state, before, text = "") {
      caption.textContent = text;
      renderJson(stateBox, state ?? {});
      renderDiff(diffBox, diffJson(before ?? {}, state ?? {}));
    },
    setNote(text) {
      note.textContent = text;
    },
    selection: () => current(false),
    dispose() {
      element.remove();
    },
  };
}
