"""The credentials a NATS server list shares go to nats-py as options, so that the nodes a cluster
announces (which come without them) accept the client too (tests/integration/test_nats_cluster.py
shows the reconnection)."""

from __future__ import annotations

from duragraph_lab.bus.connection import shared_credentials


def test_a_token_shared_by_every_server_becomes_an_option() -> None:
    servers = ["nats://s3cret@127.0.0.1:4222", "nats://s3cret@127.0.0.1:4223", "s3cret@127.0.0.1:4224"]
    assert shared_credentials(servers) == {"token": "s3cret"}


def test_a_user_and_password_become_options() -> None:
    assert shared_credentials(["nats://app:p%40ss@a:4222", "nats://app:p%40ss@b:4222"]) == {
        "user": "app",
        "password": "p@ss",
    }


def test_no_credentials_or_different_ones_are_left_to_each_url() -> None:
    assert shared_credentials(["nats://127.0.0.1:4222"]) == {}
    assert shared_credentials(["nats://a@h:1", "nats://b@h:2"]) == {}
    assert shared_credentials(["nats://a@h:1", "nats://h:2"]) == {}
