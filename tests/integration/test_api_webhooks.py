"""Webhooks through the API: the run is POSTed when it ends; destinations refused by policy are
a 422 at creation (a literal address) or a ``webhook_abandoned`` event (a name that resolves to
one); a receiver that keeps failing is given up after ``webhook_max_attempts`` attempts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.api_cases import Database
from tests.apiserver import ApiServer
from tests.fault.test_webhook_restart import Receiver, events, wait_for


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = ApiServer(
        tmp_path_factory.mktemp("webhooks") / "data",
        extra=[
            "--DuraGraphApp.webhook_allow=127.0.0.1/32",
            "--DuraGraphApp.webhook_max_attempts=3",
            "--DuraGraphApp.webhook_backoff=0.1",
        ],
    ).start()
    try:
        yield server
    finally:
        server.kill()


def create(api: ApiServer, webhook: str | None) -> requests.Response:
    body = {"assistant_id": "slow", "input": {"sleep": 0}}
    if webhook is not None:
        body["webhook"] = webhook
    return requests.post(
        f"{api.base}/runs/wait",
        json=body,
        headers=api.headers,
        timeout=60,
    )


def run_id_of(response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    return response.headers["Content-Location"].rsplit("/", 1)[-1]


def test_the_run_is_posted_when_it_ends(api: ApiServer) -> None:
    receiver = Receiver(fail=0)
    try:
        run_id = run_id_of(create(api, receiver.url))
        wait_for(lambda: receiver.received)
        headers, body, _ = receiver.received[0]
        assert body["run_id"] == run_id and body["status"] == "success"
        assert headers["content-type"] == "application/json"
        delivered = wait_for(lambda: [e for e in events(api, run_id) if e["type"] == "webhook_delivered"])
        assert headers["idempotency-key"] == f"{run_id}:{delivered[0]['data']['end_seq']}"
        run = requests.get(f"{api.base}/runs/{run_id}", headers=api.headers, timeout=30).json()
        assert run["kwargs"]["webhook"] == receiver.url
    finally:
        receiver.close()


def test_a_receiver_that_keeps_failing_is_given_up(api: ApiServer) -> None:
    receiver = Receiver(fail=100)
    try:
        run_id = run_id_of(create(api, receiver.url))
        abandoned = wait_for(lambda: [e for e in events(api, run_id) if e["type"] == "webhook_abandoned"])
        assert abandoned[0]["data"]["attempts"] == 3 and "503" in abandoned[0]["data"]["error"]
        failed = [e["data"]["attempt"] for e in events(api, run_id) if e["type"] == "webhook_attempt_failed"]
        assert failed == [1, 2]
        assert len(receiver.received) == 3
    finally:
        receiver.close()


@pytest.mark.parametrize("url", ["http://10.0.0.1/hook", "http://[::1]:9/hook", "http://169.254.169.254/"])
def test_a_private_literal_address_is_422(api: ApiServer, url: str) -> None:
    response = create(api, url)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_webhook"


def test_a_name_is_resolved_and_its_addresses_checked_at_delivery(api: ApiServer) -> None:
    """``localhost`` is accepted at creation (a name) and delivered to because it resolves to
    127.0.0.1, which this server allows; a name that does not resolve is a failed attempt."""
    receiver = Receiver(fail=0)
    try:
        run_id = run_id_of(create(api, receiver.url.replace("127.0.0.1", "localhost")))
        wait_for(lambda: [e for e in events(api, run_id) if e["type"] == "webhook_delivered"])
        assert len(receiver.received) == 1
    finally:
        receiver.close()
    run_id = run_id_of(create(api, "http://no-such-host.invalid/hook"))
    failed = wait_for(lambda: [e for e in events(api, run_id) if e["type"] == "webhook_attempt_failed"])
    assert "cannot resolve" in failed[0]["data"]["error"]


def test_webhook_of_another_scheme_is_422(api: ApiServer) -> None:
    response = create(api, "ftp://example.com/hook")
    assert response.status_code == 422 and "webhook" in response.json()["message"]


def test_a_run_without_a_webhook_gets_no_delivery(api: ApiServer) -> None:
    """Also when its kwargs say ``webhook: null`` (as a cron's runs do when it has none)."""
    database = Database(api)
    try:
        plain = run_id_of(create(api, None))
        database.conn.execute(
            "UPDATE duragraph.runs SET kwargs = kwargs || '{\"webhook\": null}' WHERE run_id = %s", (plain,)
        )
        receiver = Receiver(fail=0)  # a later delivery proves a pass ran after the update
        try:
            later = run_id_of(create(api, receiver.url))
            wait_for(lambda: [e for e in events(api, later) if e["type"] == "webhook_delivered"])
        finally:
            receiver.close()
        assert not [e for e in events(api, plain) if e["type"].startswith("webhook_")]
    finally:
        database.close()
