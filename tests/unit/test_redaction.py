from __future__ import annotations

import pytest

from duragraph_lab.bus.connection import redact_nats_url
from duragraph_lab.store import redact


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://tok@127.0.0.1:4222", "nats://127.0.0.1:4222"),
        ("nats://user:pw@a:1,nats://tok@b:2", "nats://a:1,nats://b:2"),
        ("sekrit@127.0.0.1:1", "127.0.0.1:1"),
        ("tls://x:y@h:4443, nats://h2", "tls://h:4443,nats://h2"),
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
    ],
)
def test_nats_credentials_never_shown(url: str, shown: str) -> None:
    assert redact_nats_url(url) == shown


def test_postgres_password_never_shown() -> None:
    shown = redact("postgresql://me:hunter2@db.internal:5433/app")
    assert "hunter2" not in shown
    assert "password=***" in shown
    assert "db.internal" in shown
