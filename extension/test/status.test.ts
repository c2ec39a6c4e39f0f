// The node-status fold (runview/status.ts): what each event does to the statuses, for the
// widgets and the dashboard alike.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { EventRow } from "../src/renderers/events";
import { nodeStatuses, SNAPSHOT_EVERY, StatusFold, StatusHistory } from "../src/runview/status";

let nextSeq = 1;
/** A log row as the widgets and the dashboard hold it (node and ns as columns, data as JSON). */
function ev(type: string, data: Record<string, unknown> = {}): EventRow {
  const num = (v: unknown) => (typeof v === "number" ? v : null);
  return {
    seq: nextSeq++,
    recorded_at: 0,
    type,
    node: typeof data.node === "string" ? data.node : null,
    ns: typeof data.ns === "string" ? data.ns : null,
    step: num(data.step),
    attempt: num(data.attempt),
    task: typeof data.task === "string" ? data.task : null,
    started_at: null,
    finished_at: null,
    duration_ms: null,
    data: JSON.stringify(data),
  };
}
const plan = (nodes: string[], ns?: string) => ev("step_planned", { tasks: nodes.map((node, i) => ({ id: `0.${i}`, node })), ...(ns ? { ns } : {}) });
const fold = (events: EventRow[]) => nodeStatuses(events);

test("the log replayed up to a position", () => {
  const events = [
    ev("run_created"),
    plan(["draft"]),
    ev("node_completed", { node: "draft" }),
    plan(["review", "tool"]),
    ev("node_failed", { node: "tool", will_retry: true }),
    ev("node_failed", { node: "tool", will_retry: false }),
    ev("run_interrupted", {}),
  ];
  assert.deepEqual(nodeStatuses(events, 2), { draft: "running" });
  assert.deepEqual(nodeStatuses(events, 5), { draft: "done", review: "running", tool: "running" });
  assert.deepEqual(nodeStatuses(events), { draft: "done", review: "interrupted", tool: "failed" });
});

test("start and end: __start__ once the run started, __end__ once it completed (the root's only)", () => {
  const started = [ev("run_created"), ev("run_started", { attempt: 1 })];
  assert.deepEqual(fold(started), { __start__: "done" });
  const inner = [...started, plan(["sub"]), ev("subgraph_started", { ns: "sub:0.0:1|" }), plan(["i1"], "sub:0.0:1|"), ev("node_completed", { node: "i1", ns: "sub:0.0:1|" }), ev("run_completed", { ns: "sub:0.0:1|" })];
  assert.deepEqual(fold(inner), { __start__: "done", sub: "running", "sub:i1": "done" }, "a subgraph's end is not the run's");
  assert.deepEqual(fold([...inner, ev("node_completed", { node: "sub" }), ev("run_completed")]), { __start__: "done", sub: "done", "sub:i1": "done", __end__: "done" });
  // A run that never started (queued, or cancelled before a worker took it): nothing is done.
  assert.deepEqual(fold([ev("run_created"), ev("run_cancel_requested"), ev("run_cancelled", { reason: "r" })]), {});
});

test("retries: a failed attempt that will be retried leaves the node running; the last attempt decides", () => {
  const base = [ev("run_started"), plan(["flaky"])];
  const retrying = [...base, ev("node_failed", { node: "flaky", attempt: 1, will_retry: true })];
  assert.equal(fold(retrying).flaky, "running");
  assert.equal(fold([...retrying, ev("node_completed", { node: "flaky", attempt: 2 })]).flaky, "done");
  const gaveUp = [...retrying, ev("node_failed", { node: "flaky", attempt: 2, will_retry: false }), ev("run_failed", { error: {} })];
  assert.equal(fold(gaveUp).flaky, "failed");
});

test("an interrupt pauses the named node and every node still running; a resume runs them again", () => {
  const paused = [
    ev("run_started"),
    plan(["ask", "side"]),
    ev("run_interrupted", { step: 0, interrupts: [{ id: "0.0:0", task: "0.0", node: "ask", when: "during", value: "ok?" }] }),
  ];
  assert.deepEqual(fold(paused), { __start__: "done", ask: "interrupted", side: "interrupted" });
  const resumed = [...paused, ev("run_resumed", { resume: true }), ev("run_started", { attempt: 2 })];
  assert.deepEqual(fold(resumed), { __start__: "done", ask: "running", side: "running" });
  assert.equal(fold([...resumed, ev("node_completed", { node: "ask" })]).ask, "done");
  // interrupt_before names a node that has not run; interrupt_after one that completed: it stays done.
  const before = [ev("run_started"), plan(["b"]), ev("run_interrupted", { interrupts: [{ node: "b", when: "before", task: "0.0" }] })];
  assert.equal(fold(before).b, "interrupted");
  const after = [
    ev("run_started"),
    plan(["a"]),
    ev("node_completed", { node: "a" }),
    plan(["b"]),
    ev("run_interrupted", { interrupts: [{ node: "a", when: "after" }] }),
  ];
  assert.deepEqual(fold(after), { __start__: "done", a: "done", b: "interrupted" });
});

test("a cancel stops the nodes in flight and the ones waiting for a human: cancelled, not failed", () => {
  const running = [ev("run_started"), plan(["a"]), ev("node_completed", { node: "a" }), plan(["b", "c"]), ev("node_completed", { node: "c" })];
  const cancelled = [...running, ev("run_cancel_requested", { reason: "r" })];
  assert.equal(fold(cancelled).b, "running", "a request alone changes nothing: the run may still finish the node");
  assert.deepEqual(fold([...cancelled, ev("run_cancelled")]), { __start__: "done", a: "done", b: "cancelled", c: "done" });
  // An interrupted run superseded by a new one is cancelled: its waiting node will never resume.
  const superseded = [ev("run_started"), plan(["ask"]), ev("run_interrupted", { interrupts: [{ node: "ask", when: "during" }] }), ev("run_cancel_requested"), ev("run_cancelled", { reason: "superseded by run x" })];
  assert.equal(fold(superseded).ask, "cancelled");
});

test("a failed or timed-out run fails the nodes still running", () => {
  const running = [ev("run_started"), plan(["a", "b"]), ev("node_completed", { node: "a" })];
  assert.deepEqual(fold([...running, ev("run_timed_out", { error: {} })]), { __start__: "done", a: "done", b: "failed" });
  assert.deepEqual(fold([...running, ev("run_failed", { error: {} })]), { __start__: "done", a: "done", b: "failed" });
});

test("subgraph nodes are drawn as outer:inner; namespaced events act within their subgraph", () => {
  const ns = "sub:1.0:1|";
  const events = [
    ev("run_started"),
    plan(["sub", "side"]),
    ev("subgraph_started", { ns }),
    plan(["i1"], ns),
    ev("node_completed", { node: "i1", ns }),
    plan(["ask"], ns),
    // The subgraph pauses (its own event), then the run (at the root, under the subgraph node).
    ev("run_interrupted", { ns, interrupts: [{ node: "ask", when: "during", ns, task: "1.0" }] }),
    ev("run_interrupted", { interrupts: [{ node: "ask", when: "during", ns, task: "1.0" }] }),
  ];
  assert.deepEqual(fold(events), { __start__: "done", sub: "interrupted", side: "interrupted", "sub:i1": "done", "sub:ask": "interrupted" });
  const resumed = [...events, ev("run_resumed", { resume: 1 }), ev("run_resumed", { ns, resume: 1 })];
  assert.deepEqual(fold(resumed), { __start__: "done", sub: "running", side: "running", "sub:i1": "done", "sub:ask": "running" });
  // A subgraph that fails fails its own running nodes, not the outer graph's.
  const failed = [...resumed, plan(["i3", "i4"], ns), ev("node_failed", { node: "i3", ns, will_retry: false }), ev("run_failed", { ns, error: {} })];
  const st = fold(failed);
  assert.deepEqual([st["sub:i3"], st["sub:i4"], st.side, st.sub], ["failed", "failed", "running", "running"]);
  // Nested subgraphs: one level per namespace part.
  assert.deepEqual(fold([plan(["x"], "mid:0.0:1|inner:2.0:1|"), ev("node_completed", { node: "x", ns: "mid:0.0:1|inner:2.0:1|" })]), { "mid:inner:x": "done" });
});

test("a retried subgraph starts afresh: the failed attempt's inner statuses are not the new one's", () => {
  const first = "sub:1.0:1|";
  const second = "sub:1.0:2|";
  const events = [
    ev("run_started"),
    plan(["sub"]),
    ev("subgraph_started", { ns: first }),
    plan(["i1", "i2"], first),
    ev("node_completed", { node: "i1", ns: first }),
    ev("node_failed", { node: "i2", ns: first, will_retry: false }),
    ev("run_failed", { ns: first, error: {} }),
    ev("node_failed", { node: "sub", will_retry: true }),
  ];
  assert.deepEqual(fold(events), { __start__: "done", sub: "running", "sub:i1": "done", "sub:i2": "failed" });
  const retried = [...events, ev("subgraph_started", { ns: second })];
  assert.deepEqual(fold(retried), { __start__: "done", sub: "running", "sub:i1": "pending", "sub:i2": "pending" });
  // The same namespace again (a re-execution after a crash continues it): nothing is reset.
  const again = [...retried, plan(["i1"], second), ev("node_completed", { node: "i1", ns: second }), plan(["i2"], second)];
  assert.deepEqual(fold(again), { __start__: "done", sub: "running", "sub:i1": "done", "sub:i2": "running" });
});

test("only the durable log counts: live events and unknown types change nothing", () => {
  const events = [ev("run_started"), plan(["a"]), ev("node_completed", { node: "a" })];
  const withLive = [...events, ev("node_started", { node: "a", task: "0.0", attempt: 2 }), ev("custom", { node: "a" }), ev("state_updated", { values: {} })];
  assert.deepEqual(fold(withLive), fold(events));
  // A planned task is running from its plan on (its plan is committed before it starts), until
  // its outcome is committed.
  assert.equal(nodeStatuses(events, 2).a, "running");
  assert.equal(nodeStatuses(events, 3).a, "done");
});

test("a payload that is not an object is skipped, not fatal", () => {
  const bad = { ...ev("step_planned"), data: "not json" };
  const f = new StatusFold();
  f.apply(bad);
  f.apply({ ...ev("run_interrupted"), data: "[1, 2]" });
  assert.deepEqual(f.statuses(), {});
});

test("the history gives the fold's statuses at every position, incrementally and after a sort", () => {
  const events: EventRow[] = [ev("run_started")];
  for (let i = 0; i < SNAPSHOT_EVERY + 40; i++) {
    events.push(plan([`n${i % 7}`]));
    events.push(i % 5 === 0 ? ev("node_failed", { node: `n${i % 7}`, will_retry: i % 10 === 0 }) : ev("node_completed", { node: `n${i % 7}` }));
  }
  events.push(ev("run_cancelled"));
  const history = new StatusHistory();
  history.update(events.slice(0, 100));
  history.update(events.slice(0, SNAPSHOT_EVERY + 3));
  history.update(events);
  for (const n of [0, 1, 2, 99, 100, SNAPSHOT_EVERY, SNAPSHOT_EVERY + 1, events.length - 1, events.length]) {
    assert.deepEqual(history.at(n), nodeStatuses(events, n), `at ${n}`);
  }
  assert.deepEqual(history.at(), nodeStatuses(events));
  // One array sorted in place with an earlier event added: folded again from the start.
  const log = events.slice(0, 10);
  history.update(log);
  const late = { ...ev("run_interrupted", { interrupts: [] }), seq: events[3].seq + 0.5 };
  log.push(late);
  log.sort((a, b) => a.seq - b.seq);
  history.update(log);
  assert.deepEqual(history.at(), nodeStatuses(log));
  assert.deepEqual(history.at(5), nodeStatuses(log, 5));
});
