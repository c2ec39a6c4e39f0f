import { test } from "node:test";
import assert from "node:assert/strict";
import { followStream, SeqFilter, SseParser, type StreamEvent } from "../src/dashboard/sse";
import type { Transport } from "../src/dashboard/contract";

test("frames split anywhere across chunks parse the same", () => {
  const text = 'event: metadata\ndata: {"run_id":"r1"}\n\nevent: values\ndata: {"a":1}\nid: 7\n\n: heartbeat\n\nevent: values\r\ndata: {"a":2}\r\nid: 8\r\n\r\n';
  const whole = new SseParser().feed(text);
  assert.deepEqual(whole, [
    { event: "metadata", data: '{"run_id":"r1"}', id: null },
    { event: "values", data: '{"a":1}', id: "7" },
    { event: "values", data: '{"a":2}', id: "8" },
  ]);
  for (let size = 1; size < 12; size++) {
    const p = new SseParser();
    const out = [];
    for (let i = 0; i < text.length; i += size) out.push(...p.feed(text.slice(i, i + size)));
    assert.deepEqual(out, whole, `chunks of ${size}`);
    assert.equal(p.lastEventId, "8");
  }
});

test("multi-line data, default event name, fields without a space, unknown fields", () => {
  const frames = new SseParser().feed("data:line1\ndata: line2\nretry: 10\nfoo: bar\n\n");
  assert.deepEqual(frames, [{ event: "message", data: "line1\nline2", id: null }]);
});

test("comments and blank lines alone make no frame; an incomplete frame waits", () => {
  const p = new SseParser();
  assert.deepEqual(p.feed(": heartbeat\n\n\n"), []);
  assert.deepEqual(p.feed("event: values\ndata: {}"), []);
  assert.deepEqual(p.feed("\n\n"), [{ event: "values", data: "{}", id: null }]);
});

test("the seq filter drops replays and keeps id-less frames", () => {
  const f = new SeqFilter();
  assert.deepEqual(["1", "2", "2", "1", null, "3", "x"].map((id) => f.accept(id)), [true, true, false, false, true, true, true]);
  assert.equal(f.last, 3);
});

function sseResponse(body: string, fail = false): Response {
  const enc = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(enc.encode(body));
      // Fail later, as a dropped connection does (an immediate error would discard the body).
      if (fail) setTimeout(() => c.error(new TypeError("network error")), 20);
      else c.close();
    },
  });
  return new Response(stream, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

const frame = (event: string, data: string, id?: number) => `event: ${event}\ndata: ${data}\n${id === undefined ? "" : `id: ${id}\n`}\n`;

test("a dropped stream reconnects with Last-Event-ID to the run's stream and delivers each seq once", async () => {
  const calls: { path: string; init?: RequestInit }[] = [];
  const responses = [
    sseResponse(frame("metadata", '{"run_id":"r9"}') + frame("values", '{"n":1}', 10) + frame("values", '{"n":2}', 11), true),
    sseResponse(frame("metadata", '{"run_id":"r9"}') + frame("values", '{"n":2}', 11) + frame("values", "{bad", 12) + frame("values", '{"n":3}', 13)),
  ];
  const transport: Transport = {
    baseUrl: "/",
    request: async (path, init) => {
      calls.push({ path, init });
      const r = responses.shift();
      if (!r) throw new Error("no more responses");
      return r;
    },
  };
  const got: StreamEvent[] = [];
  const problems: [string, boolean][] = [];
  let ended = false;
  const handle = followStream({
    transport,
    path: "threads/t/runs/stream",
    init: { method: "POST", body: "{}" },
    reconnectPath: (id) => `runs/${id}/stream`,
    onEvent: (e) => got.push(e),
    onProblem: (m, final) => problems.push([m, final]),
    onEnd: () => (ended = true),
    retryDelayMs: 1,
  });
  await handle.done;
  assert.equal(calls.length, 2);
  assert.equal(calls[0].init?.method, "POST");
  assert.equal(calls[1].path, "runs/r9/stream");
  assert.equal(new Headers(calls[1].init?.headers).get("Last-Event-ID"), "11");
  assert.deepEqual(got.filter((e) => e.seq !== null).map((e) => e.seq), [10, 11, 13]);
  assert.ok(ended);
  assert.ok(problems.some(([m, final]) => /reconnecting/.test(m) && !final));
  assert.ok(problems.some(([m, final]) => /malformed event "values"/.test(m) && !final));
});

test("a run deleted while followed: 404 on reconnect is a final, specific problem", async () => {
  const responses = [
    sseResponse(frame("metadata", '{"run_id":"r1"}') + frame("values", "{}", 5), true),
    new Response(JSON.stringify({ error: "not_found", message: "run r1 does not exist" }), { status: 404 }),
  ];
  const problems: [string, boolean][] = [];
  const handle = followStream({
    transport: { baseUrl: "/", request: async () => responses.shift()! },
    path: "runs/r1/stream",
    onEvent: () => undefined,
    onProblem: (m, final) => problems.push([m, final]),
    retryDelayMs: 1,
  });
  await handle.done;
  const last = problems[problems.length - 1];
  assert.equal(last[1], true);
  assert.match(last[0], /not found \(HTTP 404\): run r1 does not exist/);
});

test("an expired login (403) is not retried and says so", async () => {
  let n = 0;
  const problems: [string, boolean][] = [];
  await followStream({
    transport: { baseUrl: "/", request: async () => (n++, new Response('{"error":"forbidden","message":"Forbidden"}', { status: 403 })) },
    path: "runs/r/stream",
    onEvent: () => undefined,
    onProblem: (m, final) => problems.push([m, final]),
  }).done;
  assert.equal(n, 1);
  assert.match(problems[0][0], /expired/);
  assert.equal(problems[0][1], true);
});

test("a POST that never got an answer is not retried (it may have started a run)", async () => {
  let n = 0;
  const problems: string[] = [];
  await followStream({
    transport: { baseUrl: "/", request: async () => (n++, Promise.reject(new TypeError("Failed to fetch"))) },
    path: "threads/t/runs/stream",
    init: { method: "POST" },
    onEvent: () => undefined,
    onProblem: (m) => problems.push(m),
  }).done;
  assert.equal(n, 1);
  assert.match(problems[0], /cannot reach the DuraGraph server/);
});
