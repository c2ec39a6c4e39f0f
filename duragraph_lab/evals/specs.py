"""Evaluators as data: a spec that can be stored with an experiment and rebuilt elsewhere.

A spec is a JSON-safe dict ``{"name", "builtin", "kwargs", "source"}``:

* a built-in (``exact_match("answer")``): ``builtin`` is the factory's name and ``kwargs`` the
  arguments it was made with; it is rebuilt by calling the factory again;
* a user's plain function: ``source`` is its (dedented) source and ``name`` the function's name;
  it is rebuilt by executing the source in a fresh namespace where everything of
  :mod:`duragraph_lab.evals` is imported, and taking the function of that name. Globals that the
  function uses but does not import itself are not captured;
* a lambda or a callable object has no retrievable source: its spec has neither ``builtin`` nor
  ``source`` and cannot be rebuilt (:func:`evaluator_from_spec` says so).

``llm_judge``'s model is a client object, not data: an :class:`OpenAIChatModel` is recorded as its
model name (``"model": "gpt-4o"``; the endpoint and the key come from the configuration when it is
rebuilt); any other model is not recorded, and the kwargs say so (``"model": {"unrecorded":
"ScriptedChatModel"}``): the rebuilt judge uses the configured model (``get_chat_model()``).
"""

from __future__ import annotations
import __future__

import copy
import inspect
import json
import textwrap
from collections.abc import Callable, Mapping
from typing import Any

from duragraph_lab.evals import evaluators as builtins_module
from duragraph_lab.evals.evaluators import Evaluator, EvaluatorError, evaluator_name

# The factories a spec may name, by name.
BUILTINS: dict[str, Callable[..., Evaluator]] = {
    "exact_match": builtins_module.exact_match,
    "json_field_match": builtins_module.json_field_match,
    "contains": builtins_module.contains,
    "regex": builtins_module.regex,
    "numeric_tolerance": builtins_module.numeric_tolerance,
    "trajectory_match": builtins_module.trajectory_match,
    "latency_budget": builtins_module.latency_budget,
    "step_budget": builtins_module.step_budget,
    "llm_judge": builtins_module.llm_judge,
}
SPEC_KEYS = ("name", "builtin", "kwargs", "source")
_LAZY_ANNOTATIONS = __future__.annotations.compiler_flag


def evaluator_spec(fn: Evaluator | Mapping[str, Any]) -> dict[str, Any]:
    """The spec of an evaluator (see the module docstring); a spec given instead is checked and
    returned as a normalised copy. Never raises for a callable: one without source gets
    ``source`` None (see :func:`require_rebuildable`)."""
    if isinstance(fn, Mapping):
        return _checked(fn)
    attached = getattr(fn, "__duragraph_spec__", None)
    if isinstance(attached, Mapping):
        spec = {key: attached.get(key) for key in SPEC_KEYS}
        spec["kwargs"] = dict(spec["kwargs"]) if spec["kwargs"] is not None else None
        if spec["builtin"] == "llm_judge":
            _describe_judge_model(spec)  # before copying: a model client need not be copyable
        return copy.deepcopy(spec)
    name = evaluator_name(fn)
    source = _source_of(fn)
    kwargs: dict[str, Any] = {}
    if source is not None:
        name = fn.__name__  # _source_of: a named function
        label = getattr(fn, "evaluator_name", None)
        if isinstance(label, str) and label != name:
            kwargs["evaluator_name"] = label
        threshold = getattr(fn, "threshold", None)
        if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
            kwargs["threshold"] = float(threshold)
    return {"name": name, "builtin": None, "kwargs": kwargs or None, "source": source}


def require_rebuildable(fn: Evaluator | Mapping[str, Any]) -> dict[str, Any]:
    """:func:`evaluator_spec`, raising :class:`EvaluatorError` when the evaluator cannot be
    rebuilt from it (a lambda, a callable object, a function whose source is not available)."""
    spec = evaluator_spec(fn)
    if spec["builtin"] is None and spec["source"] is None:
        what = "a lambda" if spec["name"] == "<lambda>" else f"{spec['name']!r}"
        raise EvaluatorError(
            f"evaluator {what} has no source that can be stored: define it with `def` in a notebook "
            "cell or a module (or use a built-in such as exact_match)"
        )
    return spec


def evaluator_from_spec(spec: Mapping[str, Any]) -> Evaluator:
    """Rebuild an evaluator from its spec: a built-in by name and kwargs, a user's function from
    its source. Raises :class:`EvaluatorError` for an unknown built-in, kwargs the built-in does
    not take, source that does not compile or does not define the function, or a spec with
    neither."""
    spec = _checked(spec)
    kwargs = dict(spec["kwargs"] or {})
    if spec["builtin"] is not None:
        return _rebuild_builtin(spec["builtin"], kwargs)
    if spec["source"] is not None:
        return _rebuild_source(spec["name"], spec["source"], kwargs)
    raise EvaluatorError(
        f"evaluator {spec['name']!r} has neither a built-in nor source: a lambda or a callable object "
        "cannot be rebuilt"
    )


# -- built-ins ------------------------------------------------------------------------------------


def _describe_judge_model(spec: dict[str, Any]) -> None:
    kwargs = spec["kwargs"] = dict(spec["kwargs"] or {})
    model = kwargs.get("model")
    if model is None or isinstance(model, (str, Mapping)):
        return
    from duragraph_lab.llm.openai_compat import OpenAIChatModel

    if isinstance(model, OpenAIChatModel):
        kwargs["model"] = model.model  # never its key; the endpoint comes from the configuration
    else:
        kwargs["model"] = {"unrecorded": type(model).__name__}


def unrecorded_model(spec: Mapping[str, Any]) -> str | None:
    """The class of an ``llm_judge``'s model that its spec could not record (None otherwise)."""
    model = (spec.get("kwargs") or {}).get("model") if spec.get("builtin") == "llm_judge" else None
    return str(model.get("unrecorded")) if isinstance(model, Mapping) else None


def _rebuild_builtin(builtin: str, kwargs: dict[str, Any]) -> Evaluator:
    factory = BUILTINS.get(builtin)
    if factory is None:
        raise EvaluatorError(f"unknown built-in evaluator {builtin!r} (one of: {', '.join(BUILTINS)})")
    if builtin == "llm_judge" and isinstance(kwargs.get("model"), Mapping):
        kwargs["model"] = None  # not recorded: the configured model
    if builtin == "llm_judge" and isinstance(kwargs.get("model"), str):
        from duragraph_lab.llm.openai_compat import OpenAIChatModel

        kwargs["model"] = OpenAIChatModel(kwargs["model"])
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as err:
        raise EvaluatorError(f"{builtin}: bad kwargs {sorted(kwargs)}: {err}") from None
    try:
        return factory(**kwargs)
    except EvaluatorError:
        raise
    except (TypeError, ValueError) as err:
        raise EvaluatorError(f"{builtin}: bad kwargs: {type(err).__name__}: {err}") from None


# -- user functions -------------------------------------------------------------------------------


def _source_of(fn: Any) -> str | None:
    if not inspect.isfunction(fn) or fn.__name__ == "<lambda>":
        return None
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):  # defined in a REPL line, or source file gone
        return None
    # getsource of a function defined on one line with others (``f = g = ...``) is no `def`.
    first_def = source.lstrip().startswith(("def ", "async def ", "@"))
    return source if first_def and f"def {fn.__name__}" in source else None


def _rebuild_source(name: str, source: str, kwargs: dict[str, Any]) -> Evaluator:
    if not name.isidentifier():
        raise EvaluatorError(f"evaluator source needs a function name, not {name!r}")
    unknown = sorted(set(kwargs) - {"threshold", "evaluator_name"})
    if unknown:
        raise EvaluatorError(f"evaluator {name!r}: unknown kwargs for a function from source: {unknown}")
    namespace: dict[str, Any] = {"__name__": f"duragraph_evaluator_{name}"}
    exec("from duragraph_lab.evals import *", namespace)  # the documented namespace
    try:
        # Annotations stay unevaluated, as in the module it came from if that used the
        # __future__ import: `-> dict[str, Any]` must not need `Any` here.
        code = compile(source, f"<evaluator {name}>", "exec", flags=_LAZY_ANNOTATIONS, dont_inherit=True)
        exec(code, namespace)  # the user's own evaluator, by design
    except Exception as err:
        raise EvaluatorError(f"evaluator {name!r}: its source fails: {type(err).__name__}: {err}") from None
    if not inspect.isfunction(namespace.get(name)):
        raise EvaluatorError(f"evaluator source does not define a function named {name!r}")
    fn: Any = namespace[name]
    if "threshold" in kwargs:
        fn.threshold = float(kwargs["threshold"])
    if "evaluator_name" in kwargs:
        fn.evaluator_name = str(kwargs["evaluator_name"])
    fn.__duragraph_spec__ = {"name": name, "builtin": None, "kwargs": kwargs or None, "source": source}
    return fn  # type: ignore[no-any-return]


# -- checking a spec given as data ----------------------------------------------------------------


def _checked(spec: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(spec, Mapping):
        raise EvaluatorError(f"an evaluator spec is a dict, not {type(spec).__name__}")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise EvaluatorError(f"evaluator spec: unknown keys {unknown} (allowed: {', '.join(SPEC_KEYS)})")
    builtin, source, kwargs = spec.get("builtin"), spec.get("source"), spec.get("kwargs")
    name = spec.get("name") or builtin
    if not isinstance(name, str) or not name:
        raise EvaluatorError("evaluator spec: needs a name (or a builtin)")
    if builtin is not None and not isinstance(builtin, str):
        raise EvaluatorError(f"evaluator spec {name!r}: builtin must be a string")
    if source is not None and not isinstance(source, str):
        raise EvaluatorError(f"evaluator spec {name!r}: source must be a string")
    if builtin is not None and source is not None:
        raise EvaluatorError(f"evaluator spec {name!r}: either builtin or source, not both")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise EvaluatorError(f"evaluator spec {name!r}: kwargs must be an object")
    checked = {
        "name": name,
        "builtin": builtin,
        "kwargs": copy.deepcopy(dict(kwargs)) if kwargs is not None else None,
        "source": source,
    }
    if builtin is not None:
        _check_json_safe(name, checked["kwargs"])
    return checked


def _check_json_safe(name: str, kwargs: Any) -> None:
    try:
        json.dumps(kwargs, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise EvaluatorError(f"evaluator spec {name!r}: kwargs are not JSON data: {err}") from None
