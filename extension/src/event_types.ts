// Generated from duragraph_lab/domain/events by
// `python -m duragraph_lab.domain.events.typescript > extension/src/event_types.ts`: do not edit.
// The payload (`data`) of each event type, as stored. A payload read from the log may be older
// or malformed: read it as Partial<...> and check what you use.

/** What each run of the cron is started with (the keys the request gave). */
export interface CronPayload {
  input?: unknown;
  config?: Record<string, unknown>;
  context?: Record<string, unknown>;
  interrupt_before?: unknown;
  interrupt_after?: unknown;
  multitask_strategy?: string;
  webhook?: string;
  stream_mode?: unknown;
  stream_subgraphs?: boolean;
  stream_resumable?: boolean;
  durability?: string;
}
export interface EditPlan {
  step: number;
  tasks: PlannedTask[];
  barriers: Record<string, string[]>;
}
export interface EditRequest {
  values: Record<string, unknown>;
  as_node: string | null;
  rest: Record<string, unknown>;
}
export interface Interrupt {
  id: string;
  node: string;
  when: "during" | "before" | "after";
  value: unknown;
  ns: string;
  task?: string;
  model_calls?: Record<string, unknown>[];
  tool_calls?: Record<string, unknown>[];
  fields?: Record<string, unknown> | null;
}
export interface LgCheckpoint {
  thread_id: string;
  checkpoint_ns?: string;
  checkpoint_id?: string;
  parent_checkpoint_id: string | null;
  metadata: Record<string, unknown>;
  checkpoint: string[] | Record<string, unknown>;
  metadata_of_run?: boolean;
  new_versions?: Record<string, string>;
  channel_versions?: Record<string, string>;
  blobs?: Record<string, string[] | LgListAppend>;
  versions_delta?: boolean;
}
/** A list channel's value as an earlier version of it plus items appended (version 2 of the */
export interface LgListAppend {
  base: string;
  append: string[][];
}
export interface LgWrites {
  thread_id: string;
  checkpoint_ns?: string;
  checkpoint_id: string;
  task_id?: string;
  task_path: string;
  writes: unknown[][];
  upsert?: boolean;
}
export interface PlannedTask {
  id: string;
  node: string;
  index: number;
  triggers: string[];
  arg?: unknown;
}
/** The state a run starts from: a point of another run (``seq`` None: wherever it ends). */
export interface RunBase {
  run_id: string;
  seq: number | null;
  mode: "continue" | "fork";
}
export interface StreamPart {
  mode: string;
  ns: string;
  chunk: unknown;
  key: string;
}
/** run_created: the request: input, config, graph, thread, base (run streams) */
export interface RunCreated {
  run_id: string;
  thread_id: string;
  graph_id: string;
  assistant_id: string | null;
  channels: Record<string, string>;
  input: Record<string, unknown> | null;
  config: Record<string, unknown>;
  metadata: Record<string, unknown>;
  interrupt_before: string[];
  interrupt_after: string[];
  recursion_limit: number;
  timeout: number | null;
  base: RunBase | null;
  update?: Record<string, unknown> | null;
  as_node?: string | null;
  goto?: unknown[];
  after_seconds?: number;
  after_run?: string;
  kwargs?: Record<string, unknown>;
  edit?: EditRequest;
  new_thread?: boolean;
}
/** run_started: an executor took up the run (every lease) (run streams) */
export interface RunStarted {
  worker_id: string;
  epoch: number | null;
  attempt: number;
}
/** step_planned: the tasks of a superstep; closes the previous one (run streams) */
export interface StepPlanned {
  step: number;
  tasks: PlannedTask[];
  barriers: Record<string, string[]>;
  custom_values: Record<string, unknown>;
  counts?: boolean;
  ns?: string;
  checkpoint_id?: string;
  carry?: boolean;
  appended?: Record<string, unknown[]>;
  langgraph_checkpoint?: LgCheckpoint;
}
/** node_completed: one task's update and routing (run streams) */
export interface NodeCompleted {
  step: number;
  task: string;
  node: string;
  attempt: number;
  update: Record<string, unknown>;
  goto: unknown[];
  started_at: number;
  finished_at: number;
  duration_ms: number;
  model_calls?: Record<string, unknown>[];
  tool_calls?: Record<string, unknown>[];
  ns?: string;
  cached?: boolean;
  langgraph_writes?: LgWrites;
}
/** node_failed: one failed attempt of a task (run streams) */
export interface NodeFailed {
  step: number;
  task: string;
  node: string;
  attempt: number;
  error: Record<string, unknown>;
  will_retry: boolean;
  retry_in: number;
  started_at: number;
  finished_at: number;
  ns?: string;
  model_calls?: Record<string, unknown>[];
  tool_calls?: Record<string, unknown>[];
}
/** run_interrupted: paused, waiting for a resume (run streams) */
export interface RunInterrupted {
  step: number;
  interrupts: Interrupt[];
  ns?: string;
}
/** run_resumed: Command(resume=...) for an interrupted run (run streams) */
export interface RunResumed {
  resume: unknown;
  by_id?: Record<string, unknown>;
  ns?: string;
}
/** run_completed: the run (or subgraph) reached END (run streams) */
export interface RunCompleted {
  custom_values?: Record<string, unknown>;
  ns?: string;
  carry?: boolean;
  appended?: Record<string, unknown[]>;
}
/** run_failed: the run (or subgraph) failed for good (run streams) */
export interface RunFailed {
  error: Record<string, unknown>;
  ns?: string;
}
/** run_cancel_requested: a request to stop the run (run streams) */
export interface RunCancelRequested {
  reason: string;
  action?: "interrupt" | "rollback";
}
/** run_cancelled: the run stopped on request (run streams) */
export interface RunCancelled {
  reason?: string;
}
/** run_timed_out: the run exceeded its timeout (run streams) */
export interface RunTimedOut {
  error: Record<string, unknown>;
}
/** subgraph_started: a subgraph node began its supersteps (run streams) */
export interface SubgraphStarted {
  ns: string;
  graph_id: string;
  channels: Record<string, string>;
  input: Record<string, unknown>;
  recursion_limit: number;
}
/** stream_parts: LangGraph's own stream parts, for resumed streams (run streams) */
export interface StreamParts {
  parts: StreamPart[];
}
/** state_updated: a state edit on a paused or finished run (run streams) */
export interface StateUpdated {
  values: Record<string, unknown>;
  as_node: string | null;
  reduced?: string[];
  next?: EditPlan;
  planned?: Record<string, unknown>;
}
/** edit_refused: an edit request the graph's code refused (run streams) */
export interface EditRefused {
  error: Record<string, unknown>;
}
/** run_deleted: removed from the read models; events stay (run streams) */
export type RunDeleted = Record<string, never>;
/** webhook_attempt_failed: a webhook attempt failed (run streams) */
export interface WebhookAttemptFailed {
  end_seq: number;
  url: string;
  attempt: number;
  error: string;
  retry_at: string;
}
/** webhook_delivered: a run's end was POSTed to its webhook (run streams) */
export interface WebhookDelivered {
  end_seq: number;
  url: string;
  attempt: number;
  status: number;
}
/** webhook_abandoned: a webhook delivery given up (or refused) (run streams) */
export interface WebhookAbandoned {
  end_seq: number;
  url: string;
  attempts: number;
  error: string;
}
/** thread_created: a new thread (thread streams) */
export interface ThreadCreated {
  thread_id: string;
  metadata: Record<string, unknown>;
  temporary?: boolean;
}
/** thread_updated: metadata merged into the thread's (thread streams) */
export interface ThreadUpdated {
  metadata: Record<string, unknown>;
}
/** thread_run_added: a run created on the thread (thread streams) */
export interface ThreadRunAdded {
  run_id: string;
}
/** thread_deleted: the thread and its runs deleted (thread streams) */
export interface ThreadDeleted {
  thread_id: string;
}
/** assistant_created: a new assistant (version 1) (assistant streams) */
export interface AssistantCreated {
  assistant_id: string;
  graph_id: string;
  name: string;
  description: string | null;
  config: Record<string, unknown>;
  context: Record<string, unknown>;
  metadata: Record<string, unknown>;
}
/** assistant_updated: a new version, or set latest (assistant streams) */
export interface AssistantUpdated {
  graph_id?: string;
  name?: string;
  description?: string | null;
  config?: Record<string, unknown>;
  context?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  version?: number;
  set_latest?: boolean;
}
/** assistant_deleted: the assistant deleted (assistant streams) */
export interface AssistantDeleted {
  assistant_id: string;
}
/** graph_registered: a graph's topology (when it changed) (graph streams) */
export interface GraphRegistered {
  graph_id: string;
  version: string;
  topology: Record<string, unknown>;
  channels: Record<string, string>;
  nodes: string[];
  registered_by: string;
  engine?: string;
}
/** dataset_created: a new dataset (dataset streams) */
export interface DatasetCreated {
  dataset_id: string;
  name: string;
  description: string | null;
  metadata: Record<string, unknown>;
}
/** dataset_version_added: a frozen version (dataset streams) */
export interface DatasetVersionAdded {
  version: number;
  selection: Record<string, unknown> | null;
  description: string | null;
  examples: Record<string, unknown>[];
}
/** dataset_deleted: the dataset deleted; name freed (dataset streams) */
export interface DatasetDeleted {
  dataset_id: string;
  name: string;
}
/** experiment_created: a new experiment (experiment streams) */
export interface ExperimentCreated {
  experiment_id: string;
  name: string;
  dataset_id: string;
  dataset_name: string;
  dataset_version: number;
  assistant_id: string;
  assistant_version: number;
  graph_id: string;
  config: Record<string, unknown>;
  evaluators: Record<string, unknown>[];
  concurrency: number;
  metadata: Record<string, unknown>;
  example_count: number;
}
/** experiment_result_recorded: one example's result (experiment streams) */
export interface ExperimentResultRecorded {
  example_id: string;
  index: number;
  run_id: string | null;
  status: string;
  outputs: unknown;
  error: unknown;
  scores: Record<string, unknown>[];
  nodes: unknown[];
  verdict: "passed" | "failed" | "error";
  latency_ms?: number | null;
  steps?: number | null;
}
/** experiment_run_requested: the server runs it (experiment streams) */
export interface ExperimentRunRequested {
  runner: "server";
}
/** experiment_completed: no more results (experiment streams) */
export interface ExperimentCompleted {
  result_count: number;
}
/** cron_created: a new schedule of runs (cron streams) */
export interface CronCreated {
  cron_id: string;
  assistant_id: string;
  graph_id: string;
  thread_id: string | null;
  schedule: string;
  timezone: string | null;
  end_time: string | null;
  enabled: boolean;
  on_run_completed: "delete" | "keep" | null;
  payload: CronPayload;
  metadata: Record<string, unknown>;
  user_id: string | null;
  next_run_date: string | null;
}
/** cron_updated: fields changed; the next fire time (cron streams) */
export interface CronUpdated {
  next_run_date: string | null;
  schedule?: string;
  timezone?: string | null;
  end_time?: string | null;
  enabled?: boolean;
  on_run_completed?: "delete" | "keep";
  metadata?: Record<string, unknown>;
  payload?: CronPayload;
}
/** cron_fired: one tick: its run (or why none), the next tick (cron streams) */
export interface CronFired {
  tick: string;
  next_run_date: string | null;
  run_id: string | null;
  thread_id: string | null;
  fired_by: string;
  error?: string;
}
/** cron_deleted: the cron deleted (cron streams) */
export interface CronDeleted {
  cron_id: string;
}
/** lg_checkpoint: a LangGraph checkpoint (checkpoints streams) */
export interface LgCheckpoint {
  thread_id: string;
  checkpoint_ns?: string;
  checkpoint_id?: string;
  parent_checkpoint_id: string | null;
  metadata: Record<string, unknown>;
  checkpoint: string[] | Record<string, unknown>;
  metadata_of_run?: boolean;
  new_versions?: Record<string, string>;
  channel_versions?: Record<string, string>;
  blobs?: Record<string, string[] | LgListAppend>;
  versions_delta?: boolean;
}
/** lg_writes: a LangGraph task's pending writes (checkpoints streams) */
export interface LgWrites {
  thread_id: string;
  checkpoint_ns?: string;
  checkpoint_id: string;
  task_id?: string;
  task_path: string;
  writes: unknown[][];
  upsert?: boolean;
}
/** lg_thread_deleted: a thread's checkpoints deleted (checkpoints streams) */
export interface LgThreadDeleted {
  thread_id: string;
}
/** lg_runs_deleted: the checkpoints of runs deleted (checkpoints streams) */
export interface LgRunsDeleted {
  thread_id: null;
  run_ids: string[];
}
/** lg_thread_copied: a thread's checkpoints copied (checkpoints streams) */
export interface LgThreadCopied {
  thread_id: string;
  source_thread_id: string;
}
/** lg_thread_pruned: a thread's checkpoints pruned (checkpoints streams) */
export interface LgThreadPruned {
  thread_id: string;
  strategy: "keep_latest" | "delete";
}
/** Each event type's payload. */
export interface EventPayloads {
  run_created: RunCreated;
  run_started: RunStarted;
  step_planned: StepPlanned;
  node_completed: NodeCompleted;
  node_failed: NodeFailed;
  run_interrupted: RunInterrupted;
  run_resumed: RunResumed;
  run_completed: RunCompleted;
  run_failed: RunFailed;
  run_cancel_requested: RunCancelRequested;
  run_cancelled: RunCancelled;
  run_timed_out: RunTimedOut;
  subgraph_started: SubgraphStarted;
  stream_parts: StreamParts;
  state_updated: StateUpdated;
  edit_refused: EditRefused;
  run_deleted: RunDeleted;
  webhook_attempt_failed: WebhookAttemptFailed;
  webhook_delivered: WebhookDelivered;
  webhook_abandoned: WebhookAbandoned;
  thread_created: ThreadCreated;
  thread_updated: ThreadUpdated;
  thread_run_added: ThreadRunAdded;
  thread_deleted: ThreadDeleted;
  assistant_created: AssistantCreated;
  assistant_updated: AssistantUpdated;
  assistant_deleted: AssistantDeleted;
  graph_registered: GraphRegistered;
  dataset_created: DatasetCreated;
  dataset_version_added: DatasetVersionAdded;
  dataset_deleted: DatasetDeleted;
  experiment_created: ExperimentCreated;
  experiment_result_recorded: ExperimentResultRecorded;
  experiment_run_requested: ExperimentRunRequested;
  experiment_completed: ExperimentCompleted;
  cron_created: CronCreated;
  cron_updated: CronUpdated;
  cron_fired: CronFired;
  cron_deleted: CronDeleted;
  lg_checkpoint: LgCheckpoint;
  lg_writes: LgWrites;
  lg_thread_deleted: LgThreadDeleted;
  lg_runs_deleted: LgRunsDeleted;
  lg_thread_copied: LgThreadCopied;
  lg_thread_pruned: LgThreadPruned;
}

export type EventType = keyof EventPayloads;

/** The stream kind (the prefix of the stream id) of each event type. */
export const EVENT_STREAM_KINDS: Record<EventType, string> = {
  run_created: "run",
  run_started: "run",
  step_planned: "run",
  node_completed: "run",
  node_failed: "run",
  run_interrupted: "run",
  run_resumed: "run",
  run_completed: "run",
  run_failed: "run",
  run_cancel_requested: "run",
  run_cancelled: "run",
  run_timed_out: "run",
  subgraph_started: "run",
  stream_parts: "run",
  state_updated: "run",
  edit_refused: "run",
  run_deleted: "run",
  webhook_attempt_failed: "run",
  webhook_delivered: "run",
  webhook_abandoned: "run",
  thread_created: "thread",
  thread_updated: "thread",
  thread_run_added: "thread",
  thread_deleted: "thread",
  assistant_created: "assistant",
  assistant_updated: "assistant",
  assistant_deleted: "assistant",
  graph_registered: "graph",
  dataset_created: "dataset",
  dataset_version_added: "dataset",
  dataset_deleted: "dataset",
  experiment_created: "experiment",
  experiment_result_recorded: "experiment",
  experiment_run_requested: "experiment",
  experiment_completed: "experiment",
  cron_created: "cron",
  cron_updated: "cron",
  cron_fired: "cron",
  cron_deleted: "cron",
  lg_checkpoint: "checkpoints",
  lg_writes: "checkpoints",
  lg_thread_deleted: "checkpoints",
  lg_runs_deleted: "checkpoints",
  lg_thread_copied: "checkpoints",
  lg_thread_pruned: "checkpoints",
};
