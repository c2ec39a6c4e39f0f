"""Event type names, by stream.

Payloads are plain JSON-able dicts (see docs/events.md for every field). Only node results
and plans carry graph state, and only as deltas: storage grows with the number of steps, not
with steps x state size.
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
RUN_DELETED = "run_deleted"  # removed from the read models; its events stay for the audit trail

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

# run:<id> (webhooks: the delivery of a run's end, after that end; `end_seq` names which end)
WEBHOOK_ATTEMPT_FAILED = "webhook_attempt_failed"  # end_seq, url, attempt, error, retry_at
WEBHOOK_DELIVERED = "webhook_delivered"  # end_seq, url, attempt, status (the receiver's 2xx)
WEBHOOK_ABANDONED = "webhook_abandoned"  # end_seq, url, attempts, error: given up (or refused)
