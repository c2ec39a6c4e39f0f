import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ANSWER_PATH,
  BUILTINS,
  builtinScoreName,
  compareCandidates,
  evaluatorSpec,
  experimentBody,
  formatG,
  pollInterval,
  progressOf,
  regexProblem,
  runFailure,
  type ExperimentForm,
} from "../src/dashboard/pages/experiment_form";
import { HttpError } from "../src/dashboard/sse";

const defaults = (builtin: string): Record<string, string> =>
  Object.fromEntries((BUILTINS.find((b) => b.builtin === builtin)?.params ?? []).map((p) => [p.key, p.initial]));

const form = (over: Partial<ExperimentForm> = {}): ExperimentForm => ({
  dataset: "ds-1",
  datasetVersion: "",
  assistantId: "a-1",
  assistantVersion: "",
  name: "",
  concurrency: "4",
  evaluators: [{ builtin: "step_budget", values: { max_steps: "10" } }],
  ...over,
});

test("the form offers the built-ins that need no code, each with the server's parameter names", () => {
  const names = BUILTINS.map((b) => b.builtin);
  for (const required of ["contains", "exact_match", "trajectory_match", "latency_budget", "step_budget"]) assert.ok(names.includes(required), required);
  assert.ok(!names.includes("llm_judge"));
  assert.deepEqual(BUILTINS.find((b) => b.builtin === "contains")?.params.map((p) => p.key), ["text", "path", "case"]);
});

test("contains: the text is required; path and case become the built-in's kwargs", () => {
  const empty = evaluatorSpec({ builtin: "contains", values: { ...defaults("contains"), text: "  " } });
  assert.equal(empty.ok, false);
  assert.ok(!empty.ok && empty.field === "text" && /type the text/.test(empty.problem));
  const spec = evaluatorSpec({ builtin: "contains", values: { ...defaults("contains"), text: "5", case: "true" } });
  assert.deepEqual(spec, { ok: true, value: { name: "contains(5)", builtin: "contains", kwargs: { text: "5", path: ANSWER_PATH, case: true } } });
  const whole = evaluatorSpec({ builtin: "contains", values: { text: "x", path: "", case: "false" } });
  assert.ok(whole.ok && whole.value.kwargs.path === null && whole.value.kwargs.case === false);
  const badPath = evaluatorSpec({ builtin: "contains", values: { text: "x", path: "messages..content" } });
  assert.ok(!badPath.ok && badPath.field === "path");
});

test("exact_match: path and expected path, empty ones as null", () => {
  const spec = evaluatorSpec({ builtin: "exact_match", values: { path: "answer", expected: "" } });
  assert.deepEqual(spec, { ok: true, value: { name: "exact_match(answer)", builtin: "exact_match", kwargs: { path: "answer", expected: null } } });
  const whole = evaluatorSpec({ builtin: "exact_match", values: { path: "", expected: "" } });
  assert.ok(whole.ok && whole.value.name === "exact_match()");
});

test("regex: a pattern that does not compile is refused before anything is sent", () => {
  const bad = evaluatorSpec({ builtin: "regex", values: { pattern: "([a-z", path: "" } });
  assert.ok(!bad.ok && bad.field === "pattern" && /not a valid regular expression/.test(bad.problem), JSON.stringify(bad));
  assert.ok(!evaluatorSpec({ builtin: "regex", values: { pattern: "", path: "" } }).ok);
  const ok = evaluatorSpec({ builtin: "regex", values: { pattern: "\\d+", path: "" } });
  assert.deepEqual(ok, { ok: true, value: { name: "regex(\\d+)", builtin: "regex", kwargs: { pattern: "\\d+", path: null } } });
  // Python's named groups pass.
  assert.equal(regexProblem("(?P<n>\\d+)-(?P=n)"), null);
  assert.notEqual(regexProblem("*"), null);
});

test("trajectory_match: expected names split on commas or arrows; empty means the source run's path", () => {
  const spec = evaluatorSpec({ builtin: "trajectory_match", values: { of: "nodes", mode: "subsequence", expected: "agent → tools, agent" } });
  assert.deepEqual(spec, {
    ok: true,
    value: { name: "trajectory_match(nodes, subsequence)", builtin: "trajectory_match", kwargs: { expected: ["agent", "tools", "agent"], of: "nodes", mode: "subsequence" } },
  });
  const reference = evaluatorSpec({ builtin: "trajectory_match", values: defaults("trajectory_match") });
  assert.ok(reference.ok && reference.value.kwargs.expected === null && reference.value.name === "trajectory_match(nodes, exact)");
  assert.ok(!evaluatorSpec({ builtin: "trajectory_match", values: { of: "nodes", mode: "exact", expected: "a,,b" } }).ok);
  assert.ok(!evaluatorSpec({ builtin: "trajectory_match", values: { of: "edges", mode: "exact", expected: "" } }).ok);
});

test("budgets: positive numbers; steps whole", () => {
  assert.deepEqual(evaluatorSpec({ builtin: "latency_budget", values: { max_ms: "2500" } }), {
    ok: true,
    value: { name: "latency_budget(2500 ms)", builtin: "latency_budget", kwargs: { max_ms: 2500 } },
  });
  for (const v of ["", "0", "-1", "abc"]) assert.ok(!evaluatorSpec({ builtin: "latency_budget", values: { max_ms: v } }).ok, v);
  assert.deepEqual(evaluatorSpec({ builtin: "step_budget", values: { max_steps: "10" } }), {
    ok: true,
    value: { name: "step_budget(10)", builtin: "step_budget", kwargs: { max_steps: 10 } },
  });
  for (const v of ["", "0", "2.5", "-3", "x"]) assert.ok(!evaluatorSpec({ builtin: "step_budget", values: { max_steps: v } }).ok, v);
  assert.ok(!evaluatorSpec({ builtin: "numeric_tolerance", values: { path: "", abs_tol: "-1" } }).ok);
  assert.ok(!evaluatorSpec({ builtin: "llm_judge", values: {} }).ok);
});

test("score names are the server's (Python's format 'g' for a latency budget)", () => {
  assert.equal(formatG(5000), "5000");
  assert.equal(formatG(1500.5), "1500.5");
  assert.equal(formatG(1e6), "1e+06");
  assert.equal(formatG(0.25), "0.25");
  assert.equal(formatG(123456789), "1.23457e+08");
  assert.equal(builtinScoreName("contains", { text: null, path: "answer" }), "contains(answer)");
  assert.equal(builtinScoreName("latency_budget", { max_ms: 1e6 }), "latency_budget(1e+06 ms)");
});

test("the body of POST /experiments, or the first problem with its field", () => {
  assert.deepEqual(experimentBody(form()), {
    ok: true,
    value: { dataset: "ds-1", assistant_id: "a-1", evaluators: [{ name: "step_budget(10)", builtin: "step_budget", kwargs: { max_steps: 10 } }], concurrency: 4 },
  });
  const full = experimentBody(form({ datasetVersion: "2", assistantVersion: "3", name: "  mine  ", concurrency: "16" }));
  assert.ok(full.ok);
  assert.equal(full.ok && full.value.dataset_version, 2);
  assert.equal(full.ok && full.value.assistant_version, 3);
  assert.equal(full.ok && full.value.name, "mine");
  assert.equal(full.ok && full.value.concurrency, 16);
  for (const c of ["0", "17", "2.5", "", "four"]) {
    const r = experimentBody(form({ concurrency: c }));
    assert.ok(!r.ok && r.field === "concurrency", c);
  }
  const noAssistant = experimentBody(form({ assistantId: "" }));
  assert.ok(!noAssistant.ok && noAssistant.field === "assistant");
  const none = experimentBody(form({ evaluators: [] }));
  assert.ok(!none.ok && none.field === "evaluators");
  const badContains = experimentBody(form({ evaluators: [{ builtin: "step_budget", values: { max_steps: "3" } }, { builtin: "contains", values: { text: "" } }] }));
  assert.ok(!badContains.ok && badContains.field === "contains.text" && badContains.problem.startsWith("contains:"));
  const long = experimentBody(form({ name: "x".repeat(201) }));
  assert.ok(!long.ok && long.field === "name");
});

test("a refusal reads as the server's own message", () => {
  const e = new HttpError(422, "HTTP 422: evaluator 'x' is a Python function", "invalid_request", "evaluator 'x' is a Python function");
  assert.equal(runFailure(e, "run"), "the server would not run the experiment: evaluator 'x' is a Python function");
  assert.equal(runFailure(new HttpError(0, "network down"), "create"), "could not create the experiment: network down");
  assert.equal(runFailure(new Error("boom"), "create"), "could not create the experiment: boom");
});

test("progress: results of examples, with the counts", () => {
  const running = progressOf({ result_count: 1, example_count: 2, passed: 1, failed: 0, errors: 0, status: "running" });
  assert.deepEqual(running, { done: 1, total: 2, fraction: 0.5, label: "1/2", counts: "1 passed · 0 failed · 0 errors" });
  assert.equal(progressOf({ result_count: 0, example_count: 0, passed: 0, failed: 0, errors: 0, status: "completed" }).fraction, 1);
  assert.equal(progressOf({ result_count: 3, example_count: 2, passed: 1, failed: 0, errors: 1, status: "completed" }).counts, "1 passed · 0 failed · 1 error");
});

test("polling is fast only while a server runs an experiment", () => {
  assert.equal(pollInterval([]), 3000);
  assert.equal(pollInterval([{ status: "running", runner: "client", running: false }]), 3000);
  assert.equal(pollInterval([{ status: "running", runner: "server", running: false }]), 1000);
  assert.equal(pollInterval([{ status: "completed", runner: "server", running: false }]), 3000);
  assert.equal(pollInterval([{ status: "running", running: true }]), 1000);
});

test("compare with: the dataset's other experiments, newest first", () => {
  const e = (id: string, at: string) => ({ experiment_id: id, created_at: at });
  const all = [e("a", "2026-11-21T10:00:00Z"), e("b", "2026-11-21T12:00:00Z"), e("c", "2026-11-21T11:00:00Z")];
  assert.deepEqual(compareCandidates(all[0], all).map((x) => x.experiment_id), ["b", "c"]);
  assert.deepEqual(compareCandidates(e("z", "2026-11-21T10:00:00Z"), []), []);
});
