"""The gateway's doors as pure functions: where a login may lead, and who is asking."""

from __future__ import annotations

import pytest

from services.gateway.doors import client_address
from services.gateway.web.public import safe_next


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/%09/evil.example",
        "/%0a/evil.example",
        "/cases\r\nSet-Cookie: x=1",
        "//evil.example",
        "/\\evil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "javascript:alert(1)",
        " /cases",
        "/cases\u2028",
        "",
        None,
    ],
)
def test_anything_but_a_plain_path_on_this_site_is_no_place_to_go_after_login(
    target: str | None,
) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize(
    "target", ["/cases", "/cases?page=2", "/items/gongfang-zhuangxiu/apply", "/?q=%E8%A3%85%E4%BF%AE"]
)
def test_a_path_on_this_site_is_kept(target: str) -> None:
    assert safe_next(target) == target


def test_without_trusted_proxies_the_address_is_the_socket_peer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given no trusted proxy configured
    monkeypatch.delenv("ONETRIP_TRUSTED_PROXIES", raising=False)
    # When a client says it forwards for someone else
    environ = {"REMOTE_ADDR": "192.0.2.10", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    # Then the gateway believes only the socket
    assert client_address(environ) == "192.0.2.10"


def test_behind_trusted_proxies_the_address_is_the_last_hop_they_did_not_add(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the campus load balancers 10.0.0.0/24 are trusted
    monkeypatch.setenv("ONETRIP_TRUSTED_PROXIES", "10.0.0.0/24")
    # When a request came through two of them, its client having written a header of its own
    environ = {
        "REMOTE_ADDR": "10.0.0.2",
        "HTTP_X_FORWARDED_FOR": "1.1.1.1, 198.51.100.4, 10.0.0.1",
    }
    # Then the address is the one the first trusted proxy saw, not what the client wrote
    assert client_address(environ) == "198.51.100.4"
    # And a peer outside the trusted range is taken as it is
    assert client_address({**environ, "REMOTE_ADDR": "192.0.2.10"}) == "192.0.2.10"
    # And a hop that is no address at all falls back to the peer
    assert client_address({**environ, "HTTP_X_FORWARDED_FOR": "not-an-ip"}) == "10.0.0.2"
