// The view of one run, composed once for every host: the notebook's RunView widget and the
// dashboard's Run view mount this and differ only in their header (what they let you do with the
// run) and in where the state at an event comes from (the kernel, or the thread's history).
//
// The graph (node status at the selected event, folded by ./status.ts), the event log (a virtual
// list), the replay bar (slider, fork from here) with the state at the event and its change, and
// the node timeline all show one selection: moving any of them moves the others. With nothing
// picked, the view follows the run's latest event.
import { h, section } from "../renderers/dom";
import type { EventRow } from "../renderers/events";
import { renderGraph, type GraphHandle, type Topology } from "../renderers/graph";
import { drawnNodeId, renderTimeline } from "../renderers/timeline";
import { VirtualList } from "../renderers/vlist";
import { describeEvent, mountReplay, type StateOrigin } from "./replay";
import { StatusHistory } from "./status";

export { describeEvent, type StateOrigin };

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
  /** "Fork" in the fork dialog of "Fork from here…" (no button without it): after event `seq`,
   * with the state keys the user edited (null: none). Resolve with why it failed, if it did. */
  onFork?: (seq: number, update: Record<string, unknown> | null) => Promise<string | void> | void;
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
  /** The state right after the selected event and right before it; `at`: where it comes from
   * (the caption and the change pane's title are made from it, unless `caption` is given). */
  setState(state: unknown, before: unknown, at?: StateOrigin | null, caption?: string): void;
  /** A line beside the replay bar (a fork's result, a failure). */
  setNote(text: string): void;
  selection(): Selection | null;
  dispose(): void;
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

  const replay = mountReplay({
    onInput: (i, dragging) => {
      pick(i, true, dragging);
      list.scrollToIndex(index);
    },
    onFork: options.onFork,
  });
  const timelineBox = h("div", { class: "dg-timeline-box" });

  const element = h(
    "div",
    { class: "dg-run-view-body" },
    h("div", { class: "dg-run-grid" }, section("Graph", graphBox), section("Event log", list.element)),
    section("Replay", replay.element),
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
      replay.setPosition(-1, undefined, 0);
      graph?.setStatus({});
      return;
    }
    index = Math.max(0, Math.min(i, rows.length - 1));
    const row = rows[index];
    replay.setPosition(index, row, rows.length);
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
      replay.setCount(next.length);
      list.setItems(next);
      timeline.update(next);
      if (wanted !== null) select(wanted);
      else show(following ? next.length - 1 : index, false);
    },
    select,
    setState(state, before, at, caption) {
      replay.setState(state, before, at, caption);
    },
    setNote(text) {
      replay.setNote(text);
    },
    selection: () => current(false),
    dispose() {
      element.remove();
    },
  };
}
