"""The OpenAPI 3.1 document of the API, made from the route table and the request models.

Response schemas are written here by hand (they describe what the services return); the
test suite fuzzes the running server against this document with schemathesis, so a response
that does not match its schema fails a test.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from pydantic import BaseModel

from duragraph_lab._version import __version__
from duragraph_lab.api.handlers.base import API_PREFIX, AUTH_RESOURCE
from duragraph_lab.api.routes import ROUTES, Op, Route

_REF = "#/components/schemas/{model}"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_STR = {"type": "string"}
_OBJ = {"type": "object"}
_TS = {"type": "string", "format": "date-time"}
_USAGE = {
    "type": "object",
    "description": "Tokens the model calls reported (summed); null when no call reported usage",
    "required": ["input_tokens", "output_tokens"],
    "properties": {"input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}},
}
_INTERRUPT = {
    "type": "object",
    "required": ["value", "id"],
    "properties": {"value": {}, "id": _STR, "when": _STR, "node": _STR, "response_schema": {}},
}
_CHECKPOINT = {
    "type": "object",
    "required": ["thread_id", "checkpoint_ns", "checkpoint_id"],
    "properties": {
        "thread_id": _STR,
        "checkpoint_ns": _STR,
        "checkpoint_id": _STR,
        "checkpoint_map": _nullable(_OBJ),
    },
}

_STORE_ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["namespace", "key", "value", "created_at", "updated_at"],
    "properties": {
        "namespace": {"type": "array", "items": _STR},
        "key": _STR,
        "value": _OBJ,
        "created_at": _TS,
        "updated_at": _TS,
    },
}

#: What the public probes say of each backing service: nothing but its state.
_SERVICES: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": "string", "enum": ["healthy", "unhealthy"]},
}

RESPONSES: dict[str, dict[str, Any]] = {
    "ProtocolResponse": {
        "type": "object",
        "required": ["type", "id", "result"],
        "properties": {
            "type": {"type": "string", "enum": ["success"]},
            "id": {"type": "integer"},
            "result": _OBJ,
            "meta": {"type": "object", "properties": {"applied_through_seq": {"type": "integer"}}},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": _STR, "message": _STR, "details": {"type": "array"}},
    },
    "Health": {
        "type": "object",
        "required": ["status", "version", "postgres", "nats", "relay"],
        "properties": {
            # degraded: PostgreSQL answers but events do not reach NATS in time (see message).
            "status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
            "version": _STR,
            "postgres": _OBJ,
            "nats": _OBJ,
            "relay": _OBJ,
            "worker": _nullable(_OBJ),
            "error": _nullable(_STR),
            "message": _nullable(_STR),
        },
    },
    "Info": {
        "type": "object",
        "required": ["name", "version"],
        "properties": {"name": _STR, "version": _STR},
    },
    "WorkerConnection": {
        "type": "object",
        "required": ["database_url", "nats_url", "subject_prefix", "local_only"],
        "properties": {
            "database_url": _STR,
            "database_tcp_url": _nullable(_STR),
            "nats_url": _STR,
            "subject_prefix": _STR,
            "local_only": {"type": "boolean"},
        },
    },
    "WorkerList": {
        "type": "object",
        "required": ["workers", "graphs"],
        "properties": {
            "workers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["worker_id", "graphs", "started_at", "heartbeat_at"],
                    "properties": {
                        "worker_id": _STR,
                        "hostname": _nullable(_STR),
                        "pid": _nullable({"type": "integer"}),
                        "graphs": {"type": "array", "items": _STR},
                        "started_at": _TS,
                        "heartbeat_at": _TS,
                    },
                },
            },
            "graphs": {
                "type": "object",
                "description": "graph id -> the ids of the live workers serving it",
                "additionalProperties": {"type": "array", "items": _STR},
            },
        },
    },
    "Ok": {
        "type": "object",
        "required": ["ok"],
        "properties": {"ok": {"type": "boolean"}, "services": _SERVICES},
        "additionalProperties": False,
    },
    "Ready": {
        "type": "object",
        "required": ["ok", "services"],
        "properties": {"ok": {"type": "boolean"}, "services": _SERVICES},
        "additionalProperties": False,
    },
    "Metrics": {"type": "string", "description": "Prometheus text exposition format"},
    "OpenApi": _OBJ,
    "Count": {"type": "integer", "minimum": 0},
    "Cron": {
        "type": "object",
        "description": "Every field, or those of the search's `select`.",
        "properties": {
            "cron_id": _STR,
            "assistant_id": _STR,
            "thread_id": _nullable(_STR),
            "on_run_completed": _nullable({"type": "string", "enum": ["delete", "keep"]}),
            "end_time": _nullable(_TS),
            "schedule": _STR,
            "timezone": _nullable(_STR),
            "created_at": _TS,
            "updated_at": _TS,
            "payload": _OBJ,
            "user_id": _nullable(_STR),
            "next_run_date": _nullable(_TS),
            "metadata": _OBJ,
            "enabled": {"type": "boolean"},
        },
    },
    "CronList": {"type": "array", "items": {"$ref": "#/components/schemas/Cron"}},
    "StoreItem": _STORE_ITEM,
    "StoreItemOrNull": _nullable({"$ref": "#/components/schemas/StoreItem"}),
    "StoreSearchResult": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    **_STORE_ITEM,
                    "required": [*_STORE_ITEM["required"], "score"],
                    "properties": {**_STORE_ITEM["properties"], "score": _nullable({"type": "number"})},
                },
            }
        },
    },
    "StoreNamespaces": {
        "type": "object",
        "required": ["namespaces"],
        "properties": {"namespaces": {"type": "array", "items": {"type": "array", "items": _STR}}},
    },
    "Assistant": {
        "type": "object",
        "required": [
            "assistant_id",
            "graph_id",
            "name",
            "config",
            "context",
            "metadata",
            "version",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "assistant_id": _STR,
            "graph_id": _STR,
            "name": _STR,
            "description": _nullable(_STR),
            "config": _OBJ,
            "context": _OBJ,
            "metadata": _OBJ,
            "version": {"type": "integer", "minimum": 1},
            "created_at": _TS,
            "updated_at": _TS,
            "served": {
                "type": "boolean",
                "description": "Whether a live worker serves the assistant's graph (GET /assistants/{id} and "
                "POST /assistants/search without `select`): runs of an unserved graph wait",
            },
        },
    },
    "AssistantVersion": {
        "type": "object",
        "required": ["assistant_id", "version", "graph_id", "config", "metadata", "created_at", "name"],
        "properties": {
            "assistant_id": _STR,
            "version": {"type": "integer"},
            "graph_id": _STR,
            "config": _OBJ,
            "context": _OBJ,
            "metadata": _OBJ,
            "created_at": _TS,
            "name": _STR,
            "description": _nullable(_STR),
        },
    },
    "Graph": {
        "type": "object",
        "required": ["nodes", "edges"],
        "properties": {
            "nodes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "type"],
                    "properties": {"id": _STR, "type": _STR},
                },
            },
            "edges": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["source", "target"],
                    "properties": {"source": _STR, "target": _STR, "conditional": {"type": "boolean"}},
                },
            },
            "layout": _nullable(_OBJ),
        },
    },
    "GraphSchemas": {
        "type": "object",
        "required": [
            "graph_id",
            "input_schema",
            "output_schema",
            "state_schema",
            "config_schema",
            "context_schema",
        ],
        "properties": {"graph_id": _STR},
    },
    "Subgraphs": {"type": "object", "additionalProperties": _OBJ},
    "Thread": {
        "type": "object",
        "required": ["thread_id", "created_at", "updated_at", "metadata", "status"],
        "properties": {
            "thread_id": _STR,
            "created_at": _TS,
            "updated_at": _TS,
            "metadata": _OBJ,
            "status": {"type": "string", "enum": ["idle", "busy", "interrupted", "error"]},
            "values": _nullable(_OBJ),
            "interrupts": {"type": "object", "additionalProperties": {"type": "array", "items": _INTERRUPT}},
        },
    },
    "ThreadState": {
        "type": "object",
        "required": [
            "values",
            "next",
            "tasks",
            "checkpoint",
            "metadata",
            "created_at",
            "parent_checkpoint",
            "interrupts",
        ],
        "properties": {
            "values": _OBJ,
            "next": {"type": "array", "items": _STR},
            "tasks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "name", "interrupts"],
                    "properties": {
                        "id": _STR,
                        "name": _STR,
                        "error": _nullable(_STR),
                        "interrupts": {"type": "array"},
                    },
                },
            },
            "checkpoint": _nullable(_CHECKPOINT),
            "parent_checkpoint": _nullable(_CHECKPOINT),
            "metadata": _nullable(_OBJ),
            "created_at": _nullable(_TS),
            "interrupts": {"type": "array", "items": _INTERRUPT},
        },
    },
    "StateUpdateResult": {
        "type": "object",
        "required": ["checkpoint"],
        "properties": {"checkpoint": _nullable(_CHECKPOINT), "checkpoint_id": _nullable(_STR)},
    },
    "PruneResult": {
        "type": "object",
        "required": ["pruned_count"],
        "properties": {"pruned_count": {"type": "integer"}},
    },
    "Run": {
        "type": "object",
        "required": [
            "run_id",
            "thread_id",
            "assistant_id",
            "created_at",
            "updated_at",
            "status",
            "metadata",
            "kwargs",
        ],
        "properties": {
            "run_id": _STR,
            "thread_id": _STR,
            "assistant_id": _nullable(_STR),
            "graph_id": _STR,
            "created_at": _TS,
            "updated_at": _TS,
            "status": {
                "type": "string",
                "description": "LangGraph's RunStatus: a cancelled run is `interrupted`, as on LangGraph Platform",
                "enum": ["pending", "running", "error", "success", "timeout", "interrupted"],
            },
            "duragraph_status": {
                "type": "string",
                "description": "DuraGraph's own status of the run: as `status`, but `cancelled` for a cancelled run",
                "enum": ["pending", "running", "error", "success", "timeout", "interrupted", "cancelled"],
            },
            "metadata": _OBJ,
            "kwargs": _OBJ,
            "multitask_strategy": _nullable(_STR),
            "usage": _nullable(_USAGE),
            "waiting_for": _nullable(
                {
                    "type": "object",
                    "description": "Why a pending run has not started: `no_worker` (no live worker "
                    "serves its graph); null when it is not waiting for anything of the kind",
                    "required": ["reason", "message"],
                    "properties": {"reason": _STR, "graph_id": _STR, "message": _STR},
                }
            ),
            "forked_from": _nullable(
                {
                    "type": "object",
                    "description": "**DuraGraph:** where a fork (`POST /runs/{run_id}/fork`) branched: "
                    "the run, the event's global `seq`, its `position` in that run's event log (0 the "
                    "first) and the state keys the fork `edited` before running; null for other runs",
                    "required": ["run_id", "seq"],
                    "properties": {
                        "run_id": _STR,
                        "seq": {"type": "integer"},
                        "position": {"type": "integer"},
                        "edited": {"type": "array", "items": _STR},
                    },
                }
            ),
        },
    },
    "JoinResult": {
        "type": "object",
        "description": "The run's final values; `__interrupt__` when it paused for a human; `__error__` when it failed.",
    },
    "EventStream": {
        "type": "object",
        "description": "One server-sent event of a text/event-stream (keep-alive comments aside).",
        "required": ["event", "data"],
        "properties": {
            "event": {
                "type": "string",
                "description": "`metadata` first, then a stream mode (`values`, `updates`, `messages/partial`, "
                "..., `mode|namespace` with subgraphs), or `error`",
            },
            "data": {"type": "string", "contentMediaType": "application/json"},
            "id": {"type": "string", "description": "Global event seq: send it back as Last-Event-ID"},
            "retry": {"type": "integer"},
        },
    },
    "Event": {
        "type": "object",
        "required": ["seq", "stream_id", "version", "event_id", "type", "data", "recorded_at"],
        "properties": {
            "seq": {"type": "integer"},
            "stream_id": _STR,
            "version": {"type": "integer"},
            "event_id": _STR,
            "type": _STR,
            "data": _OBJ,
            "meta": _OBJ,
            "recorded_at": _TS,
        },
    },
    "Span": {
        "type": "object",
        "required": ["run_id", "node", "task", "step", "attempt", "status"],
        "properties": {
            "run_id": _STR,
            "ns": _STR,
            "node": _STR,
            "task": _STR,
            "step": {"type": "integer"},
            "attempt": {"type": "integer"},
            "status": {"type": "string", "enum": ["ok", "error"]},
            "started_at": _nullable(_TS),
            "ended_at": _nullable(_TS),
            "duration_ms": _nullable({"type": "number"}),
            "error": _nullable(_OBJ),
            "seq": {"type": "integer"},
            "usage": _nullable(_USAGE),
        },
    },
    "ReplayReport": {
        "type": "object",
        "required": ["identical", "tasks_checked", "divergence"],
        "properties": {
            "identical": {"type": "boolean"},
            "tasks_checked": {"type": "integer"},
            "divergence": _nullable(_OBJ),
            "graph_version": _STR,
        },
    },
}


def _selected(model: str) -> dict[str, Any]:
    """A search result: the whole object, or only the fields asked for with ``select``."""
    schema = {k: v for k, v in RESPONSES[model].items() if k != "required"}
    return {**schema, "description": f"A {model}; with `select`, only the selected fields."}


RESPONSES["AssistantList"] = {"type": "array", "items": _selected("Assistant")}
RESPONSES["AssistantVersionList"] = {
    "type": "array",
    "items": {"$ref": _REF.format(model="AssistantVersion")},
}
RESPONSES["ThreadList"] = {"type": "array", "items": _selected("Thread")}
RESPONSES["ThreadStateList"] = {"type": "array", "items": {"$ref": _REF.format(model="ThreadState")}}
RESPONSES["RunList"] = {"type": "array", "items": {"$ref": _REF.format(model="Run")}}
RESPONSES["SpanList"] = {"type": "array", "items": {"$ref": _REF.format(model="Span")}}
RESPONSES["EventState"] = {
    "type": "object",
    "required": ["run_id", "seq", "type", "values", "previous", "previous_seq"],
    "properties": {
        "run_id": _STR,
        "seq": {"type": "integer"},
        "type": _STR,
        "node": _nullable(_STR),
        "step": _nullable({"type": "integer"}),
        "values": {"type": "object"},
        "previous": {"type": "object"},
        "previous_seq": _nullable({"type": "integer"}),
    },
}
RESPONSES["EventPage"] = {
    "type": "object",
    "required": ["run_id", "events", "has_more"],
    "properties": {
        "run_id": _STR,
        "events": {"type": "array", "items": {"$ref": _REF.format(model="Event")}},
        "next_after": _nullable({"type": "integer"}),
        "has_more": {"type": "boolean"},
    },
}

_NUM = {"type": "number"}
_INT = {"type": "integer"}
_ANY_LIST = {"type": "array"}
_SCORE = {
    "type": "object",
    "required": ["name", "score", "passed"],
    "properties": {
        "name": _STR,
        "score": _nullable(_NUM),
        "passed": _nullable({"type": "boolean"}),
        "comment": _nullable(_STR),
        "error": _nullable(_STR),
    },
}
_NODE_RESULT = {
    "type": "object",
    "required": ["step", "node"],
    "properties": {
        "step": _nullable(_INT),
        "node": _STR,
        "ns": _STR,
        "duration_ms": _nullable(_NUM),
        "update": {},
    },
}
_DELTA = {
    "type": "object",
    "required": ["base", "candidate", "delta"],
    "properties": {"base": _nullable(_NUM), "candidate": _nullable(_NUM), "delta": _nullable(_NUM)},
}
RESPONSES["Dataset"] = {
    "type": "object",
    "required": ["dataset_id", "name", "version", "example_count", "versions", "created_at", "updated_at"],
    "properties": {
        "dataset_id": _STR,
        "name": _STR,
        "description": _nullable(_STR),
        "metadata": _OBJ,
        "version": _INT,
        "example_count": _INT,
        "versions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["version", "example_count", "created_at", "seq"],
                "properties": {
                    "version": _INT,
                    "example_count": _INT,
                    "created_at": _TS,
                    "seq": _INT,
                    "selection": _nullable(_OBJ),
                    "description": _nullable(_STR),
                },
            },
        },
        "created_at": _TS,
        "updated_at": _TS,
        "warnings": {
            "type": "array",
            "description": "Only in the answer to a create or a new version: what is odd about the "
            "runs just frozen (`no_input`: runs with no input, `run_ids`; `several_assistants`: "
            "`assistants`), each with a `message`",
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": ["no_input", "several_assistants"]},
                    "message": _STR,
                    "run_ids": {"type": "array", "items": _STR},
                    "assistants": {"type": "array", "items": _STR},
                },
            },
        },
    },
}
RESPONSES["Notebook"] = {
    "type": "object",
    "description": "A Jupyter notebook (nbformat 4), served as application/x-ipynb+json.",
    "required": ["cells", "metadata", "nbformat", "nbformat_minor"],
}
RESPONSES["EventList"] = {"type": "array", "items": {"$ref": _REF.format(model="Event")}}
RESPONSES["DatasetList"] = {"type": "array", "items": {"$ref": _REF.format(model="Dataset")}}
RESPONSES["DatasetExamples"] = {
    "type": "object",
    "required": ["dataset_id", "name", "version", "examples"],
    "properties": {
        "dataset_id": _STR,
        "name": _STR,
        "version": _INT,
        "examples": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["example_id", "index", "inputs"],
                "properties": {
                    "example_id": _STR,
                    "index": _INT,
                    "inputs": {},
                    "outputs": {},
                    "metadata": _nullable(_OBJ),
                    "source": _nullable(_OBJ),
                    "nodes": {"type": "array", "items": _NODE_RESULT},
                    "trajectory": {"type": "array", "items": _STR},
                    "tool_calls": {"type": "array", "items": _STR},
                    "latency_ms": _nullable(_NUM),
                    "steps": _nullable(_INT),
                    "error": _nullable(_STR),
                },
            },
        },
    },
}
RESPONSES["Experiment"] = {
    "type": "object",
    "required": [
        "experiment_id",
        "name",
        "dataset_id",
        "dataset_name",
        "dataset_version",
        "assistant_id",
        "graph_id",
        "status",
        "example_count",
        "result_count",
        "passed",
        "failed",
        "errors",
        "mean_scores",
        "created_at",
    ],
    "properties": {
        "experiment_id": _STR,
        "name": _STR,
        "dataset_id": _STR,
        "dataset_name": _STR,
        "dataset_version": _INT,
        "assistant_id": _STR,
        "assistant_version": _nullable(_INT),
        "graph_id": _STR,
        "config": _OBJ,
        "evaluators": _ANY_LIST,
        "concurrency": _INT,
        "metadata": _OBJ,
        "status": {"type": "string", "enum": ["running", "completed"]},
        "example_count": _INT,
        "result_count": _INT,
        "passed": _INT,
        "failed": _INT,
        "errors": _INT,
        "mean_scores": {"type": "object", "additionalProperties": _NUM},
        "created_at": _TS,
        "updated_at": _TS,
        "completed_at": _nullable(_TS),
        "runner": {"type": "string", "enum": ["client", "server"]},
        "running": {"type": "boolean"},
    },
}
_JSON_TYPE = {"type": "string", "enum": ["string", "number", "integer", "boolean", "array"]}
RESPONSES["EvaluatorCatalogue"] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name", "label", "description", "score_name", "model_graded", "parameters"],
        "properties": {
            "name": _STR,
            "label": _STR,
            "description": _STR,
            "score_name": _STR,
            "model_graded": {"type": "boolean"},
            "parameters": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "label", "description", "type", "nullable", "required"],
                    "properties": {
                        "name": _STR,
                        "label": _STR,
                        "description": _STR,
                        "type": _JSON_TYPE,
                        "items": _OBJ,
                        "nullable": {"type": "boolean"},
                        "required": {"type": "boolean"},
                        "default": {},
                        "enum": {"type": "array", "items": _STR},
                        "null_means": _STR,
                        "example": {},
                        "format": {"type": "string", "enum": ["path", "regex"]},
                        "minimum": _NUM,
                        "exclusive_minimum": _NUM,
                        "maximum": _NUM,
                        "min_length": _INT,
                        "min_items": _INT,
                    },
                },
            },
        },
    },
}
RESPONSES["ExperimentList"] = {"type": "array", "items": {"$ref": _REF.format(model="Experiment")}}
RESPONSES["ExperimentResult"] = {
    "type": "object",
    "required": ["experiment_id", "example_id", "index", "status", "verdict", "scores", "recorded_at", "seq"],
    "properties": {
        "experiment_id": _STR,
        "example_id": _STR,
        "index": _INT,
        "run_id": _nullable(_STR),
        "status": _STR,
        "verdict": {"type": "string", "enum": ["passed", "failed", "error"]},
        "outputs": {},
        "error": _nullable(_STR),
        "scores": {"type": "array", "items": _SCORE},
        "latency_ms": _nullable(_NUM),
        "steps": _nullable(_INT),
        "nodes": {"type": "array", "items": _NODE_RESULT},
        "recorded_at": _TS,
        "seq": _INT,
    },
}
RESPONSES["ExperimentResultList"] = {
    "type": "array",
    "items": {"$ref": _REF.format(model="ExperimentResult")},
}
RESPONSES["RunOutcome"] = {
    "type": "object",
    "required": ["run_id", "status", "inputs", "outputs", "nodes", "trajectory", "tool_calls", "steps"],
    "properties": {
        "run_id": _STR,
        "thread_id": _nullable(_STR),
        "assistant_id": _nullable(_STR),
        "graph_id": _nullable(_STR),
        "status": _STR,
        "inputs": {},
        "outputs": {},
        "error": _nullable(_STR),
        "metadata": _OBJ,
        "nodes": {"type": "array", "items": _NODE_RESULT},
        "trajectory": {"type": "array", "items": _STR},
        "tool_calls": {"type": "array", "items": _STR},
        "latency_ms": _nullable(_NUM),
        "steps": _INT,
        "created_at": _nullable(_TS),
        "started_at": _nullable(_TS),
        "ended_at": _nullable(_TS),
    },
}
RESPONSES["RunComparison"] = {
    "type": "object",
    "required": ["base", "candidate", "first_divergence", "state_diff", "latency_ms", "steps"],
    "properties": {
        "base": _nullable(_STR),
        "candidate": _nullable(_STR),
        "first_divergence": _nullable(
            {
                "type": "object",
                "required": ["index", "reason"],
                "properties": {
                    "index": _INT,
                    "step": _nullable(_INT),
                    "base": _nullable(_OBJ),
                    "candidate": _nullable(_OBJ),
                    "reason": {"type": "string", "enum": ["node", "update", "missing"]},
                },
            }
        ),
        "state_diff": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "change"],
                "properties": {
                    "path": _ANY_LIST,
                    "change": {"type": "string", "enum": ["added", "removed", "changed"]},
                    "base": {},
                    "candidate": {},
                },
            },
        },
        "latency_ms": _DELTA,
        "steps": _DELTA,
    },
}
RESPONSES["Comparison"] = {
    "type": "object",
    "required": ["base", "candidate", "examples", "summary"],
    "properties": {
        "base": {"$ref": _REF.format(model="Experiment")},
        "candidate": {"$ref": _REF.format(model="Experiment")},
        "examples": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["example_id", "verdict", "scores", "passed"],
                "properties": {
                    "example_id": _STR,
                    "index": _nullable(_INT),
                    "base_status": _nullable(_STR),
                    "candidate_status": _nullable(_STR),
                    "base_run_id": _nullable(_STR),
                    "candidate_run_id": _nullable(_STR),
                    "scores": {"type": "object", "additionalProperties": _DELTA},
                    "passed": _OBJ,
                    "verdict": {"type": "string", "enum": ["regressed", "improved", "unchanged", "error"]},
                    "run": _nullable({"$ref": _REF.format(model="RunComparison")}),
                },
            },
        },
        "summary": {
            "type": "object",
            "required": ["regressed", "improved", "unchanged", "errors", "mean_deltas"],
            "properties": {
                "regressed": _INT,
                "improved": _INT,
                "unchanged": _INT,
                "errors": _INT,
                "mean_deltas": {"type": "object", "additionalProperties": _nullable(_NUM)},
            },
        },
    },
}

_ERRORS = {
    "400": "Malformed request (e.g. invalid JSON)",
    "401": "No valid token (`unauthorized`; the message says how to pass it): an API client's "
    "token in the Authorization header or the token query parameter, or no credentials at all",
    "403": "Not authenticated, or not authorized by Jupyter's Authorizer",
    "404": "No such resource",
    "409": "Conflicts with the current state (busy thread, run not interrupted, ...)",
    "413": "Body over the size limit",
    "422": "The request does not match its schema, or asks for something impossible",
}


def _model_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF)
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault(model.__name__, schema)
    return {"$ref": _REF.format(model=model.__name__)}


def _operation(route: Route, method: str, op: Op, components: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": f"{method}_{route.path.strip('/').replace('/', '_').replace('{', '').replace('}', '').replace('.', '_')}",
        "summary": op.summary,
        "tags": [route.tag],
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in route.path_params
        ]
        + [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required,
                "schema": p.schema,
                **({"description": p.description} if p.description else {}),
                **({"style": "form", "explode": True} if p.schema.get("type") == "array" else {}),
            }
            for p in op.params
        ],
        "responses": {},
    }
    if op.description:
        out["description"] = op.description
    action = route.action(method)
    if op.public:
        # A probe: no credentials, no Authorizer (OpenAPI's way to say so is an empty security).
        out["security"] = []
        out["x-jupyter-authorization"] = {"public": True}
    else:
        # What Jupyter's Authorizer is asked: is_authorized(handler, user, action, resource).
        out["x-jupyter-authorization"] = {
            "resource": AUTH_RESOURCE,
            "action": action,
            **({"also": {param: also for param, also in op.escalations}} if op.escalations else {}),
        }
    if op.body is not None:
        schema = _model_schema(op.body, components)
        if op.body_is_array:
            schema = {"type": "array", "items": schema, "minItems": 1}
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    status = str(op.status)
    if op.response is None:
        out["responses"][status] = {"description": "Done (no body)"}
        if op.status == 202:
            out["responses"]["200"] = {
                "description": "With wait=1: the run's result",
                "content": {"application/json": {"schema": {"$ref": _REF.format(model="JoinResult")}}},
            }
    elif op.sse:
        out["responses"][status] = {
            "description": "Server-sent events",
            # Each event (as schemathesis reads it; `itemSchema` in OpenAPI 3.2).
            "content": {"text/event-stream": {"schema": {"$ref": _REF.format(model="EventStream")}}},
        }
    elif op.response == "ArrowStream":
        out["responses"][status] = {
            "description": "Arrow IPC stream",
            "content": {
                "application/vnd.apache.arrow.stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    elif op.response == "Parquet":
        out["responses"][status] = {
            "description": "Parquet file",
            "content": {"application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}},
        }
    elif op.response == "Notebook":
        out["responses"][status] = {
            "description": "A Jupyter notebook (.ipynb)",
            "content": {"application/x-ipynb+json": {"schema": {"$ref": _REF.format(model="Notebook")}}},
        }
    elif op.response == "Metrics":
        out["responses"][status] = {
            "description": "Prometheus metrics",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    else:
        out["responses"][status] = {
            "description": "OK",
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=op.response)}}},
        }
    if op.response == "Health":
        out["responses"]["503"] = {
            "description": "Not healthy (the body says what is wrong)",
            "content": {"application/json": {"schema": {"$ref": _REF.format(model="Health")}}},
        }
    error = {"content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}}}
    for code, text in _ERRORS.items():
        out["responses"].setdefault(code, {"description": text, **error})
    also = "".join(f" (and `{a}` with `{p}=true`)" for p, a in op.escalations)
    if op.public:
        out["responses"]["403"]["description"] = "A request from a host Jupyter does not serve"
    else:
        out["responses"]["403"]["description"] = (
            f"A browser's cookie login missing or expired (`unauthenticated`), or its XSRF check "
            f"failed, or not authorized to `{action}` on resource "
            f"`{AUTH_RESOURCE}`{also} (`forbidden`)"
        )
    if op.response in ("Ok", "Ready"):
        out["responses"]["503"] = {
            "description": "Not ready: a backing service is unreachable (`services` says which)",
            "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=op.response)}}},
        }
    out["responses"]["503"] = out["responses"].get("503") or {
        "description": "The database is unavailable (`unavailable`; also while it refuses statements for "
        "now, e.g. disk full), or another backing service is",
        "headers": {
            "Retry-After": {
                "description": "Seconds after which trying again is worth it",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
        **error,
    }
    return out


@functools.cache
def _document() -> dict[str, Any]:
    components: dict[str, Any] = copy.deepcopy(RESPONSES)
    paths: dict[str, Any] = {}
    for route in ROUTES:
        item = paths.setdefault(route.path, {})
        for method, op in route.ops.items():
            item[method] = _operation(route, method, op, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "DuraGraph Lab API",
            "version": __version__,
            "description": (
                "LangGraph Platform-compatible API of DuraGraph Lab, plus the event log, spans, forks and "
                "re-execution. Authenticate as for any Jupyter server API: `Authorization: token <token>`. "
                "Each operation is authorized by the server's Jupyter Authorizer on resource `duragraph` "
                "with the action in its `x-jupyter-authorization` (read, write or execute)."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "jupyterToken": {"type": "apiKey", "in": "header", "name": "Authorization"},
            },
        },
        "security": [{"jupyterToken": []}],
    }


def document(base_url: str = "/") -> dict[str, Any]:
    doc = copy.deepcopy(_document())
    doc["servers"] = [{"url": f"{base_url.rstrip('/')}/{API_PREFIX}"}]
    return doc
