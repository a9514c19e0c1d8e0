"""Only a browser on this machine may use the local chat and inbox."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from adapters.local.access import refusal
from adapters.local.routes import guarded
from adapters.net import is_loopback_host


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST", "app.localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.20", "10.0.0.1", "example.com", "localhost.example"])
def test_other_hosts(host: str) -> None:
    assert not is_loopback_host(host)


def request(remote: str = "127.0.0.1", **headers: str) -> web.Request:
    mocked = make_mocked_request("GET", "/local/api/config", headers={"Host": "127.0.0.1:3978", **headers})
    return mocked.clone(remote=remote)


def test_a_request_from_this_machine_is_accepted() -> None:
    assert refusal(request()) is None
    assert refusal(request("::1", Host="localhost:3978", Origin="http://localhost:3978")) is None


@pytest.mark.parametrize("remote", ["192.168.1.5", "10.0.0.7", "2001:db8::1", ""])
def test_a_request_from_elsewhere_is_refused(remote: str) -> None:
    assert "only answer requests from this machine" in (refusal(request(remote)) or "")


def test_a_foreign_host_name_is_refused() -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own name."""
    assert refusal(request(Host="evil.example:3978")) is not None


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "", "https://192.168.1.5:3978"])
def test_another_web_site_is_refused(origin: str) -> None:
    assert refusal(request(Origin=origin)) == "requests from other web sites are not accepted"


def test_a_proxied_request_is_refused() -> None:
    assert refusal(request(**{"X-Forwarded-For": "203.0.113.9"})) is not None
    assert refusal(request(Forwarded="for=203.0.113.9")) is not None


async def test_the_route_answers_403_with_a_clear_json_error() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"ok": True})

    refused = await guarded(handler)(request("192.168.1.5"))
    assert refused.status == 403
    assert isinstance(refused, web.Response) and refused.text is not None
    assert json.loads(refused.text) == {
        "error": "Forbidden: the local chat and on-call inbox only answer requests from this machine."
    }
    allowed = await guarded(handler)(request())
    assert allowed.status == 200


async def test_a_page_from_elsewhere_gets_a_plain_403() -> None:
    async def page(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<html>")

    mocked = make_mocked_request("GET", "/oncall", headers={"Host": "192.168.1.20:3978"}).clone(remote="192.168.1.5")
    refused = await guarded(page)(mocked)
    assert refused.status == 403
    assert isinstance(refused, web.Response)
    assert refused.text == "403 Forbidden: the local chat and on-call inbox only answer requests from this machine.\n"
