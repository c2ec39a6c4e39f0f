"""The standalone dashboard's replay, forks and their origins, and "Save as dataset"'s warnings,
in Debian's chromium via Playwright against a real server: at a node's completion the replay
shows the state after that node and the change it made (screenshot 12 of the evidence showed the
state before it and "no change"); "Fork from here" opens a dialog whose JSON edit is checked
before the fork runs; the fork links to its origin (run view and runs list); saving a fork and
runs of two assistants as a dataset warns and leaves out what the user asks. Screenshots:
test-artifacts/dashboard/replay-*.png."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.e2e.test_dashboard_page import CHROMIUM, Page, api, browser, finished_chat_run, wait_until  # noqa: F401
from tests.e2e.test_dashboard_page import ui as ui

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")


def _select_event(page: Any, seq: int) -> None:
    row = page.locator(f"[data-dg-eventlog] .dg-event-row[data-seq='{seq}']")
    row.scroll_into_view_if_needed()
    row.click()


def test_at_a_node_completion_the_replay_shows_the_state_after_the_node(ui: Page) -> None:
    from playwright.sync_api import expect

    thread_id, run_id = finished_chat_run(ui.server, "what is 6 * 7")
    events = api(ui.server, "GET", f"/runs/{run_id}/events")["events"]
    agent = next(e for e in events if e["type"] == "node_completed" and e["data"]["node"] == "agent")
    page = ui.open(f"#/run/{run_id}?thread_id={thread_id}")
    expect(page.locator("[data-dg-eventlog] .dg-event-row")).to_have_count(len(events), timeout=15000)
    _select_event(page, agent["seq"])
    expect(page.locator("[data-dg-replay-label]")).to_contain_text(f"#{agent['seq']} node_completed · agent")
    caption = page.locator("[data-dg-replay-caption]")
    expect(caption).to_contain_text(
        f"state after #{agent['seq']} node_completed · agent: agent's update applied"
    )
    expect(page.locator("[data-dg-change-title]")).to_have_text("Change made by agent")
    # The change is the model's message asking for the calculator, and the state has it.
    diff = page.locator("[data-dg-diff]")
    expect(diff).not_to_contain_text("no change")
    expect(diff).to_contain_text("calculator")
    expect(page.locator("[data-dg-state]")).to_contain_text("calculator")
    expect(page.locator("[data-dg-state]")).to_contain_text("what is 6 * 7")
    ui.shot("replay-node-completed")

    # The step_planned before it: the question only, and no tool call yet.
    planned = events[events.index(agent) - 1]
    _select_event(page, planned["seq"])
    expect(caption).to_contain_text(f"state after #{planned['seq']} step_planned")
    expect(page.locator("[data-dg-state]")).not_to_contain_text("calculator")


def test_fork_dialog_edits_the_state_and_the_fork_links_to_its_origin(ui: Page) -> None:
    from playwright.sync_api import expect

    thread = api(ui.server, "POST", "/threads", {})["thread_id"]
    api(
        ui.server,
        "POST",
        f"/threads/{thread}/runs/wait",
        {"assistant_id": "slow", "input": {"n": 0, "sleep": 0}},
    )
    run_id = api(ui.server, "GET", f"/threads/{thread}/runs")[0]["run_id"]
    events = api(ui.server, "GET", f"/runs/{run_id}/events")["events"]
    position = next(
        i for i, e in enumerate(events) if e["type"] == "node_completed" and e["data"]["node"] == "s1"
    )
    s1 = events[position]
    page = ui.open(f"#/run/{run_id}?thread_id={thread}")
    expect(page.locator("[data-dg-eventlog] .dg-event-row")).to_have_count(len(events), timeout=15000)
    _select_event(page, s1["seq"])
    expect(page.locator("[data-dg-change-title]")).to_have_text("Change made by s1")

    page.click("[data-action=fork]")
    dialog = page.locator("[data-dg-fork-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-dg-fork-title]")).to_contain_text(
        f"Fork after #{s1['seq']} node_completed · s1 (event {position + 1} of {len(events)})"
    )
    editor = dialog.locator("[data-dg-fork-state]")
    # The editor holds the state after s1: n is 2.
    wait_until(lambda: json.loads(editor.input_value() or "{}").get("n") == 2, what="the state in the editor")
    expect(dialog.locator("[data-dg-fork-summary]")).to_contain_text("no change")

    # Bad JSON and a removed key are refused before anything is sent.
    editor.fill('{"n": 100,')
    expect(dialog.locator("[data-dg-fork-problem]")).to_contain_text("not valid JSON")
    expect(dialog.locator("[data-action=fork-confirm]")).to_be_disabled()
    ui.shot("replay-fork-dialog-invalid")
    editor.fill('{"n": 100}')
    expect(dialog.locator("[data-dg-fork-problem]")).to_contain_text("cannot remove state keys")
    expect(dialog.locator("[data-action=fork-confirm]")).to_be_disabled()

    state = api(ui.server, "GET", f"/runs/{run_id}/state?seq={s1['seq']}")["values"]
    editor.fill(json.dumps({**state, "n": 100}, indent=2))
    expect(dialog.locator("[data-dg-fork-summary]")).to_have_text("changes: n")
    expect(dialog.locator("[data-dg-fork-problem]")).to_have_text("")
    ui.shot("replay-fork-dialog-edited")
    page.click("[data-action=fork-confirm]")

    # The fork opens; it ran from after s1 with n = 100 (s2, s3, s4 add one each), and says
    # where it came from.
    page.wait_for_function(
        f"!location.hash.includes({json.dumps(run_id)}) && location.hash.startsWith('#/run/')"
    )
    forked = page.evaluate("location.hash").split("/")[2].split("?")[0]
    wait_until(lambda: api(ui.server, "GET", f"/runs/{forked}")["status"] == "success", what="the fork")
    assert api(ui.server, "GET", f"/runs/{forked}/state")["values"]["n"] == 103
    origin = page.locator(f"[data-dg-forked-from='{run_id}']")
    expect(origin).to_have_text(
        f"forked from run {run_id[:8]} at #{s1['seq']} (position {position}) · state edited: n"
    )
    expect(page.locator(".dg-run-meta")).to_have_attribute("data-status", "success", timeout=15000)
    # The state shown is the one after the fork's last event (the view follows it to the end).
    last = api(ui.server, "GET", f"/runs/{forked}/events")["events"][-1]["seq"]
    expect(page.locator("[data-dg-replay-caption]")).to_contain_text(f"state after #{last} run_completed")
    expect(page.locator("[data-dg-state]")).to_contain_text('"n": 103')
    ui.shot("replay-fork-origin")

    # The runs list marks the fork, with a link to its origin.
    ui.go("#/runs")
    mark = page.locator(f"tr[data-run-id='{forked}'] [data-dg-fork-of='{run_id}']")
    expect(mark).to_have_text(f"fork of {run_id[:8]} #{s1['seq']}")
    ui.shot("replay-runs-fork-of")
    mark.locator("a").click()
    # The origin opens at the event the fork branched after.
    expect(page.locator("[data-dg-replay-label]")).to_contain_text(
        f"#{s1['seq']} node_completed · s1", timeout=15000
    )
    assert re.search(rf"#/run/{run_id}", page.evaluate("location.hash"))


def test_save_as_dataset_warns_of_runs_with_no_input_and_of_several_assistants(ui: Page) -> None:
    from playwright.sync_api import expect

    _, chat = finished_chat_run(ui.server, "hello for the dataset")
    thread = api(ui.server, "POST", "/threads", {})["thread_id"]
    api(
        ui.server,
        "POST",
        f"/threads/{thread}/runs/wait",
        {"assistant_id": "slow", "input": {"n": 0, "sleep": 0}},
    )
    slow = api(ui.server, "GET", f"/threads/{thread}/runs")[0]["run_id"]
    first = api(ui.server, "GET", f"/runs/{slow}/events")["events"][0]["seq"]
    fork = api(ui.server, "POST", f"/runs/{slow}/fork", {"seq": first})["run_id"]
    wait_until(lambda: api(ui.server, "GET", f"/runs/{fork}")["status"] == "success", what="the fork")

    page = ui.open("#/runs")
    for run in (chat, slow, fork):
        page.locator(f"[data-tick='{run}']").check()
    page.click("[data-action=save-dataset]")
    form = page.locator("[data-dg-save-dataset]")
    no_input = form.locator("[data-dg-warning='no_input']")
    expect(no_input).to_be_visible()
    expect(no_input).to_contain_text("Leave out the 1 run with no input (of 3")
    expect(form.locator("[data-dg-skip-no-input]")).to_be_checked()
    several = form.locator("[data-dg-warning='several_assistants']")
    expect(several).to_contain_text("These runs are of 2 assistants (")
    expect(several).to_contain_text("chat")
    expect(several).to_contain_text("slow")
    expect(form.locator("[data-dg-save-source]")).to_contain_text("without the runs that had no input")
    ui.shot("replay-dataset-warnings")

    # Saved as offered: the fork is left out; the answer still notes the two assistants.
    name = f"mixed-{fork[:8]}"
    form.locator("[data-dg-dataset-name]").fill(name)
    form.locator("[data-action=save-dataset-submit]").click()
    message = form.locator("[data-dg-save-message]")
    expect(message).to_contain_text(f"saved {name} version 1: 2 examples", timeout=15000)
    expect(message).to_contain_text("an experiment runs every example against one assistant")
    examples = api(ui.server, "GET", f"/datasets/{name}/examples")["examples"]
    assert {e["source"]["run_id"] for e in examples} == {chat, slow}

    # Keep only the chat runs: one example, no warning.
    form.locator("[data-dg-keep-assistant]").select_option(label="chat")
    expect(form.locator("[data-dg-save-source]")).to_contain_text("only the runs of chat")
    form.locator("[data-dg-dataset-name]").fill(f"{name}-chat")
    form.locator("[data-action=save-dataset-submit]").click()
    expect(message).to_have_text(f"saved {name}-chat version 1: 1 example", timeout=15000)
    ui.shot("replay-dataset-saved")
