// JSON requests through the host's transport, with failures turned into specific messages.
import type { Transport } from "./contract";
import { HttpError, networkMessage, responseError } from "./sse";

export class Api {
  constructor(readonly transport: Transport) {}

  async raw(path: string, init?: RequestInit): Promise<Response> {
    let resp: Response;
    try {
      resp = await this.transport.request(path, init);
    } catch (err) {
      if (err instanceof DOMException && err.name === "AbortError") throw err;
      throw new HttpError(0, networkMessage(err));
    }
    if (!resp.ok) throw await responseError(resp);
    return resp;
  }

  async get<T>(path: string): Promise<T> {
    return this.decode<T>(await this.raw(path), path);
  }

  async del(path: string): Promise<void> {
    await this.raw(path, { method: "DELETE" });
  }

  async post<T>(path: string, body: unknown = {}): Promise<T> {
    const resp = await this.raw(path, { method: "POST", body: JSON.stringify(body) });
    if (resp.status === 202 || resp.status === 204) {
      const text = await resp.text();
      return (text ? JSON.parse(text) : null) as T;
    }
    return this.decode<T>(resp, path);
  }

  private async decode<T>(resp: Response, path: string): Promise<T> {
    const text = await resp.text();
    try {
      return JSON.parse(text, ownStatus) as T;
    } catch {
      throw new HttpError(resp.status, `the server sent something that is not JSON for ${path}: ${text.slice(0, 120)}`);
    }
  }
}

/** A run's own status: the API shows a cancelled run as `interrupted` (LangGraph's statuses) and
 * keeps `cancelled` in `duragraph_status`, which the pages show. */
function ownStatus(_key: string, value: unknown): unknown {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const own = (value as { duragraph_status?: unknown }).duragraph_status;
    if (typeof own === "string") return { ...value, status: own };
  }
  return value;
}

export function errorText(err: unknown): string {
  if (err instanceof HttpError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

// -- shapes of the API's answers (the fields the pages use) ------------------------------------
export interface Assistant {
  assistant_id: string;
  graph_id: string;
  name?: string | null;
  description?: string | null;
  config?: unknown;
  context?: unknown;
  metadata?: Record<string, unknown>;
  version?: number;
  created_at?: string;
  updated_at?: string;
  /** Whether a live worker serves the graph (runs of an unserved graph wait). */
  served?: boolean;
}

/** Why a pending run has not started (`no_worker`: no live worker serves its graph). */
export interface WaitingFor {
  reason: string;
  message: string;
  graph_id?: string;
}

export interface Thread {
  thread_id: string;
  status?: string;
  created_at?: string;
  updated_at?: string;
  metadata?: Record<string, unknown>;
  values?: Record<string, unknown> | null;
  interrupts?: unknown;
}

export interface Run {
  run_id: string;
  thread_id: string;
  assistant_id: string;
  graph_id?: string;
  status: string;
  created_at: string;
  updated_at?: string;
  started_at?: string | null;
  ended_at?: string | null;
  error?: unknown;
  metadata?: Record<string, unknown>;
  waiting_for?: WaitingFor | null;
  /** A fork's origin (POST /runs/{id}/fork). */
  forked_from?: ForkOrigin | null;
  /** Tokens its model calls reported; null when none did. */
  usage?: Usage | null;
}

export interface ForkOrigin {
  run_id: string;
  seq: number;
  /** The event's position in the origin run's event log (0 the first). */
  position?: number;
  /** The state keys the fork's update set. */
  edited?: string[];
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
}

/** "40 in · 12 out" (tokens); "" when nothing was reported. */
export function formatTokens(usage: Usage | null | undefined): string {
  if (!usage) return "";
  return `${usage.input_tokens.toLocaleString()} in · ${usage.output_tokens.toLocaleString()} out`;
}

/** Tokens per node (summed over its executions, subgraph nodes under their namespace), in the
 * order the nodes first ran; nodes whose calls reported nothing left out. */
export function tokensByNode(spans: readonly SpanRow[]): { node: string; executions: number; usage: Usage }[] {
  const out = new Map<string, { node: string; executions: number; usage: Usage }>();
  for (const s of spans) {
    if (!s.usage) continue;
    const key = `${s.ns ?? ""}${s.node}`;
    const row = out.get(key) ?? { node: key, executions: 0, usage: { input_tokens: 0, output_tokens: 0 } };
    row.executions += 1;
    row.usage.input_tokens += s.usage.input_tokens;
    row.usage.output_tokens += s.usage.output_tokens;
    out.set(key, row);
  }
  return [...out.values()];
}

export interface ApiEvent {
  seq: number;
  event_id: string;
  type: string;
  data: unknown;
  recorded_at: string;
}

export interface Checkpoint {
  values: unknown;
  next?: string[];
  checkpoint: { checkpoint_id: string };
  metadata?: { seq?: number; run_id?: string; step?: number; event?: string } | null;
}

export interface SpanRow {
  node: string;
  task?: string | null;
  step?: number | null;
  attempt?: number | null;
  ns?: string;
  status: string;
  started_at: string | null;
  ended_at: string | null;
  duration_ms: number | null;
  error?: unknown;
  seq: number;
  run_id?: string;
  usage?: Usage | null;
}

export const ACTIVE = new Set(["pending", "running"]);

export function runDuration(run: Run, now = Date.now()): number | null {
  const start = Date.parse(run.started_at ?? run.created_at);
  if (!Number.isFinite(start)) return null;
  const end = run.ended_at ? Date.parse(run.ended_at) : ACTIVE.has(run.status) ? now : Date.parse(run.updated_at ?? "");
  return Number.isFinite(end) ? Math.max(0, (end - start) / 1000) : null;
}

/** The newest runs of any thread (``POST runs/search``), with the server-side filters given
 * (``status``: one or a list, ``assistant_id``, ``graph_id``, ``thread_id``, ``metadata``, ...). */
export async function recentRuns(api: Api, limit = 200, filters: Record<string, unknown> = {}): Promise<Run[]> {
  return api.post<Run[]>("runs/search", { ...filters, limit, sort_by: "created_at", sort_order: "desc" });
}

// -- evaluations (issue 8): datasets, experiments, comparisons -----------------------------------
export interface DatasetVersion {
  version: number;
  example_count: number;
  created_at: string;
  seq?: number;
  selection?: unknown;
}

export interface Dataset {
  dataset_id: string;
  name: string;
  description?: string | null;
  metadata?: Record<string, unknown> | null;
  version: number;
  example_count: number;
  versions: DatasetVersion[];
  created_at: string;
  updated_at: string;
}

export interface ExampleNode {
  step: number | null;
  node: string;
  ns?: string | null;
  duration_ms?: number | null;
  update?: unknown;
}

export interface ExampleSource {
  run_id: string;
  thread_id?: string | null;
  assistant_id?: string | null;
  graph_id?: string | null;
  status?: string | null;
  created_at?: string | null;
}

export interface Example {
  example_id: string;
  index: number;
  inputs: unknown;
  outputs?: unknown;
  metadata?: Record<string, unknown> | null;
  source?: ExampleSource | null;
  nodes?: ExampleNode[];
  latency_ms?: number | null;
  steps?: number | null;
  error?: unknown;
}

export interface DatasetExamples {
  dataset_id: string;
  name: string;
  version: number;
  examples: Example[];
}

export interface Score {
  name: string;
  score: number | null;
  passed: boolean | null;
  comment?: string | null;
  error?: string | null;
}

export interface Experiment {
  experiment_id: string;
  name: string;
  dataset_id: string;
  dataset_name: string;
  dataset_version: number;
  assistant_id: string;
  assistant_version?: number | null;
  graph_id?: string | null;
  config?: unknown;
  evaluators?: unknown[];
  concurrency?: number;
  metadata?: Record<string, unknown> | null;
  status: "running" | "completed" | string;
  /** who scores it: the notebook ("client") or the server (POST /experiments/{id}/run) */
  runner?: "client" | "server" | string;
  /** a server executes it now */
  running?: boolean;
  example_count: number;
  result_count: number;
  passed: number;
  failed: number;
  errors: number;
  mean_scores: Record<string, number | null>;
  created_at: string;
  updated_at?: string;
  completed_at?: string | null;
}

export interface NodeStep {
  node: string;
  update: unknown;
}

export interface RunComparison {
  base: unknown;
  candidate: unknown;
  first_divergence: {
    index: number;
    step: number | null;
    base: NodeStep | null;
    candidate: NodeStep | null;
    reason: "node" | "update" | "missing" | string;
  } | null;
  /** `path`: keys and indexes from the root of the final state */
  state_diff: { path: (string | number)[] | string; change: "added" | "removed" | "changed" | string; base?: unknown; candidate?: unknown }[];
  latency_ms: { base: number | null; candidate: number | null; delta: number | null };
  steps: { base: number | null; candidate: number | null; delta: number | null };
}

export type Verdict = "regressed" | "improved" | "unchanged" | "error";

export interface ComparedExample {
  example_id: string;
  index: number;
  base_status: string | null;
  candidate_status: string | null;
  base_run_id?: string | null;
  candidate_run_id?: string | null;
  scores: Record<string, { base: number | null; candidate: number | null; delta: number | null }>;
  passed: { base: boolean | null; candidate: boolean | null };
  verdict: Verdict | string;
  run: RunComparison | null;
}

export interface Comparison {
  base: Experiment;
  candidate: Experiment;
  examples: ComparedExample[];
  summary: { regressed: number; improved: number; unchanged: number; errors: number; mean_deltas: Record<string, number | null> };
}
