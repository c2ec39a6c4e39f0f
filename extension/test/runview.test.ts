// The run view's pure parts (runview/view.ts): what its replay label says about an event.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { EventRow } from "../src/renderers/events";
import { forkEdit, stateCaption } from "../src/runview/replay";
import { describeEvent } from "../src/runview/view";

const row = (over: Partial<EventRow>): EventRow => ({
  seq: 7,
  recorded_at: 0,
  type: "run_completed",
  node: null,
  ns: null,
  step: null,
  attempt: null,
  task: null,
  started_at: null,
  finished_at: null,
  duration_ms: null,
  data: "{}",
  ...over,
});

test("the replay label: seq, type, the node as drawn (outer:inner in a subgraph), step, position", () => {
  assert.equal(describeEvent(row({}), 6, 7), "#7 run_completed (7/7)");
  assert.equal(describeEvent(row({ seq: 3, type: "node_completed", node: "a", step: 0 }), 2, 7), "#3 node_completed · a · step 0 (3/7)");
  assert.equal(describeEvent(row({ type: "node_failed", node: "i1", ns: "sub:1.0:2|", step: 1 }), 0, 1), "#7 node_failed · sub:i1 · step 1 (1/1)");
});

test("the caption: at a node's completion, the state after that node and the change it made", () => {
  const at = stateCaption({ seq: 12, type: "node_completed", node: "agent", step: 0, previous_seq: 11 });
  assert.equal(at.caption, "state after #12 node_completed · agent: agent's update applied (change since #11)");
  assert.equal(at.changeTitle, "Change made by agent");
  const first = stateCaption({ seq: 9, type: "run_created", previous_seq: null });
  assert.equal(first.caption, "state after #9 run_created (change since the state the run started from)");
  assert.equal(first.changeTitle, "Change made by this event");
  assert.equal(stateCaption({ seq: 5, step: 1, source: "checkpoint" }).changeTitle, "Change from the checkpoint before");
});

test("the fork dialog sends only the keys the user changed, and refuses what cannot be sent", () => {
  const state = { n: 1, log: ["a"], messages: [{ id: "m1", content: "hi" }] };
  assert.deepEqual(forkEdit(state, JSON.stringify(state)), { ok: true, update: null, changed: [] });
  const edited = forkEdit(state, JSON.stringify({ ...state, n: 5 }));
  assert.deepEqual(edited, { ok: true, update: { n: 5 }, changed: ["n"] });
  const added = forkEdit(state, JSON.stringify({ ...state, extra: true }));
  assert.ok(added.ok && added.changed.includes("extra"));
  const bad = forkEdit(state, "{ n: 1");
  assert.ok(!bad.ok && bad.problem.startsWith("not valid JSON"));
  const list = forkEdit(state, "[1, 2]");
  assert.ok(!list.ok && list.problem.includes("JSON object"));
  const removed = forkEdit(state, JSON.stringify({ n: 1, messages: [] }));
  assert.ok(!removed.ok && removed.problem.includes("cannot remove state keys (log)"));
});
