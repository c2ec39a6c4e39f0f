// The Datasets page's "Run experiment" form without the DOM (unit-tested on its own): the built-in
// evaluators a user can pick without code, their few parameters, the checks made before anything
// is sent, the body of POST /experiments, and an experiment's progress.
import type { Experiment } from "../api";
import { HttpError } from "../sse";

/** One parameter of a built-in, as the form shows it. */
export interface ParamDef {
  key: string;
  label: string;
  kind: "text" | "number" | "integer" | "bool" | "choice";
  /** The value the field starts with. */
  initial: string;
  placeholder?: string;
  choices?: readonly string[];
  title?: string;
}

/** A built-in of duragraph_lab/evals/evaluators.py that needs no code. */
export interface BuiltinDef {
  builtin: string;
  label: string;
  help: string;
  params: readonly ParamDef[];
}

/** Where the demo chat agents (and most LangGraph chat states) keep the answer. */
export const ANSWER_PATH = "messages.-1.content";

export const BUILTINS: readonly BuiltinDef[] = [
  {
    builtin: "contains",
    label: "contains",
    help: "the output at the path (as text) contains the text (case-insensitive unless ticked)",
    params: [
      { key: "text", label: "text", kind: "text", initial: "", placeholder: "text the answer contains" },
      { key: "path", label: "path", kind: "text", initial: ANSWER_PATH, placeholder: "(whole output)", title: "a dotted path in the run's output; empty: the whole output" },
      { key: "case", label: "case-sensitive", kind: "bool", initial: "" },
    ],
  },
  {
    builtin: "exact_match",
    label: "exact match",
    help: "the output at the path equals the example's reference output (at the same path, or at 'expected')",
    params: [
      { key: "path", label: "path", kind: "text", initial: ANSWER_PATH, placeholder: "(whole output)" },
      { key: "expected", label: "expected at", kind: "text", initial: "", placeholder: "(same path)", title: "the path in the example's reference output; empty: the same path" },
    ],
  },
  {
    builtin: "regex",
    label: "regex",
    help: "the output at the path (as text) matches the pattern (Python re.search)",
    params: [
      { key: "pattern", label: "pattern", kind: "text", initial: "", placeholder: "regular expression" },
      { key: "path", label: "path", kind: "text", initial: ANSWER_PATH, placeholder: "(whole output)" },
    ],
  },
  {
    builtin: "numeric_tolerance",
    label: "numeric tolerance",
    help: "the number at the path (or the first number in its text) is within the tolerance of the reference's",
    params: [
      { key: "path", label: "path", kind: "text", initial: ANSWER_PATH, placeholder: "(whole output)" },
      { key: "abs_tol", label: "± absolute", kind: "number", initial: "0" },
    ],
  },
  {
    builtin: "trajectory_match",
    label: "trajectory match",
    help: "the nodes (or tool calls) executed against the expected ones (empty: the source run's own path)",
    params: [
      { key: "of", label: "of", kind: "choice", initial: "nodes", choices: ["nodes", "tools"] },
      { key: "mode", label: "mode", kind: "choice", initial: "exact", choices: ["exact", "subsequence", "superset", "prefix"] },
      { key: "expected", label: "expected", kind: "text", initial: "", placeholder: "(the source run's path)", title: "names separated by commas or →; empty: what the example's source run did" },
    ],
  },
  {
    builtin: "latency_budget",
    label: "latency budget",
    help: "the run took at most this many milliseconds",
    params: [{ key: "max_ms", label: "max ms", kind: "number", initial: "10000" }],
  },
  {
    builtin: "step_budget",
    label: "step budget",
    help: "the run took at most this many supersteps",
    params: [{ key: "max_steps", label: "max steps", kind: "integer", initial: "10" }],
  },
];

export function builtinDef(builtin: string): BuiltinDef | undefined {
  return BUILTINS.find((b) => b.builtin === builtin);
}

/** An evaluator spec of POST /experiments. */
export interface EvaluatorSpec {
  name: string;
  builtin: string;
  kwargs: Record<string, unknown>;
}

/** What the user picked for one built-in: its parameters as typed. */
export interface EvaluatorChoice {
  builtin: string;
  values: Record<string, string>;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string; field?: string };

/** Python's `format(x, "g")` for the numbers a form takes (the server names a latency budget so). */
export function formatG(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= 6) {
    const [mantissa, e] = x.toExponential(5).split("e");
    const m = mantissa.includes(".") ? mantissa.replace(/0+$/, "").replace(/\.$/, "") : mantissa;
    const n = Number(e);
    return `${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  const fixed = x.toFixed(Math.max(0, 5 - exp));
  return fixed.includes(".") ? fixed.replace(/0+$/, "").replace(/\.$/, "") : fixed;
}

/** The name the server's built-in gives its scores (evaluators.py), so that the recorded spec and
 * the scores it produces carry the same name. */
export function builtinScoreName(builtin: string, kwargs: Record<string, unknown>): string {
  const s = (v: unknown) => (v === null || v === undefined ? "" : String(v));
  switch (builtin) {
    case "contains":
      return `contains(${kwargs.text !== null && kwargs.text !== undefined ? s(kwargs.text) : s(kwargs.path)})`;
    case "exact_match":
      return `exact_match(${s(kwargs.path)})`;
    case "regex":
      return `regex(${s(kwargs.pattern)})`;
    case "numeric_tolerance":
      return `numeric_tolerance(${s(kwargs.path)})`;
    case "trajectory_match":
      return `trajectory_match(${s(kwargs.of ?? "nodes")}, ${s(kwargs.mode ?? "exact")})`;
    case "latency_budget":
      return `latency_budget(${formatG(Number(kwargs.max_ms))} ms)`;
    case "step_budget":
      return `step_budget(${s(kwargs.max_steps)})`;
    default:
      return builtin;
  }
}

/** Why a pattern would not compile, or null. JavaScript checks it; Python's own spellings of named
 * groups (`(?P<n>…)`, `(?P=n)`) are translated first. The server has the last word (a 422). */
export function regexProblem(pattern: string): string | null {
  const js = pattern.replace(/\(\?P</g, "(?<").replace(/\(\?P=(\w+)\)/g, "\\k<$1>");
  try {
    new RegExp(js);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message.replace(/^Invalid regular expression: /, "") : String(err);
  }
}

const PATH = /^[^.\s]+(\.[^.\s]+)*$/;

function pathValue(raw: string | undefined, what: string): Checked<string | null> {
  const v = (raw ?? "").trim();
  if (!v) return { ok: true, value: null };
  if (!PATH.test(v)) return { ok: false, problem: `${what}: a dotted path such as ${ANSWER_PATH}, without spaces or empty parts` };
  return { ok: true, value: v };
}

/** One picked built-in → its spec, or what is wrong with what the user typed. */
export function evaluatorSpec(choice: EvaluatorChoice): Checked<EvaluatorSpec> {
  const def = builtinDef(choice.builtin);
  if (!def) return { ok: false, problem: `unknown evaluator ${choice.builtin}` };
  const v = choice.values;
  const label = def.label;
  const kwargs: Record<string, unknown> = {};
  const bad = (field: string, problem: string): Checked<EvaluatorSpec> => ({ ok: false, problem: `${label}: ${problem}`, field });
  const paths = (...keys: string[]): Checked<EvaluatorSpec> | null => {
    for (const key of keys) {
      const p = pathValue(v[key], key === "expected" ? "expected at" : key);
      if (!p.ok) return bad(key, p.problem);
      kwargs[key] = p.value;
    }
    return null;
  };
  switch (choice.builtin) {
    case "contains": {
      const text = v.text ?? "";
      if (!text.trim()) return bad("text", "type the text the answer should contain");
      kwargs.text = text;
      const wrong = paths("path");
      if (wrong) return wrong;
      kwargs.case = v.case === "true";
      break;
    }
    case "exact_match": {
      const wrong = paths("path", "expected");
      if (wrong) return wrong;
      break;
    }
    case "regex": {
      const pattern = v.pattern ?? "";
      if (!pattern) return bad("pattern", "type a pattern");
      const problem = regexProblem(pattern);
      if (problem) return bad("pattern", `not a valid regular expression: ${problem}`);
      kwargs.pattern = pattern;
      const wrong = paths("path");
      if (wrong) return wrong;
      break;
    }
    case "numeric_tolerance": {
      const wrong = paths("path");
      if (wrong) return wrong;
      const tol = Number((v.abs_tol ?? "").trim() || "0");
      if (!Number.isFinite(tol) || tol < 0) return bad("abs_tol", "the tolerance is a number ≥ 0");
      kwargs.abs_tol = tol;
      break;
    }
    case "trajectory_match": {
      const of = v.of || "nodes";
      const mode = v.mode || "exact";
      if (!["nodes", "tools"].includes(of)) return bad("of", "of is nodes or tools");
      if (!["exact", "subsequence", "superset", "prefix"].includes(mode)) return bad("mode", `unknown mode ${mode}`);
      const raw = (v.expected ?? "").trim();
      const names = raw ? raw.split(/\s*(?:,|→|->)\s*/) : null;
      if (names && names.some((n) => !n)) return bad("expected", "expected: names separated by commas, none empty");
      kwargs.expected = names;
      kwargs.of = of;
      kwargs.mode = mode;
      break;
    }
    case "latency_budget": {
      const raw = (v.max_ms ?? "").trim();
      const ms = Number(raw);
      if (!raw || !Number.isFinite(ms) || ms <= 0) return bad("max_ms", "the budget is a number of milliseconds > 0");
      kwargs.max_ms = ms;
      break;
    }
    case "step_budget": {
      const raw = (v.max_steps ?? "").trim();
      if (!/^\d+$/.test(raw) || Number(raw) < 1) return bad("max_steps", "the budget is a whole number of steps ≥ 1");
      kwargs.max_steps = Number(raw);
      break;
    }
    default:
      return { ok: false, problem: `unknown evaluator ${choice.builtin}` };
  }
  return { ok: true, value: { name: builtinScoreName(choice.builtin, kwargs), builtin: choice.builtin, kwargs } };
}

export const MIN_CONCURRENCY = 1;
export const MAX_CONCURRENCY = 16;
export const DEFAULT_CONCURRENCY = 4;

/** What the form holds. */
export interface ExperimentForm {
  dataset: string;
  /** "" = the latest */
  datasetVersion: string;
  assistantId: string;
  /** "" = the latest */
  assistantVersion: string;
  name: string;
  concurrency: string;
  evaluators: readonly EvaluatorChoice[];
}

/** The body of POST /experiments, or the first thing wrong with the form (`field`: which one). */
export function experimentBody(form: ExperimentForm): Checked<Record<string, unknown>> {
  if (!form.assistantId) return { ok: false, problem: "pick an assistant", field: "assistant" };
  const conc = form.concurrency.trim();
  if (!/^\d+$/.test(conc) || Number(conc) < MIN_CONCURRENCY || Number(conc) > MAX_CONCURRENCY)
    return { ok: false, problem: `concurrency is a whole number from ${MIN_CONCURRENCY} to ${MAX_CONCURRENCY}`, field: "concurrency" };
  const name = form.name.trim();
  if (name.length > 200) return { ok: false, problem: "a name has at most 200 characters", field: "name" };
  if (!form.evaluators.length) return { ok: false, problem: "tick at least one evaluator", field: "evaluators" };
  const specs: EvaluatorSpec[] = [];
  for (const choice of form.evaluators) {
    const spec = evaluatorSpec(choice);
    if (!spec.ok) return { ok: false, problem: spec.problem, field: `${choice.builtin}.${spec.field ?? ""}` };
    specs.push(spec.value);
  }
  const body: Record<string, unknown> = { dataset: form.dataset, assistant_id: form.assistantId, evaluators: specs, concurrency: Number(conc) };
  if (form.datasetVersion) body.dataset_version = Number(form.datasetVersion);
  if (form.assistantVersion) body.assistant_version = Number(form.assistantVersion);
  if (name) body.name = name;
  return { ok: true, value: body };
}

/** Why the server refused, in the form's words: its own message for a 4xx. */
export function runFailure(err: unknown, step: "create" | "run"): string {
  const what = step === "create" ? "could not create the experiment" : "the server would not run the experiment";
  if (err instanceof HttpError) {
    if (err.status >= 400 && err.status < 500 && err.detail) return `${what}: ${err.detail}`;
    return `${what}: ${err.message}`;
  }
  return `${what}: ${err instanceof Error ? err.message : String(err)}`;
}

/** An experiment's progress for its bar: results recorded of examples, as a fraction (0..1). */
export interface Progress {
  done: number;
  total: number;
  fraction: number;
  /** "1/2": results recorded of examples */
  label: string;
  /** "1 passed · 0 failed · 0 errors" */
  counts: string;
}

export function progressOf(e: Pick<Experiment, "result_count" | "example_count" | "passed" | "failed" | "errors" | "status">): Progress {
  const total = Math.max(0, e.example_count);
  const done = Math.min(Math.max(0, e.result_count), total);
  const fraction = total ? done / total : e.status === "completed" ? 1 : 0;
  const counts = [`${e.passed} passed`, `${e.failed} failed`, `${e.errors} ${e.errors === 1 ? "error" : "errors"}`].join(" · ");
  return { done, total, fraction, label: `${done}/${total}`, counts };
}

/** Poll every second while a server runs one of the experiments (or is about to), every 3 s
 * otherwise: one a notebook left running may stay so for good. */
export function pollInterval(experiments: readonly Pick<Experiment, "status" | "runner" | "running">[]): number {
  return experiments.some((e) => e.status === "running" && (e.running === true || e.runner === "server")) ? 1000 : 3000;
}

/** The experiments a completed one can be compared with: the dataset's others, newest first. */
export function compareCandidates<E extends Pick<Experiment, "experiment_id" | "created_at">>(self: E, all: readonly E[]): E[] {
  return all
    .filter((e) => e.experiment_id !== self.experiment_id)
    .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
}
