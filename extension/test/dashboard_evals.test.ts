import { test } from "node:test";
import assert from "node:assert/strict";
import { Api, type Experiment, type Run } from "../src/dashboard/api";
import {
  baseAndCandidate,
  datasetSource,
  deltaClass,
  diffPath,
  downloadName,
  fileSafe,
  formatDelta,
  formatScore,
  jsonShort,
  meanScores,
  nameProblem,
  passSummary,
  runIdOf,
  saveDatasetBody,
  saveFailure,
  stateChangeOp,
  trend,
  valuePreview,
  verdictClass,
} from "../src/dashboard/pages/evals";
import { formatHash, parseHash } from "../src/dashboard/routing";
import { HttpError, responseError } from "../src/dashboard/sse";

const run = (id: string, status: string): Run => ({ run_id: id, thread_id: "t", assistant_id: "a1", status, created_at: "2026-11-21T10:00:00Z" });
const view = { status: "", assistant: "", minSeconds: null, maxSeconds: null };

test("ticked runs are saved by id, whatever the filters", () => {
  const src = datasetSource({ ...view, status: "success" }, ["r2", "r1"], [run("r1", "success")]);
  assert.deepEqual(src.selection, { ids: ["r2", "r1"], limit: 2 });
  assert.equal(src.describe, "the 2 ticked runs");
  assert.equal(datasetSource(view, ["r1"], []).describe, "the 1 ticked run");
  const many = Array.from({ length: 1500 }, (_, i) => `r${i}`);
  const capped = datasetSource(view, many, []);
  assert.equal((capped.selection.ids as string[]).length, 1000);
  assert.equal(capped.selection.limit, 1000);
});

test("without ticks the filters become the server's selection", () => {
  const shown = [run("r1", "success"), run("r2", "running"), run("r3", "error")];
  const all = datasetSource(view, [], shown);
  assert.deepEqual(all.selection, { limit: 1000 });
  assert.equal(all.describe, "every run at rest (up to 1000, oldest first)");
  assert.equal(all.count, 2); // the running one is not at rest
  const some = datasetSource({ ...view, status: "success", assistant: "a1" }, [], shown, (id) => (id === "a1" ? "chat" : id));
  assert.deepEqual(some.selection, { status: "success", assistant_id: "a1", limit: 1000 });
  assert.equal(some.describe, "every run with status success and assistant chat (up to 1000, oldest first)");
});

test("the page-only duration filter sends the runs shown, at rest, by id", () => {
  const shown = [run("r1", "success"), run("r2", "running"), run("r3", "error")];
  const src = datasetSource({ ...view, minSeconds: 1 }, [], shown);
  assert.deepEqual(src.selection, { ids: ["r1", "r3"], limit: 2 });
  assert.match(src.describe, /the 2 runs shown \(filtered by duration\)/);
  const running = datasetSource({ ...view, status: "running", maxSeconds: 5 }, [], [run("r2", "running")]);
  assert.deepEqual(running.selection, { status: "running", ids: ["r2"], limit: 1 });
  // Nothing shown: still a request (the server answers 422 empty_selection, the form says so).
  assert.deepEqual(datasetSource({ ...view, minSeconds: 1 }, [], []).selection, { ids: [], limit: 1 });
});

test("the request body of Save as dataset, and of add as new version", () => {
  const src = datasetSource(view, ["r1"], []);
  assert.deepEqual(saveDatasetBody("  support ", "", src), { name: "support", selection: { ids: ["r1"], limit: 1 } });
  assert.deepEqual(saveDatasetBody("support", " nightly ", src, true), {
    name: "support",
    selection: { ids: ["r1"], limit: 1 },
    description: "nightly",
    if_exists: "new_version",
  });
});

test("API errors become the form's messages; a name clash offers a new version", async () => {
  const respond = (status: number, body: unknown) => responseError(new Response(JSON.stringify(body), { status }));
  const clash = await respond(409, { error: "dataset_exists", message: "dataset support exists" });
  assert.equal(clash.code, "dataset_exists");
  assert.equal(clash.detail, "dataset support exists");
  assert.deepEqual(saveFailure(clash, " support "), {
    message: 'a dataset named "support" already exists: pick another name, or add these runs to it as a new version',
    clash: true,
  });
  const empty = saveFailure(await respond(422, { error: "empty_selection", message: "no run matches the selection" }), "x");
  assert.deepEqual(empty, { message: "nothing to save: no run matches the selection", clash: false });
  const invalid = saveFailure(await respond(422, { error: "validation_error", message: "name: bad" }), "x");
  assert.deepEqual(invalid, { message: "cannot save: name: bad", clash: false });
  assert.equal(saveFailure(await respond(409, { error: "conflict", message: "taken" }), "x").clash, true);
  const other = saveFailure(await respond(500, { error: "internal", message: "busy" }), "x");
  assert.equal(other.clash, false);
  assert.match(other.message, /could not save the dataset: HTTP 500: busy/);
  assert.match(saveFailure(new HttpError(0, "cannot reach the DuraGraph server"), "x").message, /cannot reach/);
  assert.match(saveFailure(new Error("boom"), "x").message, /boom/);
  // A body that is not JSON still gives an error, without a code.
  const html = await responseError(new Response("<html>", { status: 502 }));
  assert.equal(html.code, null);
});

test("dataset names are checked before asking the server", () => {
  assert.equal(nameProblem("support v2_nightly.1-a"), null);
  assert.match(nameProblem("  ")!, /give the dataset a name/);
  assert.match(nameProblem("-x")!, /starts with a letter or digit/);
  assert.match(nameProblem("a/b")!, /only letters/);
  assert.match(nameProblem("a".repeat(201))!, /at most 200/);
});

test("scores and deltas read with their sign and at most 3 decimals", () => {
  assert.equal(formatScore(0.75), "0.75");
  assert.equal(formatScore(1 / 3), "0.333");
  assert.equal(formatScore(2), "2");
  assert.equal(formatScore(null), "–");
  assert.equal(formatScore(Number.NaN), "–");
  assert.equal(formatScore(141.19, 0), "141");
  assert.equal(formatDelta(-6.804, 0), "-7");
  assert.equal(formatDelta(0.4, 0), "0");
  assert.equal(formatDelta(0.25), "+0.25");
  assert.equal(formatDelta(-0.5), "-0.5");
  assert.equal(formatDelta(0), "0");
  assert.equal(formatDelta(0.0001), "0"); // below the precision shown: no change
  assert.equal(formatDelta(-1 / 3), "-0.333");
  assert.equal(formatDelta(undefined), "–");
});

test("deltas are coloured by whether they are good news", () => {
  assert.equal(trend(0.5), "better");
  assert.equal(trend(-0.5), "worse");
  assert.equal(trend(0.00001), "same");
  assert.equal(trend(null), "none");
  // Latency and steps: lower is better.
  assert.equal(trend(120, false), "worse");
  assert.equal(trend(-3, false), "better");
  assert.equal(deltaClass(0.25), "dg-delta dg-delta-better");
  assert.equal(deltaClass(-0.25), "dg-delta dg-delta-worse");
  assert.equal(deltaClass(40, false), "dg-delta dg-delta-worse");
  assert.equal(deltaClass(null), "dg-delta dg-delta-none");
  assert.equal(deltaClass(0.4, false, 0), "dg-delta dg-delta-same"); // under a millisecond
});

test("verdicts have their colour class; unknown ones read as unchanged", () => {
  assert.equal(verdictClass("regressed"), "dg-verdict dg-verdict-regressed");
  assert.equal(verdictClass("improved"), "dg-verdict dg-verdict-improved");
  assert.equal(verdictClass("unchanged"), "dg-verdict dg-verdict-unchanged");
  assert.equal(verdictClass("error"), "dg-verdict dg-verdict-error");
  assert.equal(verdictClass("<script>"), "dg-verdict dg-verdict-unchanged");
});

const experiment = (id: string, created: string, extra: Partial<Experiment> = {}): Experiment => ({
  experiment_id: id,
  name: id,
  dataset_id: "d",
  dataset_name: "ds",
  dataset_version: 1,
  assistant_id: "a",
  status: "completed",
  example_count: 4,
  result_count: 4,
  passed: 3,
  failed: 1,
  errors: 0,
  mean_scores: {},
  created_at: created,
  ...extra,
});

test("experiments' counts and mean scores in words", () => {
  assert.equal(passSummary(experiment("e", "")), "3/4 passed · 1 failed");
  assert.equal(passSummary(experiment("e", "", { passed: 1, failed: 0, errors: 1, result_count: 2 })), "1/4 passed · 1 error · 2/4 recorded");
  assert.equal(meanScores({ judge: 0.5, exact: 0.75, latency: null }), "exact 0.75 · judge 0.5 · latency –");
  assert.equal(meanScores(undefined), "");
});

test("two ticked experiments compare the older (base) with the newer (candidate)", () => {
  const older = experiment("e-old", "2026-11-21T10:00:00Z");
  const newer = experiment("e-new", "2026-11-21T11:00:00Z");
  assert.deepEqual(baseAndCandidate([newer, older]), { base: "e-old", candidate: "e-new" });
  assert.deepEqual(baseAndCandidate([older, newer]), { base: "e-old", candidate: "e-new" });
  assert.equal(baseAndCandidate([older]), null);
  assert.equal(baseAndCandidate([older, newer, experiment("x", "2026-11-21T12:00:00Z")]), null);
  // Same time: a stable order by id.
  const a = experiment("a", "2026-11-21T10:00:00Z");
  const b = experiment("b", "2026-11-21T10:00:00Z");
  assert.deepEqual(baseAndCandidate([b, a]), { base: "a", candidate: "b" });
});

test("small helpers: run ids, short JSON, download names, state changes", () => {
  assert.equal(runIdOf("r1"), "r1");
  assert.equal(runIdOf({ run_id: "r2", status: "success" }), "r2");
  assert.equal(runIdOf(null), null);
  assert.equal(runIdOf(""), null);
  assert.equal(jsonShort({ a: 1 }), '{"a":1}');
  assert.equal(jsonShort("text"), "text");
  assert.equal(jsonShort(undefined), "");
  assert.equal(jsonShort("x".repeat(100), 10), `${"x".repeat(9)}…`);
  assert.equal(downloadName('attachment; filename="eval-support.ipynb"', "f.ipynb"), "eval-support.ipynb");
  assert.equal(downloadName("attachment; filename*=UTF-8''%C3%A9val.ipynb", "f.ipynb"), "éval.ipynb");
  assert.equal(downloadName('attachment; filename="../../etc/passwd"', "f.ipynb"), "passwd");
  assert.equal(downloadName(null, "f.ipynb"), "f.ipynb");
  assert.equal(downloadName('attachment; filename=".."', "f.ipynb"), "f.ipynb");
  assert.equal(fileSafe("my exp: v2/base"), "my-exp-v2-base");
  assert.equal(fileSafe("///"), "experiment");
  assert.deepEqual(["added", "removed", "changed", "?"].map(stateChangeOp), ["add", "remove", "change", "change"]);
  assert.equal(diffPath(["messages", 1, "content"]), "messages[1].content");
  assert.equal(diffPath([]), "(root)");
  assert.equal(diffPath("answer"), "answer");
});

test("dataset routes: a dataset by name, its version, a comparison", () => {
  assert.deepEqual(parseHash("#/datasets"), { page: "datasets", params: {} });
  assert.deepEqual(parseHash("#/datasets/support%20v2?version=2"), { page: "datasets", params: { dataset: "support v2", version: "2" } });
  const hash = formatHash("datasets", { dataset: "support", base: "e1", candidate: "e2" });
  assert.equal(hash, "#/datasets/support?base=e1&candidate=e2");
  assert.deepEqual(parseHash(hash), { page: "datasets", params: { dataset: "support", base: "e1", candidate: "e2" } });
});

test("the API client deletes with DELETE and reports the API's error code", async () => {
  const calls: [string, string][] = [];
  const api = new Api({
    baseUrl: "/",
    request: async (path, init) => {
      calls.push([path, init?.method ?? "GET"]);
      if (path === "datasets/gone") return new Response(JSON.stringify({ error: "not_found", message: "dataset gone does not exist" }), { status: 404 });
      return new Response(null, { status: 204 });
    },
  });
  await api.del("datasets/abc");
  await assert.rejects(api.del("datasets/gone"), (err: unknown) => err instanceof HttpError && err.status === 404 && err.code === "not_found");
  assert.deepEqual(calls, [
    ["datasets/abc", "DELETE"],
    ["datasets/gone", "DELETE"],
  ]);
});

test("examples read as their last message, or as short JSON", () => {
  const chat = { messages: [{ type: "human", content: "hi" }, { type: "ai", content: [{ type: "text", text: "hello there" }] }] };
  assert.equal(valuePreview(chat), "hello there");
  assert.equal(valuePreview({ ...chat, approved: true, draft: "x" }), "hello there (+2 other keys)");
  assert.equal(valuePreview({ messages: [] }), '{"messages":[]}');
  assert.equal(valuePreview({ topic: "solar" }), '{"topic":"solar"}');
  assert.equal(valuePreview(null), "null");
  assert.equal(valuePreview({ messages: [{ content: "x".repeat(300) }] }, 20).length, 20);
});
