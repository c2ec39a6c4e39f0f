"""A worker's local lease deadlines (duragraph_lab/store/held_leases.py), on a hand-moved clock."""

from __future__ import annotations

import pytest

from duragraph_lab.engine.errors import LeaseLost
from duragraph_lab.store.held_leases import HeldLeases, default_margin


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def leases(ttl: float = 10.0, margin: float = 1.0) -> tuple[HeldLeases, Clock]:
    clock = Clock()
    return HeldLeases(ttl, margin=margin, clock=clock), clock


def test_the_deadline_is_the_send_time_plus_the_ttl_minus_the_margin() -> None:
    held, clock = leases()
    held.taken("r", epoch=3, sent_at=100.0)
    assert held.epoch("r") == 3
    clock.now = 108.999
    held.check("r")
    assert held.remaining("r") == pytest.approx(0.001)
    clock.now = 109.0
    with pytest.raises(LeaseLost, match="epoch 3"):
        held.check("r")


def test_no_lease_means_no_work() -> None:
    held, _ = leases()
    with pytest.raises(LeaseLost, match="holds no lease"):
        held.check("r")
    assert held.remaining("r") is None
    assert held.epoch("r") is None


def test_a_confirmed_renewal_moves_the_deadline_from_its_send_time() -> None:
    held, clock = leases()
    held.taken("r", 1, sent_at=100.0)
    clock.now = 105.0
    assert held.renewed({"r": 1}, {"r": 1}, sent_at=104.0) == set()
    clock.now = 112.9  # 104 + 10 - 1 = 113
    held.check("r")
    clock.now = 113.0
    with pytest.raises(LeaseLost):
        held.check("r")


def test_a_late_answer_to_an_older_renewal_never_shortens_the_deadline() -> None:
    held, _ = leases()
    held.taken("r", 1, sent_at=100.0)
    held.renewed({"r": 1}, {"r": 1}, sent_at=106.0)
    held.renewed({"r": 1}, {"r": 1}, sent_at=103.0)  # sent before, answered after
    assert held.remaining("r") == pytest.approx(115.0 - 100.0)


def test_a_lease_not_confirmed_at_its_epoch_is_lost_and_dropped() -> None:
    held, _ = leases()
    held.taken("gone", 1, sent_at=100.0)
    held.taken("moved", 1, sent_at=100.0)
    held.taken("kept", 1, sent_at=100.0)
    lost = held.renewed({"gone": 1, "moved": 1, "kept": 1}, {"moved": 2, "kept": 1}, sent_at=101.0)
    assert lost == {"gone", "moved"}  # another worker holds "moved" now, at epoch 2
    assert "gone" not in held and "moved" not in held
    assert held.epochs() == {"kept": 1}


def test_a_renewal_only_counts_for_the_epoch_held_when_it_is_answered() -> None:
    held, clock = leases()
    held.taken("r", 1, sent_at=100.0)
    # The worker took its own expired lease again (epoch 2) while an extend for epoch 1 was on
    # its way. An answer that shows epoch 2 ran after that acquire: it renews epoch 2.
    held.taken("r", 2, sent_at=120.0)
    assert held.renewed({"r": 1}, {"r": 2}, sent_at=119.0) == set()
    assert held.epoch("r") == 2
    clock.now = 120.0
    assert held.remaining("r") == pytest.approx(9.0)  # the acquire's deadline, the later one
    # An answer that does not show epoch 2 says nothing about it: not lost, not renewed.
    assert held.renewed({"r": 1}, {}, sent_at=125.0) == set()
    assert held.epoch("r") == 2
    assert held.remaining("r") == pytest.approx(9.0)


def test_a_run_given_up_meanwhile_is_ignored_by_the_renewal() -> None:
    held, _ = leases()
    held.taken("r", 1, sent_at=100.0)
    held.drop("r")
    assert held.renewed({"r": 1}, {}, sent_at=101.0) == set()
    assert len(held) == 0


def test_margins() -> None:
    assert default_margin(30.0) == 1.0  # capped
    assert default_margin(2.0) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="TTL must be positive"):
        HeldLeases(0)
    with pytest.raises(ValueError, match="less than the TTL"):
        HeldLeases(1.0, margin=1.0)
    with pytest.raises(ValueError, match="at least 0"):
        HeldLeases(1.0, margin=-0.1)
