"""The built-in evaluators and how any evaluator's result becomes a Score (issue 8)."""

from __future__ import annotations

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
from duragraph_lab.llm.scripted import ScriptedChatModel

ANSWER = {
    "messages": [{"type": "human", "content": "6 * 7?"}, {"type": "ai", "content": "The result is 42."}]
}
EXAMPLE = Example(
    inputs={"messages": [{"role": "user", "content": "what is 6 * 7"}]},
    expected={
        "answer": 42,
        "messages": [{}, {"content": "The result is 42."}],
        "trajectory": ["agent", "tools", "agent"],
        "tool_calls": ["calculator"],
    },
)
OUTCOME = Outcome(
    outputs={**ANSWER, "answer": 42, "meta": {"lang": "en", "n": 2}},
    trajectory=["agent", "tools", "agent"],
    tool_calls=["calculator"],
    latency_ms=120.0,
    steps=3,
)


def score(
    fn: Any, example: Example = EXAMPLE, outcome: Outcome = OUTCOME
) -> tuple[float | None, bool | None]:
    s = evaluate(fn, example, outcome)
    assert s.error is None, s.error
    return s.score, s.passed


def test_exact_match_by_path_and_not_applicable_without_a_reference() -> None:
    assert score(exact_match("answer")) == (1.0, True)
    assert score(exact_match("messages.-1.content")) == (1.0, True)
    assert score(exact_match("answer"), outcome=Outcome(outputs={"answer": 41})) == (0.0, False)
    assert score(exact_match("answer"), outcome=Outcome(outputs={})) == (0.0, False)  # missing ≠ expected
    assert score(exact_match("nothing")) == (None, None)  # no expected value: not applicable


def test_json_field_match_scores_the_fraction_of_equal_fields() -> None:
    example = Example(inputs={}, expected={"meta": {"lang": "en", "n": 3}})
    assert score(json_field_match(["meta.lang", "meta.n"]), example) == (0.5, False)
    assert score(json_field_match(["meta.lang"]), example) == (1.0, True)
    with pytest.raises(EvaluatorError):
        json_field_match([])


def test_contains_regex_and_numbers_read_message_contents() -> None:
    assert score(contains("RESULT IS 42", path="messages.-1")) == (1.0, True)
    assert score(contains("43", path="messages.-1")) == (0.0, False)
    assert score(contains("Result", path="messages.-1", case=True)) == (0.0, False)
    assert score(regex(r"\b42\.$", path="messages.-1.content")) == (1.0, True)
    assert score(regex(r"^\d+$", path="meta")) == (0.0, False)
    with pytest.raises(EvaluatorError, match="regex"):
        regex("(unclosed")
    assert score(numeric_tolerance("messages.-1", expected="answer")) == (1.0, True)
    near = Example(inputs={}, expected={"answer": 42.4})
    assert score(numeric_tolerance("answer", abs_tol=0.5), near) == (1.0, True)
    assert score(numeric_tolerance("answer", abs_tol=0.1), near) == (0.0, False)
    assert score(numeric_tolerance("meta.lang", expected="answer")) == (0.0, False)  # no number


@pytest.mark.parametrize(
    ("expected", "mode", "passed"),
    [
        (["agent", "tools", "agent"], "exact", True),
        (["agent", "tools"], "exact", False),
        (["agent", "tools"], "prefix", True),
        (["agent", "agent"], "subsequence", True),
        (["tools", "tools"], "subsequence", False),
        (["tools", "agent"], "superset", True),
        (["tools", "search"], "superset", False),
    ],
)
def test_trajectory_match_modes(expected: list[str], mode: Any, passed: bool) -> None:
    assert score(trajectory_match(expected, mode=mode))[1] is passed


def test_trajectory_from_the_example_tools_and_budgets() -> None:
    assert score(trajectory_match()) == (1.0, True)
    assert score(trajectory_match(of="tools")) == (1.0, True)
    assert score(trajectory_match(of="tools"), outcome=Outcome(tool_calls=["search"])) == (0.0, False)
    with pytest.raises(EvaluatorError):
        trajectory_match(mode="fuzzy")  # type: ignore[arg-type]
    assert score(latency_budget(200)) == (1.0, True)
    assert score(latency_budget(100)) == (0.0, False)
    assert score(step_budget(2)) == (0.0, False)
    assert score(step_budget(2), outcome=Outcome()) == (None, None)


def test_plain_callables_any_result_shape_and_errors_never_raise() -> None:
    def exact(example: Example, outcome: Outcome) -> bool:
        return bool(outcome.outputs.get("answer") == example.expected["answer"])

    assert evaluate(exact, EXAMPLE, OUTCOME).name == "exact"
    assert score(exact) == (1.0, True)
    assert score(lambda e, o: 0.75) == (0.75, False)  # below the default threshold of 1
    assert score(lambda e, o: {"score": 0.3, "passed": True, "comment": "lenient"}) == (0.3, True)
    assert score(lambda e, o: None) == (None, None)

    def broken(example: Example, outcome: Outcome) -> float:
        raise KeyError("answer")

    failed = evaluate(broken, EXAMPLE, OUTCOME)
    assert (failed.score, failed.passed, failed.error) == (None, None, "KeyError: 'answer'")
    odd = evaluate(lambda e, o: "great", EXAMPLE, OUTCOME)
    assert odd.error is not None and "str" in odd.error
    assert evaluate(lambda e, o: float("nan"), EXAMPLE, OUTCOME).error is not None


def test_llm_judge_with_the_scripted_model() -> None:
    model = ScriptedChatModel(
        ["SCORE: 0.8 - correct and concise", "FAIL: wrong number", "looks fine"], token_delay=0
    )
    judge = llm_judge("Is the arithmetic right?", model=model)
    first = evaluate(judge, EXAMPLE, OUTCOME)
    assert (first.score, first.passed, first.name) == (0.8, True, "llm_judge")
    assert "correct and concise" in first.comment
    assert score(judge) == (0.0, False)
    no_verdict = evaluate(judge, EXAMPLE, OUTCOME)
    assert no_verdict.error is not None and "no SCORE" in no_verdict.error
    with pytest.raises(EvaluatorError):
        llm_judge("  ")


def test_trajectory_match_falls_back_to_the_source_runs_path() -> None:
    check = trajectory_match()
    outcome = Outcome(trajectory=["agent", "tools", "agent"], tool_calls=["calculator"])
    assert evaluate(check, Example(inputs={}), outcome).score is None  # no reference: not applicable
    same = Example(inputs={}, trajectory=["agent", "tools", "agent"])
    assert evaluate(check, same, outcome).passed is True
    shorter = Example(inputs={}, trajectory=["agent"])
    assert evaluate(check, shorter, outcome).passed is False
    # An explicit expected["trajectory"] wins over the source run's path.
    explicit = Example(inputs={}, expected={"trajectory": ["agent", "tools", "agent"]}, trajectory=["agent"])
    assert evaluate(check, explicit, outcome).passed is True
    tools = trajectory_match(of="tools")
    assert evaluate(tools, Example(inputs={}, tool_calls=["calculator"]), outcome).passed is True


def test_run_diff_ignores_the_ids_every_run_makes() -> None:
    from duragraph_lab.evals.diff import first_divergence, state_diff

    def update(call_id: str, message_id: str) -> dict[str, Any]:
        call = {"id": call_id, "name": "calculator", "args": {"expression": "6 * 7"}}
        return {"messages": [{"id": message_id, "type": "ai", "content": "", "tool_calls": [call]}]}

    a = [{"step": 0, "node": "agent", "update": update("call_1", "m1")}]
    b = [{"step": 0, "node": "agent", "update": update("call_2", "m2")}]
    assert first_divergence(a, b) is None
    assert state_diff(a[0]["update"], b[0]["update"]) == []
    c = [{"step": 0, "node": "agent", "update": update("call_3", "m3")}]
    c[0]["update"]["messages"][0]["tool_calls"][0]["args"] = {"expression": "6 * 8"}
    divergence = first_divergence(a, c)
    assert divergence is not None and divergence["reason"] == "update"
