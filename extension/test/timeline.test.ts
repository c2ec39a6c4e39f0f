import { test } from "node:test";
import assert from "node:assert/strict";
import type { EventRow } from "../src/renderers/events";
import { formatSeconds, linearScale, spansFromEvents, tickStep, timelineModel, LABEL_W } from "../src/renderers/timeline";

function ev(partial: Partial<EventRow> & { seq: number; type: string }): EventRow {
  return {
    recorded_at: 0,
    node: null,
    ns: null,
    step: null,
    attempt: null,
    task: null,
    started_at: null,
    finished_at: null,
    duration_ms: null,
    data: "{}",
    ...partial,
  };
}

test("linear scale maps and inverts", () => {
  const s = linearScale(0, 10, 100, 300);
  assert.equal(s(0), 100);
  assert.equal(s(5), 200);
  assert.equal(s(10), 300);
  assert.equal(s.invert(250), 7.5);
  const flat = linearScale(3, 3, 10, 20);
  assert.equal(flat(3), 10);
  assert.deepEqual(flat.ticks(), [3]);
});

test("ticks are round numbers inside the domain", () => {
  assert.equal(tickStep(10, 5), 2);
  assert.equal(tickStep(1, 5), 0.2);
  assert.equal(tickStep(0.37, 4), 0.1);
  assert.deepEqual(linearScale(0, 1, 0, 100).ticks(5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  const ticks = linearScale(0.13, 2.9, 0, 100).ticks(5);
  assert.ok(ticks.every((t) => t >= 0.13 && t <= 2.9));
  assert.deepEqual(ticks, [0.5, 1, 1.5, 2, 2.5]);
  assert.equal(formatSeconds(0.25), "250ms");
  assert.equal(formatSeconds(1.5), "1.5s");
});

const events: EventRow[] = [
  ev({ seq: 1, type: "run_started", recorded_at: 1000_000 }),
  ev({ seq: 2, type: "step_planned", recorded_at: 1000_001, step: 0 }),
  ev({ seq: 3, type: "node_failed", node: "call", step: 0, attempt: 1, started_at: 1000.0, finished_at: 1000.5, data: '{"will_retry": true}' }),
  ev({ seq: 4, type: "node_completed", node: "call", step: 0, attempt: 2, started_at: 1001.0, finished_at: 1002.0, duration_ms: 1000 }),
  ev({ seq: 5, type: "node_completed", node: "plan", step: 1, attempt: 1, started_at: 1002.0, finished_at: 1003.0 }),
  ev({ seq: 6, type: "node_completed", node: "inner", ns: "sub:1.0:1|", step: 0, attempt: 1, started_at: 1002.2, finished_at: 1002.4 }),
  ev({ seq: 7, type: "run_completed", recorded_at: 1004_000 }),
];

test("one span per node execution attempt; retries and failures visible", () => {
  const spans = spansFromEvents(events);
  assert.equal(spans.length, 4);
  assert.deepEqual(
    spans.map((s) => [s.key, s.attempt, s.status, s.willRetry]),
    [
      ["call", 1, "error", true],
      ["call", 2, "ok", false],
      ["plan", 1, "ok", false],
      ["sub:1.0:1|inner", 1, "ok", false],
    ],
  );
});

test("timeline model: rows by node order, bars on the time axis", () => {
  const m = timelineModel(events, 530, ["__start__", "plan", "call"]);
  assert.deepEqual(
    m.rows.map((r) => r.key),
    ["__run__", "plan", "call", "sub:1.0:1|inner"],
  );
  assert.equal(m.t0, 1000);
  assert.equal(m.t1, 1004);
  const plotW = 530 - LABEL_W - 10;
  const [failed, ok] = m.bars;
  assert.equal(failed.x, LABEL_W);
  assert.ok(Math.abs(failed.w - plotW / 8) < 1e-9);
  assert.ok(failed.cls.includes("dg-span-error") && failed.cls.includes("dg-span-retried"));
  assert.ok(ok.cls.includes("dg-span-retry") && ok.cls.includes("dg-span-ok"));
  assert.equal(ok.y, m.rows[2].y);
  assert.deepEqual(m.marks.map((k) => k.event.seq), [1, 2, 7]);
  assert.equal(m.marks[2].x, LABEL_W + plotW);
});

test("an empty run has only the run row", () => {
  const m = timelineModel([], 400);
  assert.equal(m.bars.length, 0);
  assert.equal(m.rows.length, 1);
});
