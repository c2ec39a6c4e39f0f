from __future__ import annotations

import pytest

from duragraph_lab.bus import Subjects

RUN = "run:0195f0a4-0000-7000-8000-000000000001"


def test_event_subject_follows_the_documented_scheme() -> None:
    s = Subjects()
    assert (
        s.event(RUN, "node_completed") == "duragraph.run.node_completed.0195f0a4-0000-7000-8000-000000000001"
    )
    assert s.stream(RUN) == "duragraph.run.*.0195f0a4-0000-7000-8000-000000000001"
    assert s.kind("thread") == "duragraph.thread.*.*"
    assert s.all_events == "duragraph.>"


def test_control_subjects_are_outside_the_event_stream() -> None:
    s = Subjects("acme-prod")
    assert not s.relay_wake.startswith("acme-prod.")
    assert s.stream_name == "ACME-PROD_EVENTS"
    assert Subjects("acme_prod").stream_name != s.stream_name


@pytest.mark.parametrize("bad", ["", "Upper", "has.dot", "x" * 40, "1x"])
def test_prefix_is_validated(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid subject prefix"):
        Subjects(bad)
