// The run view's pure parts (runview/view.ts): what its replay label says about an event.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { EventRow } from "../src/renderers/events";
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
