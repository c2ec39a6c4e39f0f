"""Evaluators as data: specs of the built-ins and of user functions, and their rebuilding (issue 8)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from duragraph_lab.evals import (
    EvaluatorError,
    Example,
    Outcome,
    contains,
    evaluate,
    exact_match,
    json_field_match,
    latency_budget,
    llm_judge,
    numeric_tolerance,
    regex,
    step_budget,
    trajectory_match,
)
from duragraph_lab.evals.specs import (
    BUILTINS,
    evaluator_from_spec,
    evaluator_spec,
    require_rebuildable,
    unrecorded_model,
)
from duragraph_lab.llm.openai_compat import OpenAIChatModel
from duragraph_lab.llm.scripted import ScriptedChatModel

EXAMPLE = Example(
    inputs={"messages": [{"role": "user", "content": "what is 6 * 7"}]},
    expected={"answer": 42, "trajectory": ["agent", "tools", "agent"], "tool_calls": ["calculator"]},
)
RIGHT = Outcome(
    outputs={"answer": 42, "messages": [{"type": "ai", "content": "The result is 42."}], "meta": {"n": 2}},
    trajectory=["agent", "tools", "agent"],
    tool_calls=["calculator"],
    latency_ms=120.0,
    steps=3,
)
WRONG = Outcome(
    outputs={"answer": 41.5, "messages": [{"type": "ai", "content": "Paris"}], "meta": {"n": 3}},
    trajectory=["agent"],
    latency_ms=900.0,
    steps=9,
)

BUILT: list[Any] = [
    exact_match("answer"),
    exact_match("messages.-1.content", expected="answer"),
    json_field_match(["answer", "meta.n"]),
    contains("result is", path="messages.-1.content"),
    contains("RESULT", path="messages.-1.content", case=True),
    regex(r"\b4\d\b", path="messages.-1.content"),
    numeric_tolerance("answer", abs_tol=0.6),
    trajectory_match(["agent", "tools"], mode="prefix"),
    trajectory_match(of="tools"),
    latency_budget(500),
    step_budget(4),
]


def scores(fn: Any) -> list[tuple[Any, ...]]:
    return [
        (s.name, s.score, s.passed, s.comment, s.error)
        for s in (evaluate(fn, EXAMPLE, RIGHT), evaluate(fn, EXAMPLE, WRONG))
    ]


def test_every_builtin_factory_is_covered() -> None:
    covered = {evaluator_spec(fn)["builtin"] for fn in BUILT} | {"llm_judge"}
    assert covered == set(BUILTINS)


@pytest.mark.parametrize("fn", BUILT, ids=lambda fn: fn.evaluator_name)
def test_a_builtin_round_trips_through_json_with_the_same_scores(fn: Any) -> None:
    spec = evaluator_spec(fn)
    assert spec["source"] is None and spec["builtin"] in BUILTINS
    assert spec["name"] == fn.evaluator_name
    stored = json.loads(json.dumps(spec))  # what the server keeps
    rebuilt = evaluator_from_spec(stored)
    assert scores(rebuilt) == scores(fn)
    assert evaluator_spec(rebuilt) == spec


def test_the_round_trip_distinguishes_arguments() -> None:
    strict = evaluator_from_spec(evaluator_spec(numeric_tolerance("answer")))
    loose = evaluator_from_spec(evaluator_spec(numeric_tolerance("answer", abs_tol=0.6)))
    assert evaluate(strict, EXAMPLE, WRONG).passed is False
    assert evaluate(loose, EXAMPLE, WRONG).passed is True
    assert evaluator_spec(exact_match("answer"))["kwargs"] == {"path": "answer", "expected": None}


def test_llm_judge_round_trip_with_the_configured_model(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DURAGRAPH_LLM_BASE_URL", "DURAGRAPH_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DURAGRAPH_LLM_TOKEN_DELAY", "0")
    judge = llm_judge("the answer is 42", threshold=0.7, name="judge")
    spec = evaluator_spec(judge)
    assert spec == {
        "name": "judge",
        "builtin": "llm_judge",
        "kwargs": {"rubric": "the answer is 42", "threshold": 0.7, "name": "judge", "model": None},
        "source": None,
    }
    rebuilt = evaluator_from_spec(json.loads(json.dumps(spec)))
    assert rebuilt.threshold == 0.7  # type: ignore[attr-defined]
    # Offline, both use the scripted model, which echoes the prompt: no verdict, the same error.
    assert scores(rebuilt) == scores(judge)


def test_llm_judge_with_a_model_object_records_what_is_data_and_says_so() -> None:
    scripted = llm_judge("rubric", model=ScriptedChatModel(["SCORE: 1"]))
    spec = evaluator_spec(scripted)
    json.dumps(spec)  # serialisable although the model object is not
    assert set(spec) == {"name", "builtin", "kwargs", "source"}  # what the server accepts
    assert spec["kwargs"]["model"] == {"unrecorded": "ScriptedChatModel"}
    assert unrecorded_model(spec) == "ScriptedChatModel"
    rebuilt = evaluator_from_spec(json.loads(json.dumps(spec)))  # with the configured model
    assert rebuilt.evaluator_name == "llm_judge"  # type: ignore[attr-defined]

    remote = llm_judge(
        "rubric", model=OpenAIChatModel("gpt-4o", base_url="http://127.0.0.1:9", api_key="sk-secret-123")
    )
    spec = evaluator_spec(remote)
    assert spec["kwargs"]["model"] == "gpt-4o" and unrecorded_model(spec) is None
    assert "sk-secret" not in json.dumps(spec)  # never the key


def answer_is_even(example: Example, outcome: Outcome) -> bool:
    """A user's evaluator: module-level, uses a helper of duragraph_lab.evals."""
    from duragraph_lab.evals.evaluators import lookup

    return bool(lookup(outcome.outputs, "answer") % 2 == 0)


def test_a_user_function_is_stored_as_its_source_and_rebuilt() -> None:
    def close_to_expected(example: Example, outcome: Outcome) -> dict[str, Any]:
        got, want = outcome.outputs["answer"], example.expected["answer"]
        return {"score": max(0.0, 1 - abs(got - want)), "comment": f"{got} vs {want}"}

    close_to_expected.threshold = 0.4  # type: ignore[attr-defined]
    spec = evaluator_spec(close_to_expected)
    assert spec["name"] == "close_to_expected" and spec["builtin"] is None
    assert spec["source"].startswith("def close_to_expected(example: Example, outcome: Outcome)")
    assert spec["kwargs"] == {"threshold": 0.4}
    rebuilt = evaluator_from_spec(json.loads(json.dumps(spec)))
    assert rebuilt is not close_to_expected
    assert scores(rebuilt) == scores(close_to_expected)
    assert evaluate(rebuilt, EXAMPLE, WRONG).passed is True  # 0.5 ≥ the recorded threshold 0.4
    assert evaluator_spec(rebuilt) == spec  # a rebuilt function keeps its spec

    even = evaluator_from_spec(evaluator_spec(answer_is_even))
    assert [s.passed for s in (evaluate(even, EXAMPLE, RIGHT), evaluate(even, EXAMPLE, WRONG))] == [
        True,
        False,
    ]


def test_annotations_of_a_source_are_not_evaluated() -> None:
    source = "def typed(example: Example, outcome: Outcome) -> Verdict:\n    return True\n"
    assert evaluator_from_spec({"name": "typed", "source": source})(EXAMPLE, RIGHT) is True


def test_source_sees_the_evals_namespace() -> None:
    source = "def at_least_half(example, outcome):\n    return evaluate(exact_match('answer'), example, outcome).passed\n"
    fn = evaluator_from_spec({"name": "at_least_half", "source": source})
    assert fn(EXAMPLE, RIGHT) is True and fn(EXAMPLE, WRONG) is False


def test_lambdas_and_callable_objects_have_no_source() -> None:
    class Checker:
        def __call__(self, example: Example, outcome: Outcome) -> bool:
            return True

    for fn in (lambda example, outcome: True, Checker()):
        spec = evaluator_spec(fn)
        assert spec["builtin"] is None and spec["source"] is None
        with pytest.raises(EvaluatorError, match="neither a built-in nor source"):
            evaluator_from_spec(spec)
        with pytest.raises(EvaluatorError, match="no source that can be stored"):
            require_rebuildable(fn)
    with pytest.raises(EvaluatorError, match="a lambda"):
        require_rebuildable(lambda example, outcome: True)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "x", "builtin": "fuzzy_match"}, "unknown built-in evaluator 'fuzzy_match'"),
        ({"builtin": "exact_match", "kwargs": {"paht": "a"}}, r"exact_match: bad kwargs \['paht'\]"),
        ({"builtin": "step_budget", "kwargs": {}}, "step_budget: bad kwargs"),
        ({"builtin": "regex", "kwargs": {"pattern": "("}}, r"regex\('\('\)"),
        ({"builtin": "trajectory_match", "kwargs": {"mode": "fuzzy"}}, "unknown mode 'fuzzy'"),
        ({"builtin": "json_field_match", "kwargs": {"fields": []}}, "at least one field"),
        ({"name": "f", "source": "def g(example, outcome):\n    return True\n"}, "named 'f'"),
        ({"name": "f", "source": "f = 3\n"}, "named 'f'"),
        ({"name": "f", "source": "def f(:\n"}, "its source fails: SyntaxError"),
        ({"name": "f", "source": "raise RuntimeError('boom')\n"}, "RuntimeError: boom"),
        ({"name": "f", "source": "def f(e, o): ...", "kwargs": {"x": 1}}, r"unknown kwargs .*\['x'\]"),
        ({"name": "f", "builtin": "contains", "source": "def f(e, o): ..."}, "not both"),
        ({"name": "f", "builtin": 3}, "builtin must be a string"),
        ({"name": "f", "builtin": "contains", "kwargs": []}, "kwargs must be an object"),
        ({"name": "f", "builtin": "contains", "extra": 1}, r"unknown keys \['extra'\]"),
        ({"kwargs": {}}, "needs a name"),
        ({"name": "f"}, "neither a built-in nor source"),
    ],
)
def test_bad_specs_are_clear_evaluator_errors(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(EvaluatorError, match=message):
        evaluator_from_spec(spec)


def test_a_spec_given_as_data_is_normalised() -> None:
    assert evaluator_spec({"builtin": "step_budget", "kwargs": {"max_steps": 3}}) == {
        "name": "step_budget",
        "builtin": "step_budget",
        "kwargs": {"max_steps": 3},
        "source": None,
    }
    with pytest.raises(EvaluatorError, match="not JSON data"):
        evaluator_spec({"builtin": "contains", "kwargs": {"text": object()}})
