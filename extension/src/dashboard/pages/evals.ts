// The evaluation pages' logic without the DOM (unit-tested on its own): which runs a "Save as
// dataset" freezes, how score deltas and verdicts read and are coloured, and how the experiments a
// user ticked become a comparison.
import { formatPath } from "../../renderers/diff";
import { ACTIVE, type Experiment, type Run } from "../api";
import { messageText } from "../ui";
import { HttpError } from "../sse";

/** The Runs page's filters (the same fields as `RunFilter` in runs.ts). */
export interface RunsView {
  status: string;
  assistant: string;
  minSeconds: number | null;
  maxSeconds: number | null;
}

/** The most examples one dataset version takes from runs (the API's `selection.limit` maximum). */
export const MAX_SELECTION = 1000;

export interface DatasetSource {
  /** The `selection` of POST /datasets. */
  selection: Record<string, unknown>;
  /** What will be saved, in words, for the form. */
  describe: string;
  /** How many runs the page shows for it (the server may find more or fewer). */
  count: number;
}

/** What "Save as dataset" freezes: the runs the user ticked; otherwise the page's filters. The
 * server filters by status and assistant itself (every matching run at rest, oldest first, up
 * to 1000: runs the page does not list are included); the duration filter exists only in the
 * page, so with one set, the runs shown are sent by id. */
export function datasetSource(view: RunsView, ticked: readonly string[], shown: readonly Run[], assistantName = (id: string) => id): DatasetSource {
  if (ticked.length) {
    const ids = ticked.slice(0, MAX_SELECTION);
    return { selection: { ids, limit: ids.length }, describe: `the ${plural(ids.length, "ticked run")}`, count: ids.length };
  }
  const conditions: string[] = [];
  const selection: Record<string, unknown> = {};
  if (view.status) {
    selection.status = view.status;
    conditions.push(`status ${view.status}`);
  }
  if (view.assistant) {
    selection.assistant_id = view.assistant;
    conditions.push(`assistant ${assistantName(view.assistant)}`);
  }
  if (view.minSeconds !== null || view.maxSeconds !== null) {
    // Runs still going have no final duration: only runs at rest (unless a status was chosen).
    const runs = shown.filter((r) => view.status || !ACTIVE.has(r.status)).slice(0, MAX_SELECTION);
    const ids = runs.map((r) => r.run_id);
    return { selection: { ...selection, ids, limit: Math.max(1, ids.length) }, describe: `the ${plural(ids.length, "run")} shown (filtered by duration)`, count: ids.length };
  }
  const atRest = view.status ? "" : " at rest";
  const count = shown.filter((r) => view.status || !ACTIVE.has(r.status)).length;
  const which = conditions.length ? ` with ${conditions.join(" and ")}` : "";
  return { selection: { ...selection, limit: MAX_SELECTION }, describe: `every run${atRest}${which} (up to ${MAX_SELECTION}, oldest first)`, count };
}

/** Whether a run had an input an experiment can replay, as far as the run list tells: a fork
 * starts from another run's state with none. (The server checks every run's input when saving,
 * `selection.require_input` leaves out all that have none, and its answer names any left.) */
export function hasInput(r: Run): boolean {
  return !r.forked_from;
}

/** What is odd about the runs a dataset would freeze: those with no input, and the assistants
 * (several: an experiment runs every example against one). */
export function selectionWarnings(runs: readonly Run[]): { noInput: Run[]; assistants: string[] } {
  const noInput = runs.filter((r) => !hasInput(r));
  const assistants = [...new Set(runs.map((r) => r.assistant_id))].sort();
  return { noInput, assistants };
}

/** The source narrowed by the user's choices in the form: leave out the runs with no input (the
 * server's `require_input`), keep the runs of one assistant. */
export function narrowSource(source: DatasetSource, runs: readonly Run[], skipNoInput: boolean, assistant: string, assistantName = (id: string) => id): DatasetSource {
  const selection: Record<string, unknown> = { ...source.selection };
  const notes: string[] = [];
  let kept = runs;
  if (skipNoInput && runs.some((r) => !hasInput(r))) {
    selection.require_input = true;
    kept = kept.filter(hasInput);
    notes.push("without the runs that had no input");
  }
  if (assistant) {
    kept = kept.filter((r) => r.assistant_id === assistant);
    if (Array.isArray(selection.ids)) {
      const ids = (selection.ids as string[]).filter((id) => runs.some((r) => r.run_id === id && r.assistant_id === assistant));
      selection.ids = ids;
      selection.limit = Math.max(1, ids.length);
    } else selection.assistant_id = assistant;
    notes.push(`only the runs of ${assistantName(assistant)}`);
  }
  if (!notes.length) return source;
  return { selection, describe: `${source.describe}, ${notes.join(", ")}`, count: kept.length };
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** The body of POST /datasets; `newVersion` adds a version to an existing dataset of that name. */
export function saveDatasetBody(name: string, description: string, source: DatasetSource, newVersion = false): Record<string, unknown> {
  const body: Record<string, unknown> = { name: name.trim(), selection: source.selection };
  if (description.trim()) body.description = description.trim();
  if (newVersion) body.if_exists = "new_version";
  return body;
}

/** Why POST /datasets failed, in the form's words; `clash` offers "add as new version". */
export function saveFailure(err: unknown, name: string): { message: string; clash: boolean } {
  if (err instanceof HttpError) {
    // POST /datasets answers 409 only for a name clash (`dataset_exists` in the contract).
    if (err.status === 409)
      return { message: `a dataset named "${name.trim()}" already exists: pick another name, or add these runs to it as a new version`, clash: true };
    if (err.status === 422 && err.code === "empty_selection") return { message: `nothing to save: ${err.detail || "no run matches"}`, clash: false };
    if (err.status === 422) return { message: `cannot save: ${err.detail || err.message}`, clash: false };
    return { message: `could not save the dataset: ${err.message}`, clash: false };
  }
  return { message: `could not save the dataset: ${err instanceof Error ? err.message : String(err)}`, clash: false };
}

/** The client-side check of a dataset name (the server's pattern); null when fine. */
export function nameProblem(name: string): string | null {
  const n = name.trim();
  if (!n) return "give the dataset a name";
  if (n.length > 200) return "a dataset name has at most 200 characters";
  if (!/^[A-Za-z0-9][A-Za-z0-9 _.-]*$/.test(n)) return "a dataset name starts with a letter or digit and has only letters, digits, spaces, '_', '.' and '-'";
  return null;
}

// -- numbers ---------------------------------------------------------------------------------
/** A score or mean for a table: at most `digits` decimals (3), no trailing zeros; "–" when missing. */
export function formatScore(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return String(Number(v.toFixed(digits)));
}

/** A delta with its sign: "+0.25", "-0.5", "0"; "–" when missing. */
export function formatDelta(d: number | null | undefined, digits = 3): string {
  if (d === null || d === undefined || !Number.isFinite(d)) return "–";
  const r = Number(d.toFixed(digits));
  if (r === 0) return "0";
  return r > 0 ? `+${r}` : String(r);
}

export type Trend = "better" | "worse" | "same" | "none";

/** Whether a delta is good news: scores are better higher, latency and steps better lower. */
export function trend(d: number | null | undefined, higherIsBetter = true, digits = 3): Trend {
  if (d === null || d === undefined || !Number.isFinite(d)) return "none";
  const r = Number(d.toFixed(digits));
  if (r === 0) return "same";
  return r > 0 === higherIsBetter ? "better" : "worse";
}

/** The class that colours a delta (green better, red worse, muted same/none). */
export function deltaClass(d: number | null | undefined, higherIsBetter = true, digits = 3): string {
  return `dg-delta dg-delta-${trend(d, higherIsBetter, digits)}`;
}

export const VERDICTS = ["regressed", "improved", "unchanged", "error"] as const;

/** The class that colours an example's verdict (regressed red, improved green, unchanged muted,
 * error orange; anything else as unchanged). */
export function verdictClass(verdict: string): string {
  const v = (VERDICTS as readonly string[]).includes(verdict) ? verdict : "unchanged";
  return `dg-verdict dg-verdict-${v}`;
}

/** "3/4 passed · 1 failed · 1 error" for an experiment's counts. */
export function passSummary(e: Pick<Experiment, "passed" | "failed" | "errors" | "result_count" | "example_count">): string {
  const parts = [`${e.passed}/${e.example_count} passed`];
  if (e.failed) parts.push(`${e.failed} failed`);
  if (e.errors) parts.push(plural(e.errors, "error"));
  if (e.result_count < e.example_count) parts.push(`${e.result_count}/${e.example_count} recorded`);
  return parts.join(" · ");
}

/** "exact 0.75 · judge 0.5", evaluators in name order. */
export function meanScores(scores: Record<string, number | null> | null | undefined): string {
  const entries = Object.entries(scores ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.map(([k, v]) => `${k} ${formatScore(v)}`).join(" · ");
}

/** The two ticked experiments as base (the older) and candidate (the newer); null unless two. */
export function baseAndCandidate(ticked: readonly Experiment[]): { base: string; candidate: string } | null {
  if (ticked.length !== 2) return null;
  const [a, b] = [...ticked].sort((x, y) => Date.parse(x.created_at) - Date.parse(y.created_at) || (x.experiment_id < y.experiment_id ? -1 : 1));
  return { base: a.experiment_id, candidate: b.experiment_id };
}

/** The run id a RunComparison side stands for (the API sends the id; a run object works too). */
export function runIdOf(side: unknown): string | null {
  if (typeof side === "string" && side) return side;
  if (side && typeof side === "object" && typeof (side as { run_id?: unknown }).run_id === "string") return (side as { run_id: string }).run_id;
  return null;
}

/** JSON in one short line for a table cell. */
export function jsonShort(v: unknown, max = 80): string {
  if (v === undefined) return "";
  let text: string;
  try {
    text = typeof v === "string" ? v : JSON.stringify(v);
  } catch {
    text = String(v);
  }
  if (text === undefined) return "";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The file name of a download: Content-Disposition's filename (RFC 6266, plain or UTF-8), else
 * the fallback; never a path. */
export function downloadName(disposition: string | null, fallback: string): string {
  let name: string | null = null;
  if (disposition) {
    const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition);
    const plain = /filename\s*=\s*("([^"]*)"|[^;]+)/.exec(disposition);
    try {
      if (star) name = decodeURIComponent(star[1].trim());
    } catch {
      name = null;
    }
    if (!name && plain) name = (plain[2] ?? plain[1]).trim();
  }
  const base = (name ?? "").split(/[\\/]/).pop() ?? "";
  return base && base !== "." && base !== ".." ? base : fallback;
}

/** A name made safe for a file name. */
export function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "experiment";
}

/** A state-diff entry's change as the diff renderer's op (added → add, removed → remove, else change). */
export function stateChangeOp(change: string): "add" | "remove" | "change" {
  return change === "added" ? "add" : change === "removed" ? "remove" : "change";
}

/** A state-diff path (keys and indexes from the root) as `messages[1].content`. */
export function diffPath(path: readonly (string | number)[] | string): string {
  return typeof path === "string" ? path : formatPath(path);
}

/** An example's inputs or outputs for a table cell: a chat state reads as its last message's
 * text (what a person looks for), anything else as short JSON. */
export function valuePreview(v: unknown, max = 120): string {
  if (v && typeof v === "object" && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const msgs = o.messages;
    if (Array.isArray(msgs) && msgs.length) {
      const last = msgs[msgs.length - 1] as { content?: unknown } | null;
      const text = messageText(last && typeof last === "object" ? last.content : last);
      const others = Object.keys(o).length - 1;
      return jsonShort(`${text || "(empty message)"}${others ? ` (+${plural(others, "other key")})` : ""}`, max);
    }
  }
  return jsonShort(v, max);
}
