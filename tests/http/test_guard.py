"""pipelines.http.guard: the private-address guard under httpx, against the real local server (tests/newsfake.py).

The guard resolves, checks and connects in one place, so every hop (redirects, robots.txt, TLS) passes it.
"""

from __future__ import annotations

import ipaddress

import pytest
from newsfake import NewsFake, loopback_policy

from pipelines.config import ALLOW_HOSTS_ENV, Settings
from pipelines.http.fetcher import Fetcher, FetchPolicy
from pipelines.http.guard import AllowList, blocked_reason
from pipelines.http.outcome import Outcome


def test_allow_list_parses_hosts_ips_and_cidrs() -> None:
    allow = AllowList.parse(" 127.0.0.1, 10.0.0.0/8 ,Feeds.Intranet., ::1,")
    assert allow.hosts == frozenset({"feeds.intranet"})
    assert allow.permits("anything", ipaddress.ip_address("10.1.2.3"))
    assert allow.permits("feeds.intranet", ipaddress.ip_address("192.168.0.9"))
    assert allow.permits("x", ipaddress.ip_address("::1"))
    assert not allow.permits("x", ipaddress.ip_address("127.0.0.2"))


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("fd00:ec2::254", "cloud metadata"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::", "unspecified"),
        ("ff02::1", "multicast"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_blocked_reason_covers_internal_ranges(address: str, reason: str | None) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


def test_https_runs_through_the_guard_and_verifies_certificates(news_server_tls: NewsFake) -> None:
    """TLS goes through the guarded connection; a self-signed certificate is refused, not trusted."""
    news_server_tls.reset()
    with Fetcher(loopback_policy(total_timeout=2.0, read_timeout=1.0, connect_timeout=1.0)) as fetcher:
        result = fetcher.fetch(news_server_tls.url("/conditional/feed.xml"))
    assert result.outcome == Outcome.NETWORK_ERROR and "CERTIFICATE_VERIFY_FAILED" in result.note
    assert news_server_tls.total_requests() == 0


def test_loopback_is_blocked_without_the_setting(news_server: NewsFake) -> None:
    news_server.reset()
    with Fetcher(FetchPolicy.from_settings(Settings(), per_host_delay=0.0)) as fetcher:
        result = fetcher.fetch(news_server.url("/conditional/feed.xml"))
        by_name = fetcher.fetch(f"http://localhost:{news_server.base_url.rsplit(':', 1)[1]}/conditional/feed.xml")
    assert result.outcome == by_name.outcome == "blocked_address"
    assert "loopback" in result.note and ALLOW_HOSTS_ENV in result.note
    assert news_server.total_requests() == 0  # not even robots.txt


def test_a_fetcher_without_a_policy_ignores_the_environment(
    news_server: NewsFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only Settings reads NEWSFLOW_ALLOW_HOSTS: a bare Fetcher() keeps the default guard even when it is set."""
    monkeypatch.setenv(ALLOW_HOSTS_ENV, "127.0.0.1")
    news_server.reset()
    with Fetcher() as fetcher:
        assert fetcher.policy == FetchPolicy() and fetcher.policy.allow_hosts == AllowList()
        assert fetcher.fetch(news_server.url("/conditional/feed.xml")).outcome == "blocked_address"
    assert news_server.total_requests() == 0


def test_allow_list_by_host_name(news_server: NewsFake) -> None:
    port = news_server.base_url.rsplit(":", 1)[1]
    with Fetcher(FetchPolicy.from_settings(Settings(allow_hosts="localhost"), per_host_delay=0.0)) as fetcher:
        by_name = fetcher.fetch(f"http://localhost:{port}/conditional/feed.xml")
        by_ip = fetcher.fetch(news_server.url("/conditional/feed.xml"))
    assert by_name.outcome == "ok"  # ::1 (if listed first) refuses; the next address, 127.0.0.1, answers
    assert by_ip.outcome == "blocked_address"


def test_redirect_to_a_blocked_address_is_refused(news_server: NewsFake) -> None:
    news_server.reset()
    port = news_server.base_url.rsplit(":", 1)[1]
    target = f"http://127.0.0.2:{port}/conditional/feed.xml"  # loopback, but outside the allow-listed 127.0.0.1/32
    with Fetcher(loopback_policy()) as fetcher:
        result = fetcher.fetch(news_server.url(f"/redirect-to?url={target}"))
    assert result.outcome == "blocked_address" and result.final_url == target and "127.0.0.2" in result.note
    assert news_server.requests_to("/conditional/feed.xml") == 0
