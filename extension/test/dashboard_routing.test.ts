import { test } from "node:test";
import assert from "node:assert/strict";
import { formatHash, parseHash } from "../src/dashboard/routing";
import { cookie, fetchTransport } from "../src/dashboard/transport";
import { versionWarning } from "../src/dashboard/app";

test("hash routes parse to a page and its parameters", () => {
  assert.deepEqual(parseHash(""), { page: "playground", params: {} });
  assert.deepEqual(parseHash("#/runs"), { page: "runs", params: {} });
  assert.deepEqual(parseHash("#/runs?status=running"), { page: "runs", params: { status: "running" } });
  assert.deepEqual(parseHash("#/run/abc?thread_id=t1"), { page: "run", params: { run_id: "abc", thread_id: "t1" } });
  assert.deepEqual(parseHash("#threads/t%201"), { page: "threads", params: { thread_id: "t 1" } });
  assert.deepEqual(parseHash("#/nonsense/x"), { page: "playground", params: {} });
});

test("formatHash and parseHash round-trip", () => {
  const cases: [string, Record<string, string>][] = [
    ["run", { run_id: "r-1", thread_id: "t/2" }],
    ["playground", { assistant: "chat" }],
    ["traces", { thread_id: "x" }],
    ["assistants", {}],
  ];
  for (const [page, params] of cases) {
    const hash = formatHash(page as never, params);
    assert.deepEqual(parseHash(hash), { page, params }, hash);
  }
  assert.equal(formatHash("run", { run_id: "r", thread_id: "t" }), "#/run/r?thread_id=t");
});

test("the transport sends the XSRF cookie's value on writes only", async () => {
  const seen: [string, RequestInit][] = [];
  const t = fetchTransport({
    baseUrl: "/user/ann/",
    xsrfToken: "injected",
    cookies: () => "a=1; _xsrf=2%7Cabc; b=2",
    fetch: (async (url: string, init: RequestInit) => (seen.push([url, init]), new Response("{}"))) as typeof fetch,
  });
  await t.request("runs/1");
  await t.request("threads", { method: "POST", body: "{}" });
  assert.equal(seen[0][0], "/user/ann/duragraph/api/v1/runs/1");
  assert.equal(new Headers(seen[0][1].headers).get("X-XSRFToken"), null);
  assert.equal(new Headers(seen[1][1].headers).get("X-XSRFToken"), "2|abc");
  assert.equal(new Headers(seen[1][1].headers).get("Content-Type"), "application/json");
  assert.equal(seen[1][1].credentials, "same-origin");
  assert.equal(cookie("_xsrf", "x=1"), null);
});

test("without the cookie the injected token is used", async () => {
  let headers: Headers | null = null;
  const t = fetchTransport({ baseUrl: "/", xsrfToken: "tok", cookies: () => "", fetch: (async (_u: string, init: RequestInit) => ((headers = new Headers(init.headers)), new Response("{}"))) as typeof fetch });
  await t.request("x", { method: "DELETE" });
  assert.equal(headers!.get("X-XSRFToken"), "tok");
});

test("the version handshake warns only on a difference", () => {
  assert.equal(versionWarning("0.1.0", "0.1.0"), null);
  assert.equal(versionWarning(undefined, "0.1.0"), null);
  assert.match(versionWarning("0.1.0", "0.2.0")!, /version mismatch: this page is DuraGraph Lab 0\.1\.0, the server extension is 0\.2\.0/);
  assert.match(versionWarning("0.1.0", undefined)!, /did not report/);
});
