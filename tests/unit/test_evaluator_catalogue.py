"""The built-in evaluators' catalogue (evals/catalogue.py, served by GET /evaluators): it follows
the factories' signatures, its score-name templates give the names the factories give, its
defaults and examples meet its own constraints, and the dashboard's unit tests use it as served."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.evals import catalogue as cat
from duragraph_lab.evals.evaluators import EvaluatorError, evaluator_name
from duragraph_lab.evals.specs import BUILTINS

FIXTURE = Path(__file__).resolve().parents[2] / "extension" / "test" / "fixtures" / "evaluators.json"
PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")  # what "format": "path" means (experiment_form.ts)


def entries() -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in cat.catalogue()}


def render(template: str, kwargs: dict[str, Any]) -> str:
    """The score-name template language of the module docstring (the dashboard implements it in
    TypeScript: scoreName in experiment_form.ts)."""

    def one(match: re.Match[str]) -> str:
        names, fmt = match.group(1), match.group(2)
        value = next((kwargs.get(n) for n in names.split("|") if kwargs.get(n) is not None), None)
        if value is None:
            return ""
        if fmt == "g":
            return format(value, "g")
        return ", ".join(value) if isinstance(value, list) else str(value)

    return re.sub(r"\{([a-z_|]+)(?::(g))?\}", one, template)


def test_every_builtin_is_described_with_its_signature() -> None:
    described = entries()
    assert list(described) == list(BUILTINS)
    for name, factory in BUILTINS.items():
        signature = inspect.signature(factory)
        params = described[name]["parameters"]
        assert [p["name"] for p in params] == list(signature.parameters), name
        for p in params:
            default = signature.parameters[p["name"]].default
            assert p["required"] == (default is inspect.Parameter.empty), (name, p)
            assert p.get("default") == (None if p["required"] else default), (name, p)
            assert p["nullable"] == ("null_means" in p), (name, p)
    contains = {p["name"]: p for p in described["contains"]["parameters"]}
    assert contains["text"]["type"] == "string" and contains["text"]["nullable"]
    assert (contains["case"]["type"], contains["case"]["default"], contains["case"]["required"]) == (
        "boolean",
        False,
        False,
    )
    mode = {p["name"]: p for p in described["trajectory_match"]["parameters"]}["mode"]
    assert mode["enum"] == ["exact", "subsequence", "superset", "prefix"] and mode["default"] == "exact"
    assert {p["name"]: p for p in described["trajectory_match"]["parameters"]}["expected"]["items"] == {
        "type": "string",
        "min_length": 1,
    }
    assert described["step_budget"]["parameters"][0]["type"] == "integer"
    assert [e["name"] for e in described.values() if e["model_graded"]] == ["llm_judge"]


def test_a_factory_and_its_description_must_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = dict(cat.BUILTIN_DOCS)
    step = docs["step_budget"]
    monkeypatch.setattr(cat, "BUILTIN_DOCS", {**docs, "step_budget": cat.Builtin(step.label, "", "", {})})
    with pytest.raises(ValueError, match=r"step_budget: the catalogue describes \[\], the factory takes"):
        cat.catalogue()
    monkeypatch.setattr(cat, "BUILTIN_DOCS", {k: v for k, v in docs.items() if k != "regex"})
    with pytest.raises(ValueError, match="'regex' is not described"):
        cat.catalogue()
    nullable = cat.Param("max steps", "", null_means="none")
    monkeypatch.setattr(
        cat, "BUILTIN_DOCS", {**docs, "step_budget": cat.Builtin("s", "", "", {"max_steps": nullable})}
    )
    with pytest.raises(ValueError, match="what a null means"):
        cat.catalogue()


#: kwargs for each built-in, as a form would send them: the names the factories give their scores
#: must be what the templates say.
SAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("contains", {"text": "5", "path": "messages.-1.content", "case": True}),
    ("contains", {"text": None, "path": "answer"}),
    ("contains", {"text": None, "path": None}),
    ("exact_match", {"path": "answer", "expected": None}),
    ("exact_match", {"path": None}),
    ("json_field_match", {"fields": ["a", "b.c"]}),
    ("regex", {"pattern": r"\d+", "path": None}),
    ("numeric_tolerance", {"path": "answer", "abs_tol": 0.5}),
    ("trajectory_match", {"expected": ["agent", "tools"], "of": "tools", "mode": "prefix"}),
    ("trajectory_match", {}),
    ("latency_budget", {"max_ms": 2500}),
    ("latency_budget", {"max_ms": 1e6}),
    ("latency_budget", {"max_ms": 1500.5}),
    ("step_budget", {"max_steps": 10}),
    ("llm_judge", {"rubric": "polite", "name": "politeness"}),
]


@pytest.mark.parametrize(("builtin", "kwargs"), SAMPLES, ids=[f"{b}-{i}" for i, (b, _) in enumerate(SAMPLES)])
def test_score_name_templates_name_scores_as_the_factories_do(builtin: str, kwargs: dict[str, Any]) -> None:
    entry = entries()[builtin]
    defaults = {p["name"]: p.get("default") for p in entry["parameters"] if not p["required"]}
    assert render(entry["score_name"], {**defaults, **kwargs}) == evaluator_name(BUILTINS[builtin](**kwargs))


def meets(param: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` meets the parameter's declared type and constraints."""
    if value is None:
        return bool(param["nullable"])
    kind = param["type"]
    if kind == "array":
        items = {"nullable": False, **param["items"]}
        return (
            isinstance(value, list)
            and len(value) >= param.get("min_items", 0)
            and all(meets(items, v) for v in value)
        )
    ok = {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
    }[kind]
    if isinstance(value, str):
        ok = ok and len(value) >= param.get("min_length", 0) and value in param.get("enum", [value])
        ok = ok and (param.get("format") != "path" or bool(PATH.match(value)))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        ok = (
            ok
            and value >= param.get("minimum", -float("inf"))
            and value <= param.get("maximum", float("inf"))
        )
        ok = ok and value > param.get("exclusive_minimum", -float("inf"))
    return ok


def test_defaults_and_examples_meet_the_constraints_and_build_evaluators() -> None:
    for name, entry in entries().items():
        kwargs: dict[str, Any] = {}
        for p in entry["parameters"]:
            for key in ("default", "example"):
                if key in p:
                    assert meets(p, p[key]), (name, p["name"], key, p[key])
            if "example" in p:
                kwargs[p["name"]] = p["example"]
            elif p["required"]:
                kwargs[p["name"]] = "x" if p["type"] == "string" else 1
        BUILTINS[name](**kwargs)  # a form's first values build the evaluator


def test_what_the_factories_refuse_the_constraints_refuse_too() -> None:
    described = {e["name"]: {p["name"]: p for p in e["parameters"]} for e in cat.catalogue()}
    refused = [
        ("regex", "pattern", "([a-z"),  # format regex: the form compiles it
        ("trajectory_match", "mode", "sideways"),
        ("trajectory_match", "of", "edges"),
        ("json_field_match", "fields", []),
        ("llm_judge", "rubric", ""),
    ]
    for builtin, param, value in refused:
        with pytest.raises(EvaluatorError):
            BUILTINS[builtin](**{param: value})
        spec = described[builtin][param]
        if spec.get("format") == "regex":
            assert not _compiles(value)
        else:
            assert not meets(spec, value), (builtin, param, value)


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def test_the_dashboard_unit_tests_use_the_catalogue_as_served() -> None:
    """extension/test/fixtures/evaluators.json is what GET /evaluators answers; after a change
    here: .venv/bin/python -c "import json; from duragraph_lab.evals.catalogue import catalogue;
    print(json.dumps(catalogue(), indent=2))" > extension/test/fixtures/evaluators.json"""
    assert json.loads(FIXTURE.read_text(encoding="utf-8")) == json.loads(json.dumps(cat.catalogue()))
