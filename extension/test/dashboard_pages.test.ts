import { test } from "node:test";
import assert from "node:assert/strict";
import { formatTokens, tokensByNode, type ApiEvent, type Run, type SpanRow } from "../src/dashboard/api";
import { waterfall } from "../src/dashboard/pages/browse";
import { taskStatus } from "../src/dashboard/pages/playground";
import { eventsToCsv, toEventRow } from "../src/dashboard/pages/run";
import { filterRuns } from "../src/dashboard/pages/runs";

const ev = (seq: number, type: string, data: unknown = {}): ApiEvent => ({ seq, event_id: `e${seq}`, type, data, recorded_at: "2026-11-21T10:00:00+00:00" });

test("CSV export quotes what needs quoting and keeps the payload as JSON", () => {
  const csv = eventsToCsv([ev(1, "node_completed", { node: "a", step: 0, update: { text: 'say "hi",\nbye' } })]);
  const [head, row] = csv.split("\r\n");
  assert.equal(head, "seq,event_id,type,recorded_at,node,step,task,attempt,data");
  assert.ok(row.startsWith("1,e1,node_completed,2026-11-21T10:00:00+00:00,a,0,,,"));
  assert.ok(row.includes('"{""node"":""a""'));
});

test("API events become the shared renderers' rows", () => {
  const row = toEventRow(ev(4, "node_completed", { node: "n", step: 2, attempt: 1, task: "2.0", started_at: 1, finished_at: 2, duration_ms: 1000 }));
  assert.equal(row.node, "n");
  assert.equal(row.step, 2);
  assert.equal(row.duration_ms, 1000);
  assert.equal(row.recorded_at, Date.parse("2026-11-21T10:00:00Z"));
  assert.equal(toEventRow(ev(5, "run_created", null)).node, null);
});

test("tasks frames give node statuses", () => {
  assert.deepEqual(taskStatus({ id: "0.0", name: "agent", input: {}, triggers: [] }), { node: "agent", status: "running" });
  assert.deepEqual(taskStatus({ id: "0.0", name: "agent", error: null, result: {}, interrupts: [] }), { node: "agent", status: "done" });
  assert.deepEqual(taskStatus({ name: "review", error: null, result: {}, interrupts: [{ value: 1 }] }), { node: "review", status: "interrupted" });
  assert.deepEqual(taskStatus({ name: "x", error: "Boom", result: null }), { node: "x", status: "failed" });
  assert.equal(taskStatus("nonsense"), null);
});

test("runs filter by status, assistant and duration", () => {
  const run = (id: string, status: string, seconds: number, assistant = "a1"): Run => ({
    run_id: id,
    thread_id: "t",
    assistant_id: assistant,
    status,
    created_at: "2026-11-21T10:00:00Z",
    started_at: "2026-11-21T10:00:00Z",
    ended_at: new Date(Date.parse("2026-11-21T10:00:00Z") + seconds * 1000).toISOString(),
  });
  const runs = [run("r1", "success", 1), run("r2", "error", 5), run("r3", "success", 30, "a2")];
  const ids = (f: Partial<Parameters<typeof filterRuns>[1]>) =>
    filterRuns(runs, { status: "", assistant: "", minSeconds: null, maxSeconds: null, ...f }).map((r) => r.run_id);
  assert.deepEqual(ids({}), ["r1", "r2", "r3"]);
  assert.deepEqual(ids({ status: "success" }), ["r1", "r3"]);
  assert.deepEqual(ids({ assistant: "a2" }), ["r3"]);
  assert.deepEqual(ids({ minSeconds: 2 }), ["r2", "r3"]);
  assert.deepEqual(ids({ minSeconds: 2, maxSeconds: 10 }), ["r2"]);
});

test("the waterfall places spans on the trace's extent", () => {
  const span = (node: string, a: string, b: string | null): SpanRow => ({ node, status: "ok", started_at: a, ended_at: b, duration_ms: null, seq: 1 });
  const bars = waterfall([span("a", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"), span("b", "2026-01-01T00:00:01Z", "2026-01-01T00:00:04Z"), span("c", "2026-01-01T00:00:02Z", null)]);
  assert.deepEqual(bars.map((b) => [b.left, b.width]), [[0, 0.25], [0.25, 0.75], [0.5, 0]]);
  assert.deepEqual(waterfall([span("x", "bad", null)]).map((b) => [b.left, b.width]), [[0, 0]]);
});

test("recent runs are one server-side search, newest first, with the filters given", async () => {
  const { Api, recentRuns } = await import("../src/dashboard/api");
  const calls: [string, unknown][] = [];
  const api = new Api({
    baseUrl: "/",
    request: async (path, init) => {
      calls.push([path, JSON.parse(String(init?.body ?? "null"))]);
      return new Response(JSON.stringify([{ run_id: "b" }, { run_id: "a" }]));
    },
  });
  assert.deepEqual((await recentRuns(api, 20, { assistant_id: "x" })).map((r) => r.run_id), ["b", "a"]);
  assert.deepEqual(calls, [
    ["runs/search", { assistant_id: "x", limit: 20, sort_by: "created_at", sort_order: "desc" }],
  ]);
});

test("tokens per node sum a node's executions; nodes without reported usage are left out", () => {
  const row = (node: string, usage: SpanRow["usage"], ns = ""): SpanRow => ({ node, ns, usage, status: "ok", started_at: null, ended_at: null, duration_ms: null, seq: 0 });
  const rows = tokensByNode([row("model", { input_tokens: 10, output_tokens: 7 }), row("tools", null), row("model", { input_tokens: 30, output_tokens: 5 }), row("inner", { input_tokens: 1, output_tokens: 2 }, "sub:1.0:1|")]);
  assert.deepEqual(rows, [
    { node: "model", executions: 2, usage: { input_tokens: 40, output_tokens: 12 } },
    { node: "sub:1.0:1|inner", executions: 1, usage: { input_tokens: 1, output_tokens: 2 } },
  ]);
  assert.equal(formatTokens({ input_tokens: 1200, output_tokens: 3 }), `${(1200).toLocaleString()} in · 3 out`);
  assert.equal(formatTokens(null), "");
});
