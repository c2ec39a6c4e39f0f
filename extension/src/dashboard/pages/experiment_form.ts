// The Datasets page's "Run experiment" form without the DOM (unit-tested on its own): the built-in
// evaluators a user can pick without code and their parameters, both as the server describes them
// (GET /evaluators, from duragraph_lab/evals/catalogue.py: nothing about them is written here),
// the checks made before anything is sent (the catalogue's types and constraints), the body of
// POST /experiments, and an experiment's progress.
import type { Experiment } from "../api";
import { HttpError } from "../sse";

/** One parameter of a built-in, as GET /evaluators describes it. */
export interface ParameterDef {
  name: string;
  label: string;
  description: string;
  type: "string" | "number" | "integer" | "boolean" | "array";
  /** an array's items */
  items?: { type: "string"; format?: "path" | "regex"; min_length?: number };
  nullable: boolean;
  required: boolean;
  default?: unknown;
  enum?: readonly string[];
  /** what a null (an empty field) stands for */
  null_means?: string;
  example?: unknown;
  format?: "path" | "regex";
  minimum?: number;
  exclusive_minimum?: number;
  maximum?: number;
  min_length?: number;
  min_items?: number;
}

/** A built-in evaluator of duragraph_lab/evals/evaluators.py, as GET /evaluators describes it. */
export interface EvaluatorDef {
  name: string;
  label: string;
  description: string;
  /** the name of its scores: `{p}`, `{p:g}` and `{a|b}` stand for parameter values */
  score_name: string;
  /** graded by a language model (a model call per example, the server's model) */
  model_graded: boolean;
  parameters: readonly ParameterDef[];
}

/** Where the demo chat agents (and most LangGraph chat states) keep the answer. */
export const ANSWER_PATH = "messages.-1.content";

/** The built-ins the form offers: every one the catalogue has but those graded by a language
 * model, which cost a model call per example and are set up from a notebook. */
export function formEvaluators(catalogue: readonly EvaluatorDef[]): EvaluatorDef[] {
  return catalogue.filter((e) => !e.model_graded);
}

/** How a parameter is edited: a checkbox, a choice or a line of text. */
export function controlKind(p: ParameterDef): "bool" | "choice" | "text" {
  if (p.type === "boolean") return "bool";
  return p.enum ? "choice" : "text";
}

/** What a field starts with: the parameter's example, else its default ("" for none or null). */
export function initialValue(p: ParameterDef): string {
  const v = p.example !== undefined ? p.example : p.default;
  if (v === null || v === undefined) return p.enum?.[0] ?? "";
  return Array.isArray(v) ? v.join(", ") : String(v);
}

/** What an empty field shows: what a null means, else what the parameter is. */
export function placeholder(p: ParameterDef): string {
  return p.null_means ? `(${p.null_means})` : p.description;
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

/** A score-name template filled with the spec's kwargs (the catalogue's `score_name`): the
 * recorded spec and the scores it produces carry the same name. */
export function scoreName(template: string, kwargs: Record<string, unknown>): string {
  return template.replace(/\{([a-z_|]+)(?::(g))?\}/g, (_, names: string, fmt: string | undefined) => {
    const value = names
      .split("|")
      .map((n) => kwargs[n])
      .find((v) => v !== null && v !== undefined);
    if (value === undefined) return "";
    if (fmt === "g") return formatG(Number(value));
    return Array.isArray(value) ? value.join(", ") : String(value);
  });
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

/** A text that meets a format (a dotted path, a pattern), or what is wrong with it. */
function formatProblem(format: string | undefined, value: string, label: string): string | null {
  if (format === "path" && !PATH.test(value)) return `${label}: a dotted path such as ${ANSWER_PATH}, without spaces or empty parts`;
  if (format === "regex") {
    const problem = regexProblem(value);
    if (problem) return `not a valid regular expression: ${problem}`;
  }
  return null;
}

/** The bounds a number breaks, in words, or null. */
function boundsProblem(p: ParameterDef, n: number): string | null {
  const what = p.type === "integer" ? "a whole number" : "a number";
  if (p.minimum !== undefined && n < p.minimum) return `${p.label} is ${what} ≥ ${p.minimum}`;
  if (p.exclusive_minimum !== undefined && n <= p.exclusive_minimum) return `${p.label} is ${what} > ${p.exclusive_minimum}`;
  if (p.maximum !== undefined && n > p.maximum) return `${p.label} is ${what} ≤ ${p.maximum}`;
  return null;
}

/** A field's text as the parameter's value (the kwarg sent), or what is wrong with it. An empty
 * field is null where null means something, the default where there is one, else missing. */
export function parameterValue(p: ParameterDef, raw: string): Checked<unknown> {
  const bad = (problem: string): Checked<unknown> => ({ ok: false, problem, field: p.name });
  if (p.type === "boolean") return { ok: true, value: raw === "true" };
  if (!raw.trim()) {
    if (p.nullable) return { ok: true, value: null };
    if (!p.required) return { ok: true, value: p.default };
    return bad(`type ${p.description}`);
  }
  switch (p.type) {
    case "integer":
    case "number": {
      const text = raw.trim();
      const n = Number(text);
      if (p.type === "integer" ? !/^-?\d+$/.test(text) : !Number.isFinite(n)) return bad(`${p.label} is ${p.type === "integer" ? "a whole number" : "a number"}`);
      const problem = boundsProblem(p, n);
      return problem ? bad(problem) : { ok: true, value: n };
    }
    case "array": {
      const names = raw.trim().split(/\s*(?:,|→|->)\s*/);
      if (names.some((n) => n.length < (p.items?.min_length ?? 1))) return bad(`${p.label}: names separated by commas, none empty`);
      if (names.length < (p.min_items ?? 0)) return bad(`${p.label}: at least ${p.min_items}`);
      for (const n of names) {
        const problem = formatProblem(p.items?.format, n, p.label);
        if (problem) return bad(problem);
      }
      return { ok: true, value: names };
    }
    default: {
      // A path is read without the spaces around it; free text and patterns as typed.
      const text = p.format === "path" ? raw.trim() : raw;
      if (p.enum && !p.enum.includes(text)) return bad(`${p.label} is one of ${p.enum.join(", ")}`);
      if (text.length < (p.min_length ?? 0)) return bad(`type ${p.description}`);
      const problem = formatProblem(p.format, text, p.label);
      return problem ? bad(problem) : { ok: true, value: text };
    }
  }
}

/** An evaluator spec of POST /experiments. */
export interface EvaluatorSpec {
  name: string;
  builtin: string;
  kwargs: Record<string, unknown>;
}

/** What the user picked for one built-in: its parameters as typed (by parameter name). */
export interface EvaluatorChoice {
  builtin: string;
  values: Record<string, string>;
}

/** One picked built-in → its spec, or what is wrong with what the user typed. */
export function evaluatorSpec(choice: EvaluatorChoice, catalogue: readonly EvaluatorDef[]): Checked<EvaluatorSpec> {
  const def = formEvaluators(catalogue).find((e) => e.name === choice.builtin);
  if (!def) return { ok: false, problem: `unknown evaluator ${choice.builtin}` };
  const kwargs: Record<string, unknown> = {};
  for (const p of def.parameters) {
    const value = parameterValue(p, choice.values[p.name] ?? "");
    if (!value.ok) return { ok: false, problem: `${def.label}: ${value.problem}`, field: value.field };
    kwargs[p.name] = value.value;
  }
  return { ok: true, value: { name: scoreName(def.score_name, kwargs), builtin: def.name, kwargs } };
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
export function experimentBody(form: ExperimentForm, catalogue: readonly EvaluatorDef[]): Checked<Record<string, unknown>> {
  if (!form.assistantId) return { ok: false, problem: "pick an assistant", field: "assistant" };
  const conc = form.concurrency.trim();
  if (!/^\d+$/.test(conc) || Number(conc) < MIN_CONCURRENCY || Number(conc) > MAX_CONCURRENCY)
    return { ok: false, problem: `concurrency is a whole number from ${MIN_CONCURRENCY} to ${MAX_CONCURRENCY}`, field: "concurrency" };
  const name = form.name.trim();
  if (name.length > 200) return { ok: false, problem: "a name has at most 200 characters", field: "name" };
  if (!form.evaluators.length) return { ok: false, problem: "tick at least one evaluator", field: "evaluators" };
  const specs: EvaluatorSpec[] = [];
  for (const choice of form.evaluators) {
    const spec = evaluatorSpec(choice, catalogue);
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
