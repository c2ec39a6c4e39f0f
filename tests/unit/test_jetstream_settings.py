"""JetStream stream settings: sizes and durations as people write them, from traits or the environment."""

from __future__ import annotations

import pytest

from duragraph_lab.api.extension import DuraGraphApp
from duragraph_lab.bus.jetstream import StreamPolicy, format_size, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (268435456, 268435456),
        ("268435456", 268435456),
        ("256MB", 256 * 1024**2),  # as nats-server reads its configuration: MB = MiB
        ("256MiB", 256 * 1024**2),
        ("256M", 256 * 1000**2),
        ("4GiB", 4 * 1024**3),
        ("1.5 gb", int(1.5 * 1024**3)),
        ("64k", 64_000),
    ],
)
def test_sizes(text: int | str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "12 parsecs", "-5MB", "1e9"])
def test_not_sizes(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


def test_durations() -> None:
    assert [parse_duration(v) for v in (90, 2.5, "90", "90s", "15m", "36h", "7d", "2w")] == [
        90,
        2.5,
        90,
        90,
        900,
        129600,
        604800,
        1209600,
    ]
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("a week")


def test_format_size() -> None:
    assert [format_size(n) for n in (512, 2048, 64 * 1024**2, 4 * 1024**3, 1536 * 1024**2)] == [
        "512 B",
        "2 KiB",
        "64 MiB",
        "4 GiB",
        "1.5 GiB",
    ]


def test_policy_refuses_a_minimum_above_the_maximum() -> None:
    with pytest.raises(ValueError, match="min_bytes <= max_bytes"):
        StreamPolicy(max_bytes=64 * 1024**2, min_bytes=128 * 1024**2)


def test_traits_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DuraGraphApp().stream_policy() == StreamPolicy()
    monkeypatch.setenv("DURAGRAPH_JETSTREAM_MAX_BYTES", "256MB")
    monkeypatch.setenv("DURAGRAPH_JETSTREAM_MIN_BYTES", "16MB")
    monkeypatch.setenv("DURAGRAPH_JETSTREAM_MAX_AGE", "36h")
    policy = DuraGraphApp().stream_policy()
    assert (policy.max_bytes, policy.min_bytes, policy.max_age_seconds) == (
        256 * 1024**2,
        16 * 1024**2,
        129600,
    )
    # A trait set in the configuration wins over the environment.
    assert DuraGraphApp(jetstream_max_bytes=1024**3).stream_policy().max_bytes == 1024**3


def test_a_wrong_setting_is_named() -> None:
    with pytest.raises(ValueError, match=r"c\.DuraGraphApp\.jetstream_max_age: not a duration: 'soon'"):
        DuraGraphApp(jetstream_max_age="soon").stream_policy()


def test_replicas_come_from_the_environment_or_the_trait(monkeypatch: pytest.MonkeyPatch) -> None:
    # Unset: a new stream gets one copy and an existing one keeps its own (None).
    assert DuraGraphApp().stream_policy().replicas is None
    monkeypatch.setenv("DURAGRAPH_JETSTREAM_REPLICAS", "3")
    assert DuraGraphApp().stream_policy().replicas == 3
    assert DuraGraphApp(jetstream_replicas=1).stream_policy().replicas == 1


@pytest.mark.parametrize("value", ["three", "0", "6", 7])
def test_a_wrong_replica_count_is_named(value: object) -> None:
    with pytest.raises(
        ValueError, match=r"c\.DuraGraphApp\.jetstream_replicas \(DURAGRAPH_JETSTREAM_REPLICAS\)"
    ):
        DuraGraphApp(jetstream_replicas=value).stream_policy()
    with pytest.raises(ValueError, match="1 to 5"):
        StreamPolicy(replicas=0)
