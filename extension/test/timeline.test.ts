import { test } from "node:test";
import assert from "node:assert/strict";
import type { EventRow } from "../src/renderers/events";
import {
  aggregateBars,
  formatSeconds,
  linearScale,
  markAt,
  spanAt,
  spansFromEvents,
  tickStep,
  timelineModel,
  TimelineIndex,
  LABEL_W,
} from "../src/renderers/timeline";

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
      ["sub:inner", 1, "ok", false],
    ],
  );
});

test("timeline model: rows by node order, bars on the time axis", () => {
  const m = timelineModel(events, 530, ["__start__", "plan", "call"]);
  assert.deepEqual(
    m.rows.map((r) => r.key),
    ["__run__", "plan", "call", "sub:inner"],
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

test("the index follows a growing log incrementally and rebuilds on anything else", () => {
  const index = new TimelineIndex();
  const log = events.slice(0, 3);
  assert.equal(index.sync(log), 3);
  assert.equal(index.spanCount, 1);
  log.push(...events.slice(3));
  assert.equal(index.sync(log), 4, "only the new events");
  assert.equal(index.spanCount, 4);
  assert.deepEqual(index.rowKeys(["plan"]), ["plan", "call", "sub:inner"]);
  assert.deepEqual(index.sortedMarks().map((e) => e.seq), [1, 2, 7]);
  assert.deepEqual(index.extent(), [1000, 1004]);
  assert.equal(index.sync(log), 0, "nothing new");
  // A reset feed (another log, shorter): rebuilt from scratch.
  assert.equal(index.sync(events.slice(0, 2)), 2);
  assert.equal(index.spanCount, 0);
  assert.equal(index.sync([]), 0);
  assert.deepEqual(index.extent(), [0, 0]);
});

function bar(seq: number, x: number, w: number, status: "ok" | "error" = "ok", willRetry = false) {
  const span = { ...spansFromEvents(events)[0], seq, status, willRetry };
  return { span, x, w, y: 0, cls: `dg-span dg-span-${status}` };
}

test("bars closer than two pixels are drawn as one, with their count", () => {
  const out = aggregateBars([bar(1, 0, 2), bar(2, 3, 2), bar(3, 5.5, 2, "error"), bar(4, 20, 2), bar(5, 30, 4, "error", true)]);
  assert.deepEqual(
    out.map((b) => [b.seq, b.x, b.w, b.count]),
    [[1, 0, 7.5, 3], [4, 20, 2, 1], [5, 30, 4, 1]],
  );
  assert.ok(out[0].cls.includes("dg-span-agg") && out[0].cls.includes("dg-span-error"), "a failure in the group shows");
  assert.equal(out[1].cls, "dg-span dg-span-ok", "a bar on its own keeps its classes");
  // 5,000 spans 1 px apart in one row: a handful of rects, not 5,000.
  const many = Array.from({ length: 5000 }, (_, i) => bar(i, i * 0.1, 2));
  const merged = aggregateBars(many);
  assert.equal(merged.length, 1);
  assert.equal(merged[0].count, 5000);
});

test("hit testing: the span under the pointer or the nearest within the tolerance", () => {
  const spans = spansFromEvents(events).filter((s) => s.key === "call");
  assert.equal(spanAt(spans, 1000.2, 0.01)?.seq, 3);
  assert.equal(spanAt(spans, 1001.5, 0.01)?.seq, 4);
  assert.equal(spanAt(spans, 1000.7, 0.25)?.seq, 3, "nearest: 0.2 s after the end of #3 (#4 starts 0.3 s later)");
  assert.equal(spanAt(spans, 1000.7, 0.1), null, "nothing within 0.1 s");
  assert.equal(spanAt([], 1, 1), null);
  const marks = events.filter((e) => e.type.startsWith("run_") || e.type === "step_planned");
  assert.equal(markAt(marks, 1000_000.5, 1)?.seq, 1);
  assert.equal(markAt(marks, 1004_000, 1)?.seq, 7);
  assert.equal(markAt(marks, 1002_000, 1), null);
});
