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


# ---------------------------------------------------------------- hostile servers and addresses


def test_a_trickling_body_is_cut_off_at_the_request_deadline() -> None:
    """A body at one byte per 0.2 s would take hours; the attempt's wall-clock deadline ends it."""
    from hostile_servers import RawServer, trickling_body

    with RawServer(trickling_body(every=0.2)) as server, Fetcher(fast(request_deadline=1.0, retries=2)) as f:
        start = time.monotonic()
        got = f.fetch(server.url("/slow"))
        took = time.monotonic() - start
    assert got.failure == "unreachable" and got.reason == "deadline" and "1 s deadline" in got.message
    assert took < 3.0 and got.attempts == 1  # a deadline is not retried: the server would trickle again


def test_trickling_headers_are_cut_off_at_the_request_deadline() -> None:
    from hostile_servers import RawServer, trickling_headers

    with RawServer(trickling_headers(every=0.2)) as server, Fetcher(fast(request_deadline=1.0)) as f:
        start = time.monotonic()
        got = f.fetch(server.url("/slow-headers"))
        took = time.monotonic() - start
    assert got.failure == "unreachable" and got.reason == "deadline" and took < 3.0


def test_the_run_deadline_skips_what_is_left_and_keeps_what_was_fetched(httpserver: HTTPServer) -> None:
    from hostile_servers import RawServer, trickling_body

    httpserver.expect_request("/fast").respond_with_data("quick")
    with RawServer(trickling_body(every=0.2)) as slow, Fetcher(fast(request_deadline=30.0, per_host=1)) as f:
        reqs = [Request(httpserver.url_for("/fast"), key="fast"), Request(slow.url("/a"), key="a"), Request(slow.url("/b"), key="b")]
        start = time.monotonic()
        got = f.fetch_many(reqs, deadline=time.monotonic() + 1.0)
        took = time.monotonic() - start
    assert took < 3.0
    assert got["fast"].ok and got["fast"].body == b"quick"
    assert got["a"].failure == "skipped" and got["a"].reason == "run-deadline"  # cut off while streaming
    assert got["b"].failure == "skipped" and "before this document was fetched" in got["b"].message


@pytest.mark.parametrize("address, refused", [
    ("100.64.0.1", True),  # carrier-grade NAT (RFC 6598), where some clouds put metadata services
    ("100.100.100.200", True),
    ("2002:0a00:0001::", True),  # 6to4 embedding 10.0.0.1
    ("2002:a9fe:a9fe::1", True),  # 6to4 embedding 169.254.169.254
    ("64:ff9b::a9fe:a9fe", True),  # NAT64 embedding 169.254.169.254
    ("::ffff:10.0.0.1", True),  # IPv4-mapped
    ("::10.0.0.1", True),  # IPv4-compatible
    ("224.0.0.1", True), ("239.1.2.3", True),  # multicast
    ("192.0.2.10", True), ("2001:db8::1", True),  # documentation
    ("fd00::1", True), ("fe80::1", True), ("::1", True), ("0.0.0.0", True), ("240.0.0.1", True),
    ("8.8.8.8", False), ("2606:4700:4700::1111", False), ("2002:0808:0808::1", False),  # 6to4 of a public address
])
def test_only_globally_routable_addresses_are_allowed(address: str, refused: bool) -> None:
    from provenance.http import address_problem

    problem = address_problem(address, "example.org")
    assert (problem is not None) == refused, problem
    if refused:
        assert "non-public address" in problem or "not an IP" in problem


@pytest.mark.parametrize("target", ["http://100.64.0.1/latest/meta-data/", "http://[2002:0a00:0001::]/x"])
def test_redirects_to_cgnat_and_6to4_private_addresses_are_refused(httpserver: HTTPServer, fetcher: Fetcher, target: str) -> None:
    httpserver.expect_request("/hop").respond_with_data("", status=302, headers={"Location": target})
    got = fetcher.fetch(httpserver.url_for("/hop"))
    assert got.failure == "blocked" and got.reason == "policy" and "non-public address" in got.message


def test_the_address_actually_connected_to_is_checked_before_anything_is_sent(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A DNS answer that changes between the check and the connection (rebinding) is caught at connect time.

    The first layer (the resolver check) is switched off to prove the second one alone refuses.
    """
    import provenance.http as http

    httpserver.expect_request("/x").respond_with_data("secret internal page")
    monkeypatch.setattr(http, "check_url", lambda url, allow=frozenset(): None)
    with Fetcher(fast(allow_addresses=frozenset())) as f:
        got = f.fetch(httpserver.url_for("/x"))
    assert got.failure == "blocked" and "127.0.0.1" in got.message
    assert len(httpserver.log) == 0  # not a byte of the request reached the server


SECRET = "tok/en+with=all/the+chars=="


def test_every_encoding_of_a_secret_is_redacted() -> None:
    import base64
    from urllib.parse import quote, quote_plus

    r = Redactor([SECRET])
    raw = SECRET.encode()
    forms = [SECRET, quote(SECRET, safe=""), quote(SECRET), quote_plus(SECRET), quote(SECRET, safe="").lower(),
             base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("="),
             base64.b64encode(b"user:" + raw).decode(), base64.b64encode(b"ab" + raw + b"!").decode(), SECRET.replace("/", "\\/")]
    for form in forms:
        shown = r.text(f"before {form} after")
        assert "***" in shown and shown.startswith("before ") and shown.endswith(" after"), form
    # in a longer base64 text, what is left around the mask is the other bytes' encoding (and at most 2 characters more)
    assert len(r.text(base64.b64encode(b"user:" + raw).decode()).replace("***", "")) <= len(base64.b64encode(b"user:").decode()) + 2


def test_a_secret_echoed_url_encoded_in_a_redirect_never_leaves_the_fetcher(httpserver: HTTPServer) -> None:
    from urllib.parse import quote, quote_plus

    httpserver.expect_request("/api").respond_with_data("", status=302, headers={"Location": f"/landing/{quote(SECRET, safe='')}?t={quote_plus(SECRET)}"})
    httpserver.expect_request(f"/landing/{SECRET}").respond_with_data("gone", status=404)  # the server sees the decoded path
    with Fetcher(fast(), redactor=Redactor([SECRET])) as f:
        got = f.fetch(httpserver.url_for("/api"))
    text = got.url + got.message + repr(got.evidence())
    assert got.failure == "gone"
    for form in (SECRET, quote(SECRET, safe=""), quote_plus(SECRET)):
        assert form not in text


def test_an_unexpected_failure_is_the_documents_result_not_an_exception(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/x").respond_with_data("ok")
    with Fetcher(fast(), redactor=Redactor([SECRET])) as f:
        def boom(*a, **kw):
            raise RuntimeError(f"bug while holding {SECRET}")

        monkeypatch.setattr(f, "_fetch_following_redirects", boom)
        got = f.fetch_many([Request(httpserver.url_for("/x"), key="x")])["x"]
    assert got.failure == "unreachable" and got.reason == "internal" and SECRET not in got.message and "RuntimeError" in got.message


def test_connection_refused_is_classified_as_a_network_failure() -> None:
    from hostile_servers import refusing_port

    with Fetcher(fast(retries=0)) as f:
        got = f.fetch(f"http://127.0.0.1:{refusing_port()}/x")
    assert got.failure == "unreachable" and got.reason == "refused" and got.network_failure
