"""provenance/http.py against real HTTP servers on 127.0.0.1 (pytest-httpserver)."""

from __future__ import annotations

import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request as WRequest
from werkzeug import Response

from provenance.http import Fetcher, HttpPolicy, Redactor, Request

LOCAL = frozenset({"127.0.0.1"})


def fast(**kw) -> HttpPolicy:
    base = dict(allow_addresses=LOCAL, read_timeout=2.0, connect_timeout=2.0, retries=2, backoff_base=0.01, backoff_cap=5.0)
    base.update(kw)
    return HttpPolicy(**base)


@pytest.fixture
def fetcher():
    with Fetcher(fast()) as f:
        yield f


def test_identifying_user_agent_is_sent(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/ua", headers={"User-Agent": fetcher.policy.user_agent}).respond_with_data("ok")
    got = fetcher.fetch(httpserver.url_for("/ua"))
    assert got.ok and got.status == 200 and got.body == b"ok"
    assert "mlsysim" in fetcher.policy.user_agent


def test_conditional_request_gets_304(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/doc", headers={"If-None-Match": '"v1"'}).respond_with_data("", status=304)
    got = fetcher.fetch(Request(httpserver.url_for("/doc"), etag='"v1"', last_modified="Wed, 21 Oct 2015 07:28:00 GMT"))
    assert got.ok and got.not_modified and got.sha256 is None


def test_200_body_hash_and_validators(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/doc").respond_with_data("hello", headers={"ETag": '"abc"', "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT"})
    got = fetcher.fetch(httpserver.url_for("/doc"))
    ev = got.evidence()
    assert ev["status"] == 200 and ev["etag"] == '"abc"' and ev["last_modified"].startswith("Wed")
    assert ev["sha256"] == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


@pytest.mark.parametrize("status, words", [(404, "404 Not Found"), (410, "410 Gone")])
def test_404_and_410_are_gone_without_retrying(httpserver: HTTPServer, fetcher: Fetcher, status: int, words: str) -> None:
    httpserver.expect_request("/gone").respond_with_data("no", status=status)
    got = fetcher.fetch(httpserver.url_for("/gone"))
    assert got.failure == "gone" and words in got.message and got.attempts == 1
    assert len(httpserver.log) == 1


def test_500_then_success_is_retried(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_ordered_request("/flaky").respond_with_data("oops", status=500)
    httpserver.expect_ordered_request("/flaky").respond_with_data("fine")
    got = fetcher.fetch(httpserver.url_for("/flaky"))
    assert got.ok and got.body == b"fine" and got.attempts == 2


def test_persistent_500_gives_up_after_the_retries(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/down").respond_with_data("oops", status=503)
    got = fetcher.fetch(httpserver.url_for("/down"))
    assert got.failure == "unreachable" and "after 3 attempts" in got.message and len(httpserver.log) == 3


def test_429_waits_as_long_as_retry_after_says(httpserver: HTTPServer) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    httpserver.expect_ordered_request("/rate").respond_with_data("slow down", status=429, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request("/rate").respond_with_data("ok")
    with Fetcher(fast(), sleep=sleep) as f:
        got = f.fetch(httpserver.url_for("/rate"))
    assert got.ok and got.attempts == 2
    assert sum(slept) >= 0.9  # the server asked for 1 s; the backoff alone would be 0.01 s


def test_retry_after_beyond_the_cap_is_not_waited_for(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/rate").respond_with_data("later", status=429, headers={"Retry-After": "3600"})
    with Fetcher(fast(backoff_cap=5.0)) as f:
        got = f.fetch(httpserver.url_for("/rate"))
    assert got.failure == "blocked" and "3600 s" in got.message and len(httpserver.log) == 1


def test_timeout_is_unreachable(httpserver: HTTPServer) -> None:
    def slow(request: WRequest) -> Response:
        time.sleep(1.0)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with Fetcher(fast(read_timeout=0.3, retries=0)) as f:
        got = f.fetch(httpserver.url_for("/slow"))
    assert got.failure == "unreachable" and "timed out" in got.message


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/x", "http://[::1]:9/x", "http://0.0.0.0/"])
def test_redirect_to_a_private_address_is_refused(httpserver: HTTPServer, fetcher: Fetcher, target: str) -> None:
    httpserver.expect_request("/hop").respond_with_data("", status=302, headers={"Location": target})
    got = fetcher.fetch(httpserver.url_for("/hop"))
    assert got.failure == "blocked" and "non-public address" in got.message


def test_loopback_is_refused_unless_allowed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data("ok")
    with Fetcher(fast(allow_addresses=frozenset())) as f:
        got = f.fetch(httpserver.url_for("/x"))
    assert got.failure == "blocked" and "127.0.0.1" in got.message
    assert len(httpserver.log) == 0  # refused before connecting


def test_redirects_are_followed_and_rechecked(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new"})
    httpserver.expect_request("/new").respond_with_data("moved here")
    got = fetcher.fetch(httpserver.url_for("/old"))
    assert got.ok and got.body == b"moved here" and got.url.endswith("/new")


def test_redirect_loop_is_detected(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    got = fetcher.fetch(httpserver.url_for("/a"))
    assert got.failure == "unreachable" and "redirect loop" in got.message


def test_only_http_and_https(fetcher: Fetcher) -> None:
    for url in ("ftp://example.org/x", "file:///etc/passwd"):
        got = fetcher.fetch(url)
        assert got.failure == "blocked" and "only http and https" in got.message


def test_redirect_to_another_scheme_is_refused(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/hop").respond_with_data("", status=302, headers={"Location": "file:///etc/passwd"})
    got = fetcher.fetch(httpserver.url_for("/hop"))
    assert got.failure == "blocked"


def test_oversized_body_is_refused_by_content_length(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data("x" * 5000)
    with Fetcher(fast(max_bytes=1000)) as f:
        got = f.fetch(httpserver.url_for("/big"))
    assert got.failure == "blocked" and "1000-byte cap" in got.message and got.body == b""


def test_oversized_streamed_body_is_cut_off(httpserver: HTTPServer) -> None:
    def stream(request: WRequest) -> Response:
        return Response((b"y" * 1024 for _ in range(64)), direct_passthrough=True)  # no Content-Length

    httpserver.expect_request("/stream").respond_with_handler(stream)
    with Fetcher(fast(max_bytes=10_000)) as f:
        got = f.fetch(httpserver.url_for("/stream"))
    assert got.failure == "blocked" and "cap" in got.message


def test_keys_are_redacted_from_urls_and_messages(httpserver: HTTPServer) -> None:
    secret = "sk-live-5up3r53cr3t"
    httpserver.expect_request("/api").respond_with_data("no", status=404)
    with Fetcher(fast(), redactor=Redactor([secret])) as f:
        got = f.fetch(httpserver.url_for("/api") + f"?zone=DE&api_key={secret}")
    assert secret not in got.url and secret not in got.message and "api_key=***" in got.url
    assert "zone=DE" in got.url


def test_redactor_masks_secrets_everywhere() -> None:
    r = Redactor(["tok-123456"])
    data = {"a": ["x tok-123456 y", {"tok-123456": 1}], "b": "https://u:pw@h/p?token=abc&q=1"}
    out = r.scrub(data)
    assert "tok-123456" not in repr(out)
    assert r.url(data["b"]) == "https://***@h/p?token=***&q=1"


def test_per_host_limit_holds_while_hosts_run_in_parallel() -> None:
    """Six requests to each of two servers, at most two in flight per server."""
    servers = [HTTPServer(host="127.0.0.1", port=0, threaded=True) for _ in range(2)]
    lock = threading.Lock()
    inflight = {0: 0, 1: 0}
    peak = {0: 0, 1: 0}
    overlap = []

    def handler_for(i: int):
        def handler(request: WRequest) -> Response:
            with lock:
                inflight[i] += 1
                peak[i] = max(peak[i], inflight[i])
                overlap.append(inflight[1 - i] > 0)
            time.sleep(0.05)
            with lock:
                inflight[i] -= 1
            return Response("ok")
        return handler

    for i, server in enumerate(servers):
        server.start()
        server.expect_request("/x").respond_with_handler(handler_for(i))
    try:
        with Fetcher(fast(per_host=2)) as f:
            reqs = [Request(s.url_for("/x") + f"?n={n}", key=f"{i}-{n}") for i, s in enumerate(servers) for n in range(6)]
            got = f.fetch_many(reqs)
    finally:
        for server in servers:
            server.stop()
    assert all(g.ok for g in got.values()) and len(got) == 12
    assert peak == {0: 2, 1: 2}
    assert any(overlap)  # the two hosts were served at the same time
