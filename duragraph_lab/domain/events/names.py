"""Event type names, by stream kind (the wire names: stored in `events.type`, in NATS subjects,
in the SSE `debug`/`events` frames and in the front end).
"""

from __future__ import annotations

# run:<id>
RUN_CREATED = "run_created"  # the request: input, config, graph, thread, base (fork/continuation)
RUN_STARTED = "run_started"  # a worker leased the run (every lease: attempt 1, 2, ...)
STEP_PLANNED = "step_planned"  # the tasks of a superstep; applies the previous step's results
NODE_COMPLETED = "node_completed"  # one task's update, routing, timing: the unit of durability
NODE_FAILED = "node_failed"  # one failed attempt of a task (retried or fatal)
RUN_INTERRUPTED = "run_interrupted"  # paused: interrupt() in a node, or interrupt_before/after
RUN_RESUMED = "run_resumed"  # Command(resume=...) for an interrupted run
RUN_COMPLETED = "run_completed"
RUN_FAILED = "run_failed"
RUN_CANCEL_REQUESTED = "run_cancel_requested"
RUN_CANCELLED = "run_cancelled"
RUN_TIMED_OUT = "run_timed_out"
SUBGRAPH_STARTED = "subgraph_started"  # a subgraph node began its own supersteps (namespaced)
STATE_UPDATED = "state_updated"  # a state edit (update_state) on a paused or finished run
EDIT_REFUSED = "edit_refused"  # an edit request (update_state) the graph's code refused; no edit
RUN_DELETED = "run_deleted"  # removed from the read models; its events stay for the audit trail
STREAM_PARTS = "stream_parts"  # LangGraph's own stream parts of a run, kept for resumed streams

# thread:<id>
THREAD_CREATED = "thread_created"
THREAD_UPDATED = "thread_updated"
THREAD_RUN_ADDED = "thread_run_added"  # serialises run creation per thread (expected version)
THREAD_DELETED = "thread_deleted"

# assistant:<id>
ASSISTANT_CREATED = "assistant_created"
ASSISTANT_UPDATED = "assistant_updated"
ASSISTANT_DELETED = "assistant_deleted"

# graph:<id>
GRAPH_REGISTERED = "graph_registered"  # topology, channels and schema of a compiled graph

# dataset:<id> (evals: examples frozen from runs; each version is one event, so a dataset's history
# is its log)
DATASET_CREATED = "dataset_created"  # name, description, metadata
DATASET_VERSION_ADDED = "dataset_version_added"  # version, selection, examples (inputs, outputs, nodes)
DATASET_DELETED = "dataset_deleted"  # frees the name; the events stay

# experiment:<id> (evals: a dataset version re-run against an assistant version)
EXPERIMENT_CREATED = "experiment_created"  # dataset + version, assistant + version, evaluators
EXPERIMENT_RESULT_RECORDED = "experiment_result_recorded"  # one example: its run, outputs, scores
EXPERIMENT_RUN_REQUESTED = "experiment_run_requested"  # the server runs it (runner: "server")
EXPERIMENT_COMPLETED = "experiment_completed"

# checkpoints:<id> (LangGraph's checkpointer, outside runs) and run:<id> (during a LangGraph run):
# LangGraph checkpoints and task writes, serialized by the graph's serde (domain/events/langgraph.py)
LG_CHECKPOINT = "lg_checkpoint"  # one checkpoint (put): ids, parent, metadata, the serialized checkpoint
LG_WRITES = "lg_writes"  # one task's pending writes against a checkpoint (put_writes)
LG_THREAD_DELETED = "lg_thread_deleted"  # delete_thread: every checkpoint and write of the thread
LG_RUNS_DELETED = "lg_runs_deleted"  # delete_for_runs: the checkpoints (and their writes) of runs
LG_THREAD_COPIED = "lg_thread_copied"  # copy_thread: the source's checkpoints, now also the target's
LG_THREAD_PRUNED = "lg_thread_pruned"  # prune: keep_latest (per namespace) or delete

# cron:<id> (a schedule of runs: each tick it fires is one event, appended in the transaction that
# creates the tick's run, at the expected version: two servers cannot both fire one tick)
CRON_CREATED = "cron_created"  # assistant, thread, schedule, timezone, end_time, enabled, payload
CRON_UPDATED = "cron_updated"  # the fields changed, and the next fire time they give
CRON_FIRED = "cron_fired"  # one tick: its run (or why none was created) and the next fire time
CRON_DELETED = "cron_deleted"

# run:<id> (webhooks: the delivery of a run's end, after that end; `end_seq` names which end)
WEBHOOK_ATTEMPT_FAILED = "webhook_attempt_failed"  # end_seq, url, attempt, error, retry_at
WEBHOOK_DELIVERED = "webhook_delivered"  # end_seq, url, attempt, status (the receiver's 2xx)
WEBHOOK_ABANDONED = "webhook_abandoned"  # end_seq, url, attempts, error: given up (or refused)
