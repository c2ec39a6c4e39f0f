"""Where webhooks may go, and how long between attempts (pure functions of control.webhooks)."""

from __future__ import annotations

import pytest

from duragraph_lab.control.webhooks import InvalidWebhook, WebhookPolicy, WebhookSettings, backoff


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "http:///nohost", "https://user:pw@example.com/"]
)
def test_only_http_urls_with_a_host_and_no_credentials(url: str) -> None:
    with pytest.raises(InvalidWebhook):
        WebhookPolicy().check_url(url)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.7", "172.16.0.1", "169.254.169.254", "::1", "fe80::1", "0.0.0.0"],
)
def test_private_and_local_addresses_are_refused_by_default(address: str) -> None:
    with pytest.raises(InvalidWebhook, match="private or local"):
        WebhookPolicy().check_addresses("receiver.example", [address])


def test_public_addresses_pass() -> None:
    WebhookPolicy().check_addresses("receiver.example", ["93.184.216.34", "2606:2800:220:1::1"])


def test_one_private_address_among_public_ones_is_refused() -> None:
    """A name resolving to several addresses must not smuggle in a private one."""
    with pytest.raises(InvalidWebhook):
        WebhookPolicy().check_addresses("receiver.example", ["93.184.216.34", "10.0.0.5"])


def test_allow_lets_networks_and_hosts_through() -> None:
    WebhookPolicy(allow=("10.0.0.0/8",)).check_addresses("hooks.internal", ["10.9.8.7"])
    WebhookPolicy(allow=("hooks.internal",)).check_addresses("hooks.internal", ["10.9.8.7"])
    with pytest.raises(InvalidWebhook):
        WebhookPolicy(allow=("10.0.0.0/8",)).check_addresses("hooks.internal", ["192.168.1.1"])


def test_deny_wins_over_everything() -> None:
    with pytest.raises(InvalidWebhook, match="denied"):
        WebhookPolicy(allow=("10.0.0.0/8",), deny=("10.0.0.0/24",)).check_addresses("h", ["10.0.0.9"])
    with pytest.raises(InvalidWebhook, match="denied"):
        WebhookPolicy(deny=("evil.example",)).check_addresses("evil.example", ["93.184.216.34"])


def test_allow_only_refuses_the_unlisted() -> None:
    policy = WebhookPolicy(allow=("hooks.example",), allow_only=True)
    policy.check_addresses("hooks.example", ["93.184.216.34"])
    with pytest.raises(InvalidWebhook, match="not in webhook_allow"):
        policy.check_addresses("other.example", ["93.184.216.34"])


def test_a_literal_address_is_checked_at_creation_a_name_is_not() -> None:
    with pytest.raises(InvalidWebhook):
        WebhookPolicy().check_literal("http://127.0.0.1:8000/hook")
    with pytest.raises(InvalidWebhook):
        WebhookPolicy().check_literal("http://[::1]/hook")
    WebhookPolicy().check_literal("http://localhost/hook")  # resolved at each delivery


def test_backoff_doubles_up_to_the_cap() -> None:
    settings = WebhookSettings(first_backoff=1.0, max_backoff=10.0)
    assert [backoff(settings, n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
