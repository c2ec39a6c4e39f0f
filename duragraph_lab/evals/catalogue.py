"""The built-in evaluators as data: what each one scores and what it takes, for a client that
builds evaluator specs without code (the dashboard's experiment form reads it from
``GET /evaluators``).

What the factories' signatures say is taken from them (:data:`duragraph_lab.evals.specs.BUILTINS`),
so it cannot drift: each parameter's name, order, default, whether it is required, and its type
(``str`` → ``string``, ``float`` → ``number``, ``int`` → ``integer``, ``bool`` → ``boolean``,
``Sequence[str]`` → an ``array`` of strings, a ``Literal`` → a ``string`` with an ``enum``,
``... | None`` → ``nullable``). What a signature cannot say is declared here: labels, descriptions,
what a null means, an example value, and the constraints a value must meet to make sense
(``minimum``, ``exclusive_minimum``, ``maximum``, ``min_length``, ``min_items``, ``format``:
``path`` for a dotted path such as ``messages.-1.content``, ``regex`` for a Python pattern).

Each entry's ``score_name`` is the name its scores get, as a template: ``{p}`` is parameter
``p``'s value (null: empty; a list: its items joined by ``", "``), ``{p:g}`` a number in
Python's ``g`` format, ``{a|b}`` ``a``'s value unless it is null, else ``b``'s.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

from duragraph_lab.evals.evaluators import Evaluator
from duragraph_lab.evals.specs import BUILTINS

_PATH = "a dotted path into the run's output (list indices may be negative)"


@dataclass(frozen=True, slots=True)
class Param:
    """What a parameter's signature does not say."""

    label: str
    description: str
    null_means: str | None = None
    example: Any = None
    #: Constraints (minimum, exclusive_minimum, maximum, min_length, min_items, format; ``items``:
    #: those of an array's items) and, for an annotation that names no JSON type (``Any``), its
    #: ``type``.
    rules: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Builtin:
    label: str
    description: str
    score_name: str
    params: dict[str, Param]
    #: Scored by a language model (costs a model call per example; the model is the server's).
    model_graded: bool = False


_ANSWER = "messages.-1.content"

BUILTIN_DOCS: dict[str, Builtin] = {
    "contains": Builtin(
        "contains",
        "The output at the path (as text; a message's content) contains the text.",
        "contains({text|path})",
        {
            "text": Param(
                "text",
                "the text the answer should contain",
                null_means="the example's reference output at the same path",
                rules={"min_length": 1},
            ),
            "path": Param(
                "path", _PATH, null_means="the whole output", example=_ANSWER, rules={"format": "path"}
            ),
            "case": Param("case-sensitive", "compare case-sensitively"),
        },
    ),
    "exact_match": Builtin(
        "exact match",
        "The output at the path equals the example's reference output (at the same path, or at 'expected at').",
        "exact_match({path})",
        {
            "path": Param(
                "path", _PATH, null_means="the whole output", example=_ANSWER, rules={"format": "path"}
            ),
            "expected": Param(
                "expected at",
                "the path in the example's reference output",
                null_means="the same path",
                rules={"format": "path"},
            ),
        },
    ),
    "json_field_match": Builtin(
        "JSON fields match",
        "The fraction of the fields (dotted paths) whose output equals the reference output; passes when all do.",
        "json_field_match({fields})",
        {
            "fields": Param(
                "fields",
                "the dotted paths to compare",
                example=["answer"],
                rules={"min_items": 1, "items": {"format": "path"}},
            )
        },
    ),
    "regex": Builtin(
        "regex",
        "The output at the path (as text) matches the pattern (Python re.search).",
        "regex({pattern})",
        {
            "pattern": Param(
                "pattern", "a Python regular expression", rules={"min_length": 1, "format": "regex"}
            ),
            "path": Param(
                "path", _PATH, null_means="the whole output", example=_ANSWER, rules={"format": "path"}
            ),
        },
    ),
    "numeric_tolerance": Builtin(
        "numeric tolerance",
        "The number at the path (or the first number in its text) is within the tolerances of the reference's.",
        "numeric_tolerance({path})",
        {
            "path": Param(
                "path", _PATH, null_means="the whole output", example=_ANSWER, rules={"format": "path"}
            ),
            "expected": Param(
                "expected at",
                "the path of the number in the example's reference output",
                null_means="the same path",
                rules={"format": "path"},
            ),
            "abs_tol": Param("± absolute", "the absolute tolerance", rules={"minimum": 0}),
            "rel_tol": Param(
                "± relative", "the relative tolerance (a fraction of the larger number)", rules={"minimum": 0}
            ),
        },
    ),
    "trajectory_match": Builtin(
        "trajectory match",
        "The nodes (or tool calls) the run executed against the expected ones.",
        "trajectory_match({of}, {mode})",
        {
            "expected": Param(
                "expected",
                "the names, in order",
                null_means="the example's reference trajectory, else the source run's own path",
                rules={"min_items": 1, "items": {"min_length": 1}},
            ),
            "of": Param("of", "compare the nodes executed, or the tools called"),
            "mode": Param(
                "mode",
                "exact: the same sequence; subsequence: the expected ones in order, others between; "
                "superset: all expected ones, in any order; prefix: starting with them",
            ),
        },
    ),
    "latency_budget": Builtin(
        "latency budget",
        "The run took at most this many milliseconds.",
        "latency_budget({max_ms:g} ms)",
        {
            "max_ms": Param(
                "max ms", "the budget in milliseconds", example=10000, rules={"exclusive_minimum": 0}
            )
        },
    ),
    "step_budget": Builtin(
        "step budget",
        "The run took at most this many supersteps.",
        "step_budget({max_steps})",
        {"max_steps": Param("max steps", "the budget in supersteps", example=10, rules={"minimum": 1})},
    ),
    "llm_judge": Builtin(
        "LLM judge",
        "A language model grades the outcome against the rubric (a score from 0 to 1).",
        "{name}",
        {
            "rubric": Param("rubric", "what a good answer is", rules={"min_length": 1}),
            "model": Param(
                "model",
                "the model's name",
                null_means="the server's configured model",
                rules={"type": "string"},
            ),
            "threshold": Param("threshold", "the score that passes", rules={"minimum": 0, "maximum": 1}),
            "name": Param("name", "the name of its scores", rules={"min_length": 1}),
        },
        model_graded=True,
    ),
}


def catalogue() -> list[dict[str, Any]]:
    """Every built-in evaluator, in :data:`BUILTINS` order: ``name``, ``label``, ``description``,
    ``score_name``, ``model_graded`` and its ``parameters`` in signature order, each with ``name``,
    ``label``, ``description``, ``type`` (and ``items`` for an array), ``nullable``, ``required``,
    ``default`` (when not required), ``enum``, ``null_means``, ``example`` and its constraints
    (the keys that apply). Raises ``ValueError`` when a factory and its declaration here differ."""
    return [_entry(name, factory) for name, factory in BUILTINS.items()]


def _entry(name: str, factory: Callable[..., Evaluator]) -> dict[str, Any]:
    doc = BUILTIN_DOCS.get(name)
    if doc is None:
        raise ValueError(f"built-in evaluator {name!r} is not described in evals/catalogue.py")
    signature = inspect.signature(factory)
    hints = typing.get_type_hints(factory)
    if list(signature.parameters) != list(doc.params):
        raise ValueError(
            f"{name}: the catalogue describes {list(doc.params)}, the factory takes {list(signature.parameters)}"
        )
    return {
        "name": name,
        "label": doc.label,
        "description": doc.description,
        "score_name": doc.score_name,
        "model_graded": doc.model_graded,
        "parameters": [
            _parameter(name, p, hints.get(p.name, Any), doc.params[p.name])
            for p in signature.parameters.values()
        ],
    }


def _parameter(builtin: str, p: inspect.Parameter, hint: Any, doc: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "label": doc.label, "description": doc.description}
    typed = _json_type(hint)
    if typed is None:
        if "type" not in doc.rules:
            raise ValueError(f"{builtin}.{p.name}: its annotation names no JSON type; declare one")
        typed = {"type": doc.rules["type"], "nullable": doc.null_means is not None}
    out.update(typed)
    if out["nullable"] != (doc.null_means is not None):
        raise ValueError(f"{builtin}.{p.name}: say what a null means exactly when the parameter may be null")
    required = p.default is inspect.Parameter.empty
    out["required"] = required
    if not required:
        out["default"] = p.default
    if doc.null_means is not None:
        out["null_means"] = doc.null_means
    if doc.example is not None:
        out["example"] = doc.example
    for key, value in doc.rules.items():
        if key == "items":
            out["items"] = {**out["items"], **value}
        elif key != "type":
            out[key] = value
    return out


def _json_type(hint: Any) -> dict[str, Any] | None:
    """The JSON type of an annotation (see the module docstring); None for one that names none."""
    nullable = False
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        nullable = len(args) < len(get_args(hint))
        if len(args) != 1:
            return None
        hint = args[0]
        origin = get_origin(hint)
    out: dict[str, Any]
    if origin is Literal:
        out = {"type": "string", "enum": list(get_args(hint))}
    elif hint is bool:
        out = {"type": "boolean"}
    elif hint is int:
        out = {"type": "integer"}
    elif hint is float:
        out = {"type": "number"}
    elif hint is str:
        out = {"type": "string"}
    elif origin in (list, Sequence) and get_args(hint) == (str,):
        out = {"type": "array", "items": {"type": "string"}}
    else:
        return None
    return {**out, "nullable": nullable}
