"""The dashboard's evaluation pages in Debian's chromium, driven by Playwright, against a real
`duragraph-lab serve` with the demo assistants: runs saved as a dataset from the Runs page (a name
clash and an empty selection are said inline, a clash can become a new version), the Datasets
page (versions, examples, experiments), two experiments compared (the regressed example, the node
where its runs diverge, the state diff, links to both runs) and an experiment exported as a
notebook; light and dark, with no console error. Screenshots go to test-artifacts/dashboard-evals/."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver import ApiServer
from tests.e2e.test_dashboard_page import CHROMIUM, Page, api, finished_chat_run
from tests.e2e.test_dashboard_page import browser as browser  # the same chromium fixture, for this module

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard-evals"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")

# The demo chat agent calls its calculator for arithmetic (agent -> tools -> agent) and answers
# anything else at once (agent): the two paths of the experiments below.
TOOL_QUESTION = "what is 2 + 3"


class EvalPage(Page):
    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def ui(browser: Any, api_server: ApiServer) -> Iterator[EvalPage]:
    page = EvalPage(browser, api_server)
    yield page
    page.close()


@pytest.fixture
def ui_refused(browser: Any, api_server: ApiServer) -> Iterator[EvalPage]:
    """For the name clash (409) and the empty selection (422), HTTP errors on purpose (the browser
    logs them as failed loads); any other console error still fails the test."""
    page = EvalPage(browser, api_server)
    yield page
    page.close(http_errors_allowed=True)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_runs_saved_as_a_dataset_from_the_runs_page(ui_refused: EvalPage) -> None:
    from playwright.sync_api import expect

    ui = ui_refused

    _, first = finished_chat_run(ui.server, "dataset example one")
    _, second = finished_chat_run(ui.server, TOOL_QUESTION)
    name = unique("support")
    page = ui.open("#/runs")
    for run_id in (first, second):
        row = page.locator(f"tr[data-run-id='{run_id}']")
        expect(row).to_be_visible(timeout=15000)
        row.locator(f"[data-tick='{run_id}']").check()
        expect(row).to_have_attribute("data-ticked", "")
    page.click("[data-action=save-dataset]")
    form = page.locator("[data-dg-save-dataset]")
    expect(form).to_be_visible()
    expect(form.locator("[data-dg-save-source]")).to_contain_text("the 2 ticked runs")
    # A name the server would refuse is caught in the page.
    form.locator("[data-dg-dataset-name]").fill("-bad/name")
    form.locator("[data-action=save-dataset-submit]").click()
    message = form.locator("[data-dg-save-message]")
    expect(message).to_contain_text("starts with a letter or digit")
    form.locator("[data-dg-dataset-name]").fill(name)
    form.locator("[data-dg-dataset-description]").fill("two chats from the Runs page")
    form.locator("[data-action=save-dataset-submit]").click()
    expect(message).to_contain_text(f"saved {name} version 1: 2 examples", timeout=15000)
    expect(message).to_have_attribute("data-dg-message", "info")
    saved = api(ui.server, "GET", f"/datasets/{name}")
    assert (saved["version"], saved["example_count"], saved["description"]) == (
        1,
        2,
        "two chats from the Runs page",
    )
    examples = api(ui.server, "GET", f"/datasets/{name}/examples")["examples"]
    assert [e["source"]["run_id"] for e in examples] == [first, second]  # oldest first
    ui.shot("runs-saved")

    # The same name again: the clash is said inline and can become a new version.
    form.locator("[data-action=save-dataset-submit]").click()
    expect(message).to_contain_text(f'a dataset named "{name}" already exists', timeout=15000)
    expect(message).to_have_attribute("data-dg-clash", "")
    expect(message).to_have_attribute("role", "alert")
    ui.shot("runs-name-clash")
    form.locator("[data-action=save-dataset-version]").click()
    expect(message).to_contain_text(f"saved {name} version 2: 2 examples", timeout=15000)
    assert api(ui.server, "GET", f"/datasets/{name}")["version"] == 2

    # Nothing ticked, filters that select nothing: the server's empty selection, inline.
    for run_id in (first, second):
        page.locator(f"[data-tick='{run_id}']").uncheck()
    page.select_option("[data-filter=status]", "timeout")
    approval = api(ui.server, "GET", "/assistants/approval")["assistant_id"]
    page.select_option("[data-filter=assistant]", approval)
    expect(form.locator("[data-dg-save-source]")).to_contain_text(
        "every run with status timeout and assistant approval"
    )
    form.locator("[data-dg-dataset-name]").fill(unique("empty"))
    form.locator("[data-action=save-dataset-submit]").click()
    expect(message).to_contain_text("nothing to save", timeout=15000)
    expect(message).not_to_have_attribute("data-dg-clash", "")

    # Back to the saved one: its link opens the dataset (version 2, its two examples).
    form.locator("[data-dg-dataset-name]").fill(name)
    form.locator("[data-action=save-dataset-submit]").click()
    expect(message).to_contain_text("already exists", timeout=15000)
    page.select_option("[data-filter=status]", "")
    page.select_option("[data-filter=assistant]", "")
    for run_id in (first, second):
        page.locator(f"[data-tick='{run_id}']").check()
    form.locator("[data-action=save-dataset-version]").click()
    expect(message).to_contain_text(f"saved {name} version 3", timeout=15000)
    form.locator(f"[data-open-dataset='{name}']").click()
    dataset_page = page.locator(f"[data-dg-page='datasets'][data-dg-dataset='{name}']")
    expect(dataset_page).to_be_visible()
    assert page.evaluate("location.hash") == f"#/datasets/{name}"
    expect(page.locator("[data-dg-version]")).to_have_value("3")
    expect(page.locator("[data-dg-version] option")).to_have_count(3)
    rows = page.locator("[data-dg-examples] tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("dataset example one")
    expect(rows.nth(1).locator(f"[data-open-run='{second}']")).to_be_visible()
    expect(rows.nth(1)).to_contain_text("agent → tools → agent")
    expect(page.locator("[data-dg-no-experiments]")).to_be_visible()
    ui.shot("dataset")
    # An older version from the picker (a route of its own).
    page.select_option("[data-dg-version]", "1")
    page.wait_for_function("location.hash.includes('version=1')")
    expect(page.locator("[data-dg-version]")).to_have_value("1")
    expect(page.locator("[data-dg-examples] tbody tr")).to_have_count(2)

    # The list: the dataset with its versions and examples; the name search finds it.
    page.locator("[data-action=all-datasets]").click()
    listed = page.locator(f"[data-dg-datasets] tr[data-dataset-name='{name}']")
    expect(listed).to_be_visible()
    expect(listed).to_contain_text("v3")
    expect(listed.locator("[data-dg-example-count]")).to_have_text("2")
    page.fill("[data-dg-search]", name)
    expect(page.locator("[data-dg-datasets] tbody tr")).to_have_count(1)
    page.fill("[data-dg-search]", unique("nothing-like-it"))
    expect(page.locator("[data-dg-no-datasets]")).to_be_visible()
    page.fill("[data-dg-search]", "")
    expect(listed).to_be_visible()
    ui.shot("datasets")

    # The run link of an example opens its Run view.
    page.goto(f"{ui.root}/duragraph/ui/#/datasets/{name}")
    page.locator(f"[data-dg-examples] [data-open-run='{second}']").click()
    expect(page.locator("[data-dg-page='run']")).to_be_visible()
    assert second in page.evaluate("location.hash")


def record(
    server: ApiServer, experiment: str, example: str, run_id: str, scores: list[dict[str, Any]]
) -> None:
    api(
        server,
        "POST",
        f"/experiments/{experiment}/results",
        {"example_id": example, "run_id": run_id, "scores": scores},
    )


def score(name: str, value: float) -> dict[str, Any]:
    return {"name": name, "score": value, "passed": value >= 0.5, "comment": None, "error": None}


def two_experiments(server: ApiServer) -> tuple[str, str, str, list[dict[str, Any]]]:
    """A dataset of a plain question and an arithmetic one; a base experiment where both pass, and
    a candidate whose answer to the arithmetic one skipped the calculator (its runs diverge at the
    agent's update; it scores lower: regressed)."""
    _, plain = finished_chat_run(server, "hello evals")
    _, tool = finished_chat_run(server, TOOL_QUESTION)
    name = unique("calc")
    api(server, "POST", "/datasets", {"name": name, "selection": {"ids": [plain, tool]}})
    examples = api(server, "GET", f"/datasets/{name}/examples")["examples"]
    evaluators = [
        {"name": "answer", "builtin": "contains", "kwargs": {"text": "5"}},
        {"name": "step_budget", "builtin": "step_budget", "kwargs": {"max_steps": 10}},
    ]
    experiments = []
    for label in ("base", "candidate"):
        experiments.append(
            api(
                server,
                "POST",
                "/experiments",
                {
                    "dataset": name,
                    "assistant_id": "chat",
                    "name": f"{name}-{label}",
                    "evaluators": evaluators,
                },
            )["experiment_id"]
        )
    base, candidate = experiments
    # Base: each example re-run as it was.
    _, again_plain = finished_chat_run(server, "hello evals")
    _, again_tool = finished_chat_run(server, TOOL_QUESTION)
    record(
        server, base, examples[0]["example_id"], again_plain, [score("answer", 1), score("step_budget", 1)]
    )
    record(server, base, examples[1]["example_id"], again_tool, [score("answer", 1), score("step_budget", 1)])
    # Candidate: the first unchanged, the second answered without the calculator.
    _, plain3 = finished_chat_run(server, "hello evals")
    _, no_tool = finished_chat_run(server, "what is two plus three, roughly")
    record(
        server, candidate, examples[0]["example_id"], plain3, [score("answer", 1), score("step_budget", 1)]
    )
    record(
        server, candidate, examples[1]["example_id"], no_tool, [score("answer", 0), score("step_budget", 1)]
    )
    for experiment in experiments:
        api(server, "POST", f"/experiments/{experiment}/complete", {})
    return name, base, candidate, examples


def test_two_experiments_compared_and_exported(ui: EvalPage) -> None:
    from playwright.sync_api import expect

    name, base, candidate, examples = two_experiments(ui.server)
    page = ui.open(f"#/datasets/{name}")
    table = page.locator("[data-dg-experiments]")
    for experiment, passed in ((base, "2/2 passed"), (candidate, "1/2 passed · 1 failed")):
        row = table.locator(f"tr[data-experiment-id='{experiment}']")
        expect(row).to_be_visible(timeout=15000)
        expect(row).to_have_attribute("data-status", "completed")
        expect(row.locator("[data-dg-pass]")).to_have_text(passed)
    expect(table.locator(f"tr[data-experiment-id='{candidate}'] [data-dg-means]")).to_have_text(
        "answer 0.5 · step_budget 1"
    )
    compare = page.locator("[data-action=compare]")
    expect(compare).to_be_disabled()
    # Ticked newest first: the older one is still the base.
    page.locator(f"[data-tick='{candidate}']").check()
    expect(compare).to_be_disabled()
    page.locator(f"[data-tick='{base}']").check()
    expect(compare).to_be_enabled()
    ui.shot("experiments")
    # It fits the page at 1280 px, and in JupyterLab's main area beside the sidebar (~1000 px).
    for width in (1280, 1000):
        page.set_viewport_size({"width": width, "height": 900})
        fits = table.evaluate("(t) => t.scrollWidth <= t.parentElement.clientWidth + 1")
        assert fits and page.evaluate("document.documentElement.scrollWidth <= innerWidth"), width
        ui.shot(f"experiments-{width}")
    page.set_viewport_size({"width": 1360, "height": 1000})
    compare.click()
    page.wait_for_function(
        f"location.hash.includes('base={base}') && location.hash.includes('candidate={candidate}')"
    )

    view = page.locator("[data-dg-comparison]")
    summary = view.locator("[data-dg-summary]")
    expect(summary).to_contain_text("1 regressed", timeout=15000)
    expect(summary).to_contain_text("0 improved")
    expect(summary).to_contain_text("1 unchanged")
    expect(summary.locator("[data-dg-side=base]")).to_contain_text(f"{name}-base")
    mean = summary.locator("[data-dg-mean-deltas] [data-score=answer] .dg-delta")
    expect(mean).to_have_text("(-0.5)")
    expect(mean).to_have_class(re.compile(r"dg-delta-worse"))
    regressed = view.locator(f"[data-dg-compare-examples] tr[data-example-id='{examples[1]['example_id']}']")
    expect(regressed).to_have_attribute("data-verdict", "regressed")
    expect(regressed.locator("[data-score=answer] .dg-delta")).to_have_text("(-1)")
    expect(regressed.locator("[data-score=answer] .dg-delta")).to_have_class(re.compile("dg-delta-worse"))
    expect(regressed.locator("[data-score=step_budget] .dg-delta")).to_have_class(re.compile("dg-delta-same"))
    expect(regressed.locator(".dg-verdict")).to_have_class(re.compile("dg-verdict-regressed"))
    unchanged = view.locator(f"[data-dg-compare-examples] tr[data-example-id='{examples[0]['example_id']}']")
    expect(unchanged).to_have_attribute("data-verdict", "unchanged")
    # The regressed example's runs side by side, open: the first diverging node (the agent, which
    # asked for the calculator in the base run only), the state diff, both runs.
    detail = view.locator(f"[data-dg-run-compare='{examples[1]['example_id']}']")
    expect(detail).to_have_attribute("open", "")
    divergence = detail.locator("[data-dg-divergence]")
    expect(divergence).to_be_visible()
    expect(divergence.locator("[data-side=base] [data-node]")).to_have_attribute("data-node", "agent")
    expect(divergence).to_contain_text("first divergence at node execution 0")
    expect(detail.locator("[data-dg-state-diff] tr").first).to_be_visible()
    expect(detail.locator("[data-dg-state-diff]")).to_contain_text("messages")
    # The unchanged one is folded.
    expect(view.locator(f"[data-dg-run-compare='{examples[0]['example_id']}']")).not_to_have_attribute(
        "open", ""
    )
    ui.shot("comparison")
    candidate_run = api(ui.server, "GET", f"/experiments/{candidate}/results")[1]["run_id"]
    detail.locator(f"[data-open-run='{candidate_run}']").click()
    expect(page.locator("[data-dg-page='run']")).to_be_visible()
    assert candidate_run in page.evaluate("location.hash")
    page.go_back()
    expect(view.locator("[data-dg-summary]")).to_contain_text("1 regressed", timeout=15000)

    # Swap: the same example now improved.
    page.click("[data-action=swap]")
    expect(view.locator("[data-dg-summary]")).to_contain_text("1 improved", timeout=15000)
    expect(
        view.locator(f"[data-dg-compare-examples] tr[data-example-id='{examples[1]['example_id']}']")
    ).to_have_attribute("data-verdict", "improved")

    # Export notebook: a valid .ipynb for the experiment.
    page.goto(f"{ui.root}/duragraph/ui/#/datasets/{name}")
    button = page.locator(f"tr[data-experiment-id='{base}'] [data-action=export-notebook]")
    expect(button).to_be_visible(timeout=15000)
    with page.expect_download() as dl:
        button.click()
    assert dl.value.suggested_filename.endswith(".ipynb")
    notebook = json.loads(Path(dl.value.path()).read_text())
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.from_dict(notebook))
    source = "\n".join("".join(c["source"]) for c in notebook["cells"])
    assert name in source


def test_comparison_in_the_dark(browser: Any, api_server: ApiServer) -> None:
    from playwright.sync_api import expect

    ui = EvalPage(browser, api_server, color_scheme="dark")
    try:
        name, base, candidate, _ = two_experiments(api_server)
        page = ui.open(f"#/datasets/{name}?base={base}&candidate={candidate}")
        pill = page.locator("[data-dg-summary] .dg-verdict-regressed")
        expect(pill).to_contain_text("1 regressed", timeout=15000)
        colors = page.evaluate(
            """() => {
              const d = getComputedStyle(document.querySelector(".dg-dashboard"));
              const p = getComputedStyle(document.querySelector("[data-dg-summary] .dg-verdict-regressed"));
              return [d.backgroundColor, p.backgroundColor];
            }"""
        )
        # The dark palette, and the regressed verdict in the palette's "failed" colour.
        assert colors == ["rgb(30, 30, 30)", "rgb(211, 47, 47)"], colors
        ui.shot("comparison-dark")
        page.goto(f"{ui.root}/duragraph/ui/#/datasets/{name}")
        expect(page.locator("[data-dg-experiments] tbody tr")).to_have_count(2, timeout=15000)
        ui.shot("dataset-dark")
    finally:
        ui.close()


def test_unknown_dataset_and_experiments_are_said(browser: Any, api_server: ApiServer) -> None:
    from playwright.sync_api import expect

    ui = EvalPage(browser, api_server)
    try:
        page = ui.open("#/datasets/no-such-dataset")
        expect(page.locator("[data-dg-message=error]")).to_contain_text(
            "dataset no-such-dataset does not exist", timeout=15000
        )
        missing = str(uuid.uuid4())
        ui.go(f"#/datasets/x?base={missing}&candidate={uuid.uuid4()}")
        expect(page.locator("[data-dg-message=error]")).to_contain_text("cannot compare", timeout=15000)
    finally:
        ui.close(http_errors_allowed=True)


# -- "Run experiment" from the Datasets page (the server runs it: POST /experiments/{id}/run) ----


def chat_dataset(server: ApiServer) -> str:
    """A dataset of two finished chats: a plain question and an arithmetic one."""
    _, plain = finished_chat_run(server, "hello evals")
    _, tool = finished_chat_run(server, TOOL_QUESTION)
    name = unique("served")
    api(server, "POST", "/datasets", {"name": name, "selection": {"ids": [plain, tool]}})
    return name


def open_run_form(page: Any, server: ApiServer) -> Any:
    from playwright.sync_api import expect

    page.locator("[data-action=run-experiment]").click()
    form = page.locator("[data-dg-run-experiment]")
    expect(form).to_be_visible()
    chat = api(server, "GET", "/assistants/chat")["assistant_id"]
    expect(form.locator(f"[data-dg-exp-assistant] option[value='{chat}']")).to_be_attached(timeout=15000)
    form.locator("[data-dg-exp-assistant]").select_option(chat)
    return form


def pick_evaluators(form: Any, *, contains: str | None, max_steps: str | None) -> None:
    """Tick exactly contains (with its text) and step_budget (with its budget)."""
    for builtin in (
        "exact_match",
        "json_field_match",
        "regex",
        "numeric_tolerance",
        "trajectory_match",
        "latency_budget",
    ):
        form.locator(f"[data-evaluator={builtin}]").set_checked(False)
    form.locator("[data-evaluator=contains]").set_checked(contains is not None)
    if contains is not None:
        form.locator("[data-param='contains.text']").fill(contains)
    form.locator("[data-evaluator=step_budget]").set_checked(max_steps is not None)
    if max_steps is not None:
        form.locator("[data-param='step_budget.max_steps']").fill(max_steps)


def run_from_form(page: Any, form: Any, name: str) -> str:
    """Submit the form; the experiment's id once its row shows up."""
    from playwright.sync_api import expect

    form.locator("[data-dg-exp-name]").fill(name)
    form.locator("[data-action=run-experiment-submit]").click()
    message = form.locator("[data-dg-run-message]")
    expect(message).to_contain_text(f"started {name}: 2 examples", timeout=15000)
    experiment_id = message.get_attribute("data-experiment-id")
    assert experiment_id
    expect(page.locator(f"[data-dg-experiments] tr[data-experiment-id='{experiment_id}']")).to_be_visible(
        timeout=15000
    )
    return experiment_id


def wait_completed(page: Any, experiment_id: str) -> None:
    from playwright.sync_api import expect

    row = page.locator(f"[data-dg-experiments] tr[data-experiment-id='{experiment_id}']")
    progress = row.locator(f"[data-dg-progress='{experiment_id}']")
    expect(progress).to_have_attribute("data-status", "completed", timeout=60000)
    expect(progress).to_have_attribute("data-done", "2")
    expect(progress).to_have_attribute("data-total", "2")
    expect(progress).to_have_attribute("aria-valuenow", "2")
    expect(progress.locator("[data-dg-progress-label]")).to_have_text("2/2")
    expect(progress).to_have_attribute(
        "aria-valuetext", re.compile(r"^2/2 · \d passed · \d failed · \d errors?$")
    )
    expect(row).to_have_attribute("data-status", "completed")
    expect(row).to_have_attribute("data-runner", "server")


def test_experiment_run_from_the_datasets_page(ui: EvalPage) -> None:
    from playwright.sync_api import expect

    name = chat_dataset(ui.server)
    page = ui.open(f"#/datasets/{name}")
    expect(page.locator("[data-dg-no-experiments]")).to_be_visible(timeout=15000)
    form = open_run_form(page, ui.server)
    expect(form.locator("[data-dg-exp-concurrency]")).to_have_value("4")
    expect(form.locator("[data-dg-exp-dataset-version]")).to_have_value("")
    expect(form.locator("[data-dg-exp-assistant-version]")).to_have_value("")
    pick_evaluators(form, contains="5", max_steps="10")
    ui.shot("run-form")
    first = run_from_form(page, form, f"{name}-first")
    # Live: the row follows the server's progress to 2/2 and completed.
    wait_completed(page, first)
    ui.shot("run-completed")

    experiment = api(ui.server, "GET", f"/experiments/{first}")
    assert (experiment["status"], experiment["runner"], experiment["result_count"]) == (
        "completed",
        "server",
        2,
    )
    assert experiment["example_count"] == 2 and not experiment["running"]
    assert [e["builtin"] for e in experiment["evaluators"]] == ["contains", "step_budget"]
    assert experiment["evaluators"][0]["kwargs"]["text"] == "5"
    assert experiment["evaluators"][1]["kwargs"] == {"max_steps": 10}
    assert experiment["concurrency"] == 4
    results = api(ui.server, "GET", f"/experiments/{first}/results")
    assert len(results) == 2
    for result in results:
        assert result["run_id"], result
        scores = {s["name"]: s for s in result["scores"]}
        assert set(scores) == {"contains(5)", "step_budget(10)"}, result["scores"]
        assert scores["step_budget(10)"]["passed"] is True
        assert all(s["error"] is None for s in scores.values()), result["scores"]
    # The arithmetic example's answer has the 5 in it.
    assert sorted(s["passed"] for r in results for s in r["scores"] if s["name"] == "contains(5)") == [
        False,
        True,
    ]
    row = page.locator(f"tr[data-experiment-id='{first}']")
    expect(row.locator("[data-dg-means]")).to_have_text("contains(5) 0.5 · step_budget(10) 1")

    # A second one, from the same form; then compared with the first from its row.
    form.locator("[data-dg-exp-concurrency]").fill("1")
    second = run_from_form(page, form, f"{name}-second")
    wait_completed(page, second)
    assert api(ui.server, "GET", f"/experiments/{second}")["concurrency"] == 1
    picker = page.locator(f"[data-dg-compare-with='{second}']")
    expect(picker.locator(f"option[value='{first}']")).to_be_attached()
    go = page.locator(f"tr[data-experiment-id='{second}'] [data-action=compare-with]")
    expect(go).to_be_disabled()
    picker.select_option(first)
    expect(go).to_be_enabled()
    ui.shot("run-compare-with")
    go.click()
    page.wait_for_function(
        f"location.hash.includes('base={first}') && location.hash.includes('candidate={second}')"
    )
    view = page.locator("[data-dg-comparison]")
    summary = view.locator("[data-dg-summary]")
    expect(summary.locator("[data-dg-side=base]")).to_contain_text(f"{name}-first", timeout=15000)
    expect(summary.locator("[data-dg-side=candidate]")).to_contain_text(f"{name}-second")
    expect(summary).to_contain_text("2 unchanged")  # the same agent, the same answers
    expect(view.locator("[data-dg-compare-examples] tbody tr")).to_have_count(2)
    ui.shot("run-comparison")


def test_run_experiment_form_refuses_bad_evaluators(browser: Any, api_server: ApiServer) -> None:
    """What the page can check is refused before anything is sent (the field is marked and
    focused); a pattern only Python refuses gets the server's 422, inline. In the dark."""
    from playwright.sync_api import expect

    ui = EvalPage(browser, api_server, color_scheme="dark")
    try:
        name = chat_dataset(api_server)
        page = ui.open(f"#/datasets/{name}")
        posted: list[str] = []
        page.on(
            "request",
            lambda r: posted.append(r.url) if r.method == "POST" and "/experiments" in r.url else None,
        )
        form = open_run_form(page, api_server)
        message = form.locator("[data-dg-run-message]")
        submit = form.locator("[data-action=run-experiment-submit]")

        # A parameter the served catalogue says is required, left empty.
        pick_evaluators(form, contains=None, max_steps="10")
        form.locator("[data-evaluator=regex]").check()
        submit.click()
        expect(message).to_contain_text("regex: type a Python regular expression")
        expect(message).to_have_attribute("data-dg-message", "error")
        pattern = form.locator("[data-param='regex.pattern']")
        expect(pattern).to_have_attribute("aria-invalid", "true")
        expect(pattern).to_be_focused()
        ui.shot("run-form-invalid-dark")

        pick_evaluators(form, contains=None, max_steps=None)
        form.locator("[data-evaluator=regex]").check()
        form.locator("[data-param='regex.pattern']").fill("([a-z")
        submit.click()
        expect(message).to_contain_text("regex: not a valid regular expression")
        expect(form.locator("[data-param='regex.pattern']")).to_be_focused()

        form.locator("[data-param='regex.pattern']").fill("\\d+")
        form.locator("[data-dg-exp-concurrency]").fill("17")
        submit.click()
        expect(message).to_contain_text("concurrency is a whole number from 1 to 16")
        form.locator("[data-dg-exp-concurrency]").fill("4")

        form.locator("[data-evaluator=regex]").uncheck()
        submit.click()
        expect(message).to_contain_text("tick at least one evaluator")
        assert posted == [], posted
        assert api(api_server, "GET", f"/experiments?dataset={name}") == []

        # JavaScript takes (?<n>…), Python does not: the server's 422 at creation, said inline,
        # and no experiment is left behind.
        form.locator("[data-evaluator=regex]").check()
        form.locator("[data-param='regex.pattern']").fill("(?<n>5)")
        submit.click()
        expect(message).to_contain_text("could not create the experiment: ", timeout=15000)
        expect(message).to_contain_text("unknown extension ?<n")
        expect(message).to_have_attribute("data-dg-message", "error")
        assert api(api_server, "GET", f"/experiments?dataset={name}") == []
        ui.shot("run-form-server-refused-dark")
    finally:
        ui.close(http_errors_allowed=True)
