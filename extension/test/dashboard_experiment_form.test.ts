import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ANSWER_PATH,
  compareCandidates,
  evaluatorSpec,
  experimentBody,
  formatG,
  formEvaluators,
  initialValue,
  placeholder,
  pollInterval,
  progressOf,
  regexProblem,
  runFailure,
  scoreName,
  type EvaluatorChoice,
  type EvaluatorDef,
  type ExperimentForm,
} from "../src/dashboard/pages/experiment_form";
import { HttpError } from "../src/dashboard/sse";
// What GET /evaluators answers (tests/unit/test_evaluator_catalogue.py keeps it so).
import served from "./fixtures/evaluators.json";

const CATALOGUE = served as EvaluatorDef[];
const def = (name: string) => CATALOGUE.find((e) => e.name === name)!;
const defaults = (builtin: string): Record<string, string> => Object.fromEntries(def(builtin).parameters.map((p) => [p.name, initialValue(p)]));
const spec = (builtin: string, values: Record<string, string>) => evaluatorSpec({ builtin, values } as EvaluatorChoice, CATALOGUE);

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

test("the form offers the served built-ins that need no model, each with the server's parameter names", () => {
  const names = formEvaluators(CATALOGUE).map((b) => b.name);
  for (const required of ["contains", "exact_match", "trajectory_match", "latency_budget", "step_budget", "json_field_match"]) assert.ok(names.includes(required), required);
  assert.ok(!names.includes("llm_judge"));
  assert.deepEqual(def("contains").parameters.map((p) => p.name), ["text", "path", "case"]);
  // Fields start at the example (where chat agents keep the answer), else the default.
  assert.deepEqual(defaults("contains"), { text: "", path: ANSWER_PATH, case: "false" });
  assert.deepEqual(defaults("trajectory_match"), { expected: "", of: "nodes", mode: "exact" });
  assert.deepEqual(defaults("latency_budget"), { max_ms: "10000" });
  assert.equal(defaults("numeric_tolerance").abs_tol, "0");
  // An empty field says what it stands for.
  const path = def("exact_match").parameters[0];
  assert.equal(placeholder(path), "(the whole output)");
  assert.equal(placeholder(def("regex").parameters[0]), "a Python regular expression");
});

test("contains: an empty text means the example's reference output; path and case become the built-in's kwargs", () => {
  const reference = spec("contains", { ...defaults("contains"), text: "  " });
  assert.deepEqual(reference, { ok: true, value: { name: `contains(${ANSWER_PATH})`, builtin: "contains", kwargs: { text: null, path: ANSWER_PATH, case: false } } });
  const given = spec("contains", { ...defaults("contains"), text: "5", case: "true" });
  assert.deepEqual(given, { ok: true, value: { name: "contains(5)", builtin: "contains", kwargs: { text: "5", path: ANSWER_PATH, case: true } } });
  const whole = spec("contains", { text: "x", path: "", case: "false" });
  assert.ok(whole.ok && whole.value.kwargs.path === null && whole.value.kwargs.case === false);
  const badPath = spec("contains", { text: "x", path: "messages..content" });
  assert.ok(!badPath.ok && badPath.field === "path" && badPath.problem.startsWith("contains: path: a dotted path"), JSON.stringify(badPath));
});

test("exact_match: path and expected path, empty ones as null", () => {
  assert.deepEqual(spec("exact_match", { path: "answer", expected: "" }), { ok: true, value: { name: "exact_match(answer)", builtin: "exact_match", kwargs: { path: "answer", expected: null } } });
  const whole = spec("exact_match", { path: "", expected: "" });
  assert.ok(whole.ok && whole.value.name === "exact_match()");
});

test("regex: a pattern is required, and one that does not compile is refused before anything is sent", () => {
  const bad = spec("regex", { pattern: "([a-z", path: "" });
  assert.ok(!bad.ok && bad.field === "pattern" && /not a valid regular expression/.test(bad.problem), JSON.stringify(bad));
  const missing = spec("regex", { pattern: "", path: "" });
  assert.ok(!missing.ok && missing.field === "pattern" && missing.problem === "regex: type a Python regular expression", JSON.stringify(missing));
  assert.deepEqual(spec("regex", { pattern: "\\d+", path: "" }), { ok: true, value: { name: "regex(\\d+)", builtin: "regex", kwargs: { pattern: "\\d+", path: null } } });
  // Python's named groups pass.
  assert.equal(regexProblem("(?P<n>\\d+)-(?P=n)"), null);
  assert.notEqual(regexProblem("*"), null);
});

test("trajectory_match: expected names split on commas or arrows; empty means the source run's path", () => {
  assert.deepEqual(spec("trajectory_match", { of: "nodes", mode: "subsequence", expected: "agent → tools, agent" }), {
    ok: true,
    value: { name: "trajectory_match(nodes, subsequence)", builtin: "trajectory_match", kwargs: { expected: ["agent", "tools", "agent"], of: "nodes", mode: "subsequence" } },
  });
  const reference = spec("trajectory_match", defaults("trajectory_match"));
  assert.ok(reference.ok && reference.value.kwargs.expected === null && reference.value.name === "trajectory_match(nodes, exact)");
  assert.ok(!spec("trajectory_match", { of: "nodes", mode: "exact", expected: "a,,b" }).ok);
  const edges = spec("trajectory_match", { of: "edges", mode: "exact", expected: "" });
  assert.ok(!edges.ok && edges.field === "of" && /one of nodes, tools/.test(edges.problem), JSON.stringify(edges));
});

test("json_field_match: the fields are dotted paths, at least one", () => {
  assert.deepEqual(spec("json_field_match", { fields: "answer, meta.score" }), {
    ok: true,
    value: { name: "json_field_match(answer, meta.score)", builtin: "json_field_match", kwargs: { fields: ["answer", "meta.score"] } },
  });
  assert.ok(!spec("json_field_match", { fields: "" }).ok);
  const spaced = spec("json_field_match", { fields: "an swer" });
  assert.ok(!spaced.ok && spaced.field === "fields", JSON.stringify(spaced));
});

test("budgets and tolerances: numbers within the served bounds; steps whole", () => {
  assert.deepEqual(spec("latency_budget", { max_ms: "2500" }), { ok: true, value: { name: "latency_budget(2500 ms)", builtin: "latency_budget", kwargs: { max_ms: 2500 } } });
  for (const v of ["", "0", "-1", "abc"]) assert.ok(!spec("latency_budget", { max_ms: v }).ok, v);
  assert.deepEqual(spec("step_budget", { max_steps: "10" }), { ok: true, value: { name: "step_budget(10)", builtin: "step_budget", kwargs: { max_steps: 10 } } });
  for (const v of ["", "0", "2.5", "-3", "x"]) assert.ok(!spec("step_budget", { max_steps: v }).ok, v);
  const zero = spec("step_budget", { max_steps: "0" });
  assert.ok(!zero.ok && zero.problem === "step budget: max steps is a whole number ≥ 1", JSON.stringify(zero));
  const negative = spec("numeric_tolerance", { path: "", abs_tol: "-1" });
  assert.ok(!negative.ok && negative.field === "abs_tol");
  // An empty tolerance is its default.
  const tolerance = spec("numeric_tolerance", { path: "answer", abs_tol: "", rel_tol: "" });
  assert.ok(tolerance.ok && tolerance.value.kwargs.abs_tol === 0 && tolerance.value.kwargs.rel_tol === 1e-9, JSON.stringify(tolerance));
  assert.ok(!spec("llm_judge", {}).ok);
});

test("score names are the server's (the served templates; Python's format 'g' for a latency budget)", () => {
  assert.equal(formatG(5000), "5000");
  assert.equal(formatG(1500.5), "1500.5");
  assert.equal(formatG(1e6), "1e+06");
  assert.equal(formatG(0.25), "0.25");
  assert.equal(formatG(123456789), "1.23457e+08");
  assert.equal(scoreName(def("contains").score_name, { text: null, path: "answer" }), "contains(answer)");
  assert.equal(scoreName(def("latency_budget").score_name, { max_ms: 1e6 }), "latency_budget(1e+06 ms)");
  assert.equal(scoreName("{a|b} {c}", { a: null, b: ["x", "y"] }), "x, y ");
});

test("the body of POST /experiments, or the first problem with its field", () => {
  assert.deepEqual(experimentBody(form(), CATALOGUE), {
    ok: true,
    value: { dataset: "ds-1", assistant_id: "a-1", evaluators: [{ name: "step_budget(10)", builtin: "step_budget", kwargs: { max_steps: 10 } }], concurrency: 4 },
  });
  const full = experimentBody(form({ datasetVersion: "2", assistantVersion: "3", name: "  mine  ", concurrency: "16" }), CATALOGUE);
  assert.ok(full.ok);
  assert.equal(full.ok && full.value.dataset_version, 2);
  assert.equal(full.ok && full.value.assistant_version, 3);
  assert.equal(full.ok && full.value.name, "mine");
  assert.equal(full.ok && full.value.concurrency, 16);
  for (const c of ["0", "17", "2.5", "", "four"]) {
    const r = experimentBody(form({ concurrency: c }), CATALOGUE);
    assert.ok(!r.ok && r.field === "concurrency", c);
  }
  const noAssistant = experimentBody(form({ assistantId: "" }), CATALOGUE);
  assert.ok(!noAssistant.ok && noAssistant.field === "assistant");
  const none = experimentBody(form({ evaluators: [] }), CATALOGUE);
  assert.ok(!none.ok && none.field === "evaluators");
  const badRegex = experimentBody(form({ evaluators: [{ builtin: "step_budget", values: { max_steps: "3" } }, { builtin: "regex", values: { pattern: "" } }] }), CATALOGUE);
  assert.ok(!badRegex.ok && badRegex.field === "regex.pattern" && badRegex.problem.startsWith("regex:"), JSON.stringify(badRegex));
  const long = experimentBody(form({ name: "x".repeat(201) }), CATALOGUE);
  assert.ok(!long.ok && long.field === "name");
  // Without the catalogue (not read yet), no evaluator is known.
  assert.ok(!experimentBody(form(), []).ok);
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
