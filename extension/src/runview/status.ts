// Each node's status folded from a run's event log: the one fold behind every view of a run (the
// notebook widgets and the dashboard's Run view), so that a run looks the same everywhere.
//
// The fold reads the durable log only, never live events: the status at event n is what a replay
// to event n shows, and a view that opens late shows what a view that watched from the start
// shows. Nothing is lost by it: a step's plan is committed before any of its tasks starts, so a
// task is "running" from its plan on, and a live `node_started` would tell nothing the log has
// not already said.
//
// Semantics, by event (ids are the drawn ones: `outer:inner` inside a subgraph, see drawnNodeId):
// - run_started (root): __start__ is done.
// - step_planned: each planned task's node is running (due in this step, not committed yet; the
//   engine starts all tasks of a step at once).
// - node_completed: done. node_failed: failed, or running when it will be retried (the failed
//   attempt stays visible in the timeline).
// - run_interrupted: the nodes it names (a `before` or `during` interrupt) are interrupted, and so
//   is every node of its scope still running: the run paused, nothing executes until a resume.
//   An `after` interrupt names a node that completed: it stays done.
// - run_resumed (root): the interrupted nodes run again (running).
// - run_cancelled: nodes of its scope still running or interrupted are cancelled: stopped by a
//   request, without an outcome of their own.
// - run_failed, run_timed_out: nodes of its scope still running failed with the run.
// - run_completed (root): __end__ is done.
// - subgraph_started: a subgraph node began a new namespace (its first attempt, or a retry: one
//   namespace per attempt); the inner nodes of an earlier attempt go back to pending, so a retry
//   does not show the last attempt's outcomes as its own.
// A namespaced lifecycle event (one with `ns`) acts within its subgraph only: its scope is the
// nodes drawn under that subgraph.
import type { EventPayloads, EventType } from "../event_types";
import type { NodeStatus } from "../renderers/graph";
import { parseData, type EventRow } from "../renderers/events";
import { drawnNodeId } from "../renderers/timeline";

export const START = "__start__";
export const END = "__end__";

/** What a log event contributes; the rest of a row is not read. */
export type StatusEvent = Pick<EventRow, "type" | "node" | "ns" | "data">;

type Data = Record<string, unknown>;

const parsed = new WeakMap<StatusEvent, Data>();

/** The payload of the few event types the fold looks into (parsed once per row), typed by the
 * generated mirror of the server's payload types. A stored payload may be older or malformed:
 * every field may be missing, and each is checked where it is used. */
function payload<T extends EventType>(e: StatusEvent): Partial<EventPayloads[T]> {
  let d = parsed.get(e);
  if (!d) {
    const value = parseData(e as EventRow);
    d = value && typeof value === "object" && !Array.isArray(value) ? (value as Data) : {};
    parsed.set(e, d);
  }
  return d as Partial<EventPayloads[T]>;
}

/** The prefix of the ids drawn inside namespace `ns` ("sub:1.0:1|" → "sub:", "" → ""). */
export function scopeOf(ns: string | null | undefined): string {
  return ns ? drawnNodeId(ns, "") : "";
}

export class StatusFold {
  private readonly status = new Map<string, NodeStatus>();
  /** The namespace last entered at each subgraph scope: a new one is a new attempt. */
  private readonly entered = new Map<string, string>();

  /** A copy (the history keeps one every so many events). */
  clone(): StatusFold {
    const copy = new StatusFold();
    for (const [k, v] of this.status) copy.status.set(k, v);
    for (const [k, v] of this.entered) copy.entered.set(k, v);
    return copy;
  }

  /** Each node that an event concerned so far; any other node is pending. */
  statuses(): Record<string, NodeStatus> {
    return Object.fromEntries(this.status);
  }

  apply(e: StatusEvent): void {
    const ns = e.ns ?? "";
    const scope = scopeOf(ns);
    switch (e.type) {
      case "run_started":
        if (!ns) this.status.set(START, "done");
        break;
      case "subgraph_started":
        this.enter(ns);
        break;
      case "step_planned": {
        if (ns) this.enter(ns);
        const tasks = payload<"step_planned">(e).tasks;
        if (!Array.isArray(tasks)) break;
        for (const t of tasks) {
          if (t && typeof t.node === "string") this.status.set(scope + t.node, "running");
        }
        break;
      }
      case "node_completed":
        if (e.node) this.status.set(scope + e.node, "done");
        break;
      case "node_failed":
        if (e.node) this.status.set(scope + e.node, payload<"node_failed">(e).will_retry ? "running" : "failed");
        break;
      case "run_interrupted": {
        const interrupts = payload<"run_interrupted">(e).interrupts;
        for (const i of Array.isArray(interrupts) ? interrupts : []) {
          if (!i || typeof i.node !== "string" || i.when === "after") continue;
          const where = typeof i.ns === "string" && i.ns ? i.ns : ns;
          this.status.set(scopeOf(where) + i.node, "interrupted");
        }
        this.replace(scope, ["running"], "interrupted");
        break;
      }
      case "run_resumed":
        if (!ns) this.replace("", ["interrupted"], "running");
        break;
      case "run_cancelled":
        this.replace(scope, ["running", "interrupted"], "cancelled");
        break;
      case "run_failed":
      case "run_timed_out":
        this.replace(scope, ["running"], "failed");
        break;
      case "run_completed":
        if (!ns) this.status.set(END, "done");
        break;
    }
  }

  private enter(ns: string): void {
    const scope = scopeOf(ns);
    const before = this.entered.get(scope);
    if (before === ns) return;
    this.entered.set(scope, ns);
    if (before === undefined) return;
    for (const id of this.status.keys()) if (id.startsWith(scope)) this.status.set(id, "pending");
  }

  private replace(scope: string, from: readonly NodeStatus[], to: NodeStatus): void {
    for (const [id, st] of this.status) {
      if (id.startsWith(scope) && from.includes(st)) this.status.set(id, to);
    }
  }
}

/** Each node's status after the first `upto` events (all of them when undefined). */
export function nodeStatuses(events: readonly StatusEvent[], upto = events.length): Record<string, NodeStatus> {
  const fold = new StatusFold();
  const end = Math.min(upto, events.length);
  for (let i = 0; i < end; i++) fold.apply(events[i]);
  return fold.statuses();
}

/** A copy of the fold is kept every this many events: the status at any event costs at most this
 * many steps of the fold (a replay slider scrubbing a 100,000-event run stays instant). */
export const SNAPSHOT_EVERY = 256;

/**
 * The statuses at every position of a growing log. `update` folds only the events appended since
 * the last call (the whole log again when earlier events changed: a late batch sorted in).
 */
export class StatusHistory {
  private rows: readonly StatusEvent[] = [];
  private head = new StatusFold();
  private folded = 0;
  /** The last row folded: the log may be one array sorted in place, so compare rows, not arrays. */
  private last: StatusEvent | undefined;
  private snapshots: StatusFold[] = [new StatusFold()];

  update(rows: readonly StatusEvent[]): void {
    // Rows are kept objects: the same one at the last folded position means only appends since.
    if (rows.length < this.folded || rows[this.folded - 1] !== this.last) {
      this.head = new StatusFold();
      this.folded = 0;
      this.last = undefined;
      this.snapshots = [new StatusFold()];
    }
    this.rows = rows;
    while (this.folded < rows.length) {
      this.head.apply(rows[this.folded]);
      this.folded++;
      this.last = rows[this.folded - 1];
      if (this.folded % SNAPSHOT_EVERY === 0) this.snapshots.push(this.head.clone());
    }
  }

  /** The statuses after the first `count` events (all of them when undefined). */
  at(count?: number): Record<string, NodeStatus> {
    const n = Math.max(0, Math.min(count ?? this.folded, this.folded));
    if (n === this.folded) return this.head.statuses();
    const base = Math.floor(n / SNAPSHOT_EVERY);
    const fold = this.snapshots[base].clone();
    for (let i = base * SNAPSHOT_EVERY; i < n; i++) fold.apply(this.rows[i]);
    return fold.statuses();
  }
}
