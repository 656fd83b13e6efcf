"""The one polite, safe HTTP helper every freshness strategy and connector uses.

Politeness: an identifying User-Agent, conditional requests (the caller passes
the stored ETag / Last-Modified), timeouts, retries with capped exponential
backoff that honour Retry-After on 429/503, and at most `per_host` requests in
flight to any one host (other hosts proceed in parallel).

Safety: http(s) only; every redirect is followed by hand and re-checked; no
request goes to an address that is not globally routable (private, loopback,
link-local, carrier-grade NAT, multicast, reserved, documentation, or an IPv6
address embedding one of those: IPv4-mapped, IPv4-compatible, 6to4, NAT64,
Teredo) unless the address is explicitly allowed (tests allow 127.0.0.1). The
rule is applied to every DNS answer before connecting and again to the address
each new connection actually reached, before a byte is sent. Bodies are capped;
every attempt has a wall-clock deadline covering connect, headers and body
(enforced while streaming: a watchdog shuts the socket), and a whole run can
pass an overall deadline. API keys are read from the environment by the caller
and scrubbed, in every encoding a server may echo them in, from every URL,
message and report by a Redactor.

Failures are values, not exceptions: `fetch` returns a Fetched whose `failure`
says what went wrong (`unreachable`, `gone`, `blocked`, or `skipped` when the
run's deadline passed) in words that never contain a secret, and whose `reason`
classifies it (`dns`, `refused`, `timeout`, ... for the network; `http`,
`policy`, `deadline`), so a caller can tell an outage from rot.
"""

from __future__ import annotations

import base64
import email.utils
import errno
import hashlib
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urljoin, urlsplit, urlunsplit

USER_AGENT = "mlsysim-freshness/0.1 (cited-catalog source verification; python-requests)"

# Query parameters that carry credentials in the wild; their values are never shown.
_SECRET_PARAMS = re.compile(r"^(api[-_]?key|apikey|key|token|auth[-_]?token|access[-_]?token|auth|sig|signature|password|secret|code)$", re.I)
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})

# Failure reasons that say the network, not the source, failed (see Fetched.reason).
NETWORK_REASONS = frozenset({"dns", "refused", "timeout", "reset", "tls", "no-route", "connection"})


def secret_forms(secret: str) -> set[str]:
    """Literal forms of a secret a server may echo that no character-wise rule covers: base64 and
    base64url (whole, without padding, URL-encoded, and the part that stays the same wherever
    the secret starts inside a longer encoded text, as in `user:secret`)."""
    forms = set()
    raw = secret.encode("utf-8")
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw).decode("ascii")
        forms.update({whole, whole.rstrip("="), quote(whole, safe=""), quote_plus(whole)})
        for shift in (0, 1, 2):
            shifted = encode(b"\0" * shift + raw).decode("ascii")
            forms.add(shifted[-(-shift * 8 // 6): (shift + len(raw)) * 8 // 6])
    return {f for f in forms if len(f) >= 6}


def secret_pattern(secret: str) -> re.Pattern[str]:
    """The secret with each character written raw or escaped as servers and clients do, in any mix:
    percent-encoded (either hex case, or twice), `+` for a space and a space for `+`, JSON `\\/` and `\\uXXXX`."""
    parts = []
    for ch in secret:
        alternatives = [re.escape(ch)]
        hexed = "".join(f"%{b:02x}" for b in ch.encode("utf-8"))
        alternatives.append("(?i:" + re.escape(hexed) + ")")
        alternatives.append("(?i:" + re.escape(hexed.replace("%", "%25")) + ")")
        alternatives.append("(?i:" + re.escape(f"\\u{ord(ch):04x}") + ")") if ord(ch) < 0x10000 else None
        if ch == " ":
            alternatives.append(r"\+")
        if ch == "/":
            alternatives.append(r"\\/")
        if ch == "+":  # sent unencoded in a query, echoed back decoded as a space
            alternatives.append(" ")
        parts.append("(?:" + "|".join(alternatives) + ")")
    return re.compile("".join(parts))


class Redactor:
    """Replaces known secret values, in every encoding, and credential-looking query parameters, with '***'."""

    MASK = "***"

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: list[str] = []
        self._forms: list[str] = []
        self._patterns: list[re.Pattern[str]] = []
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < 4 or secret in self._secrets:
            return
        with self._lock:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)  # longest first: masked whole
            self._forms = sorted({f for s in self._secrets for f in secret_forms(s)}, key=len, reverse=True)
            self._patterns = [secret_pattern(s) for s in self._secrets]

    def text(self, value: str) -> str:
        for pattern in self._patterns:
            value = pattern.sub(self.MASK, value)
        for form in self._forms:
            if form in value:
                value = value.replace(form, self.MASK)
        return value

    def leaks(self, value: str) -> bool:
        """Does value hold a secret in any of its forms?"""
        return any(p.search(value) for p in self._patterns) or any(form in value for form in self._forms)

    def url(self, url: str) -> str:
        """The URL with secret query values and userinfo masked."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = self.MASK + "@" + netloc.rsplit("@", 1)[1]
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(_SECRET_PARAMS.match(k) for k, _ in pairs):
                query = urlencode([(k, self.MASK if _SECRET_PARAMS.match(k) else v) for k, v in pairs], safe="*$',:()")
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))

    def scrub(self, obj: Any) -> Any:
        """A deep copy of obj (dicts, lists, strings) with every secret masked."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, Mapping):
            return {self.scrub(k): self.scrub(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.scrub(v) for v in obj]
        return obj


@dataclass(frozen=True)
class HttpPolicy:
    """Limits for one checker run. Tests shrink the timeouts and backoff."""

    user_agent: str = USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # per socket read
    request_deadline: float = 120.0  # wall clock per attempt: connect + headers + whole body
    retries: int = 3  # extra attempts after the first
    backoff_base: float = 1.0  # seconds; doubled per attempt
    backoff_cap: float = 60.0  # no single wait is longer; a longer Retry-After is a failure
    max_bytes: int = 25 * 1024 * 1024
    max_redirects: int = 5
    per_host: int = 2
    max_workers: int = 16
    allow_addresses: frozenset[str] = frozenset()  # e.g. {"127.0.0.1"} in tests


@dataclass(frozen=True)
class Request:
    """One GET. `key` identifies it in fetch_many's answer; headers may carry credentials."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    key: str = ""


@dataclass
class Fetched:
    """The outcome of one GET: a response, or a failure explained in safe words."""

    url: str  # redacted final URL
    status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, a safe subset
    failure: str | None = None  # None | "unreachable" | "gone" | "blocked" | "skipped"
    message: str = ""
    attempts: int = 0
    reason: str | None = None  # why it failed: one of NETWORK_REASONS, or "http", "policy", "deadline", "run-deadline", "internal"

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def network_failure(self) -> bool:
        """Failed before any server answered, for a reason that says nothing about the source itself."""
        return self.failure is not None and self.reason in NETWORK_REASONS

    @property
    def sha256(self) -> str | None:
        return hashlib.sha256(self.body).hexdigest() if self.ok and not self.not_modified else None

    def evidence(self) -> dict[str, Any]:
        """Status, validators and hash, for verification.json and the report."""
        out: dict[str, Any] = {"url": self.url}
        if self.status is not None:
            out["status"] = self.status
        for name in ("etag", "last-modified"):
            if self.headers.get(name):
                out[name.replace("-", "_")] = self.headers[name]
        if self.sha256:
            out["sha256"] = self.sha256
        if self.failure:
            out["failure"] = self.failure
            out["message"] = self.message
        return out


_KEPT_HEADERS = ("content-type", "etag", "last-modified", "content-length", "retry-after")


class _Refused(Exception):
    """A request our safety rules do not allow."""


class _Failed(Exception):
    """A request that did not succeed; `retry` says whether trying again may help."""

    def __init__(self, kind: str, message: str, status: int | None = None, retry: bool = False, reason: str | None = None):
        super().__init__(message)
        self.kind, self.message, self.status, self.retry = kind, message, status, retry
        self.reason = reason or ("http" if status is not None else "connection")
        self.retry_after: float | None = None


# ---------------------------------------------------------------- the watchdog and the connection-time address check


class _Guard:
    """One attempt's wall-clock limit and address rules, seen by every connection the attempt opens.

    When the limit passes, `fire` shuts every socket of the attempt down: a read
    blocked on a server trickling one byte a second returns at once.
    """

    def __init__(self, allow: frozenset[str]):
        self.allow = allow
        self.fired: str | None = None  # "request" | "run"
        self.refused: str | None = None
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._socks.append(sock)
            fired = self.fired
        if fired:
            _shutdown(sock)

    def fire(self, which: str) -> None:
        with self._lock:
            self.fired = which
            socks = list(self._socks)
        for sock in socks:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


_local = threading.local()


def _current_guard() -> _Guard | None:
    return getattr(_local, "guard", None)


def _guarded_classes() -> tuple[type, type]:
    """urllib3 connection pools whose connections report to the current attempt's _Guard."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Guarded:
        host: str

        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()  # type: ignore[misc]
            guard = _current_guard()
            if guard is None:  # only the Fetcher uses these pools; refuse anything else
                sock.close()
                raise OSError("connection opened outside a guarded request")
            guard.watch(sock)
            try:
                peer = sock.getpeername()[0]
            except OSError:
                peer = None
            problem = address_problem(peer, self.host, guard.allow) if peer is not None else None
            if problem:
                guard.refused = problem
                sock.close()
                raise OSError(problem)
            return sock

        def request(self, *args: Any, **kwargs: Any) -> Any:
            guard = _current_guard()
            if guard is not None:
                guard.watch(getattr(self, "sock", None))  # a kept-alive connection reused by this attempt
            return super().request(*args, **kwargs)  # type: ignore[misc]

    class GuardedHTTPConnection(Guarded, HTTPConnection):
        pass

    class GuardedHTTPSConnection(Guarded, HTTPSConnection):
        pass

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return GuardedHTTPPool, GuardedHTTPSPool


def _adapter(pool_maxsize: int) -> Any:
    from requests.adapters import HTTPAdapter

    http_pool, https_pool = _guarded_classes()

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}

    return GuardedAdapter(pool_connections=32, pool_maxsize=pool_maxsize, max_retries=0)


def _network_reason(exc: BaseException) -> str:
    """What a connection-level exception says about the network (follows causes and wrapped reasons)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    found: list[str] = []
    while stack:
        e = stack.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        name = type(e).__name__
        if isinstance(e, ConnectionRefusedError):
            return "refused"
        if isinstance(e, socket.gaierror) or name == "NameResolutionError":
            found.append("dns")
        elif isinstance(e, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
            found.append("reset")
        elif isinstance(e, ssl.SSLError) or name == "SSLError":
            found.append("tls")
        elif isinstance(e, OSError) and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN):
            found.append("no-route")
        elif isinstance(e, (TimeoutError, socket.timeout)) or "Timeout" in name:
            found.append("timeout")
        stack += [e.__cause__, e.__context__, getattr(e, "reason", None), *[a for a in e.args if isinstance(a, BaseException)]]
    for reason in ("dns", "no-route", "tls", "reset", "timeout"):
        if reason in found:
            return reason
    return "connection"


class _Host:
    """Per-host bookkeeping: a slot limit and a 'not before' time set by Retry-After."""

    def __init__(self, limit: int):
        self.slots = threading.BoundedSemaphore(limit)
        self.lock = threading.Lock()
        self.not_before = 0.0

    def defer(self, seconds: float) -> None:
        with self.lock:
            self.not_before = max(self.not_before, time.monotonic() + seconds)

    def wait_turn(self, sleep: Callable[[float], None], deadline: float | None) -> bool:
        """Wait until the host may be asked again; False when that is after the deadline."""
        while True:
            with self.lock:
                delay = self.not_before - time.monotonic()
            if delay <= 0:
                return True
            if deadline is not None and time.monotonic() + delay > deadline:
                return False
            sleep(delay)


class Fetcher:
    """A requests Session with the project's network rules. Thread-safe."""

    def __init__(self, policy: HttpPolicy | None = None, redactor: Redactor | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        import requests

        self.policy = policy or HttpPolicy()
        self.redactor = redactor or Redactor()
        self._sleep = sleep
        self._session = requests.Session()
        self._session.headers.update({"User-Agent": self.policy.user_agent, "Accept-Encoding": "gzip, deflate"})
        adapter = _adapter(max(4, self.policy.per_host * 2))
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.trust_env = False  # no proxies or .netrc credentials from the environment
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ public

    def fetch(self, request: Request | str, deadline: float | None = None) -> Fetched:
        """One GET with retries, redirects re-checked, the size cap, the host limit and the deadlines.

        `deadline` is the run's (a time.monotonic() value): past it nothing new starts and a
        transfer in flight is cut off; the answer is then `skipped` for this run.
        """
        if isinstance(request, str):
            request = Request(request)
        shown = self.redactor.url(request.url)
        try:
            try:
                host = self._host(host_key(request.url))
            except _Refused as exc:
                return Fetched(shown, failure="blocked", message=self.redactor.text(str(exc)), reason="policy")
            if deadline is not None and time.monotonic() >= deadline:
                return _past_run_deadline(shown)
            with host.slots:
                return self._fetch_with_retries(request, host, deadline)
        except Exception as exc:  # a bug or an exotic failure: this document's problem, never the run's
            return Fetched(shown, failure="unreachable", reason="internal",
                           message=self.redactor.text(f"the request failed unexpectedly ({type(exc).__name__}: {exc})")[:300])

    def fetch_many(self, requests: Sequence[Request], on_done: Callable[[Request, Fetched], None] | None = None,
                   deadline: float | None = None) -> dict[str, Fetched]:
        """Fetch all, `per_host` at a time per host and hosts in parallel; answers by request key.

        Each host's queue is drained by at most `per_host` workers, so no worker
        ever waits on a busy host while another host has work.
        """
        queues: dict[str, deque[Request]] = {}
        results: dict[str, Fetched] = {}
        for req in requests:
            try:
                key = host_key(req.url)
            except _Refused as exc:
                results[req.key] = Fetched(self.redactor.url(req.url), failure="blocked", message=self.redactor.text(str(exc)), reason="policy")
                if on_done:
                    on_done(req, results[req.key])
                continue
            queues.setdefault(key, deque()).append(req)
        lock = threading.Lock()

        def drain(queue: deque[Request]) -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    req = queue.popleft()
                got = self.fetch(req, deadline)
                with lock:
                    results[req.key] = got
                if on_done:
                    on_done(req, got)

        # Round-robin over hosts, so the first workers start on different hosts.
        drainers = [q for rank in range(self.policy.per_host) for q in queues.values() if rank < len(q)]
        if not drainers:
            return results
        with ThreadPoolExecutor(max_workers=min(self.policy.max_workers, len(drainers)), thread_name_prefix="fetch") as pool:
            for future in [pool.submit(drain, q) for q in drainers]:
                future.result()
        return results

    # ------------------------------------------------------------ internals

    def _host(self, key: str) -> _Host:
        with self._hosts_lock:
            if key not in self._hosts:
                self._hosts[key] = _Host(self.policy.per_host)
            return self._hosts[key]

    def _fetch_with_retries(self, request: Request, host: _Host, deadline: float | None) -> Fetched:
        shown = self.redactor.url(request.url)
        attempt = 0
        while True:
            attempt += 1
            if not host.wait_turn(self._sleep, deadline):
                return _past_run_deadline(shown, attempt - 1)
            if deadline is not None and time.monotonic() >= deadline:
                return _past_run_deadline(shown, attempt - 1)
            try:
                got = self._fetch_following_redirects(request, deadline)
                got.attempts = attempt
                return got
            except _Refused as exc:
                return Fetched(shown, failure="blocked", message=self.redactor.text(str(exc)), attempts=attempt, reason="policy")
            except _Failed as exc:
                if exc.reason == "run-deadline":
                    return Fetched(shown, failure="skipped", message=exc.message, attempts=attempt, reason="run-deadline")
                if not exc.retry or attempt > self.policy.retries:
                    return Fetched(shown, status=exc.status, failure=exc.kind,
                                   message=self.redactor.text(exc.message) + (f" (after {attempt} attempts)" if attempt > 1 else ""),
                                   attempts=attempt, reason=exc.reason)
                delay = min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** (attempt - 1))
                retry_after = exc.retry_after
                if retry_after is not None:
                    if retry_after > self.policy.backoff_cap:
                        return Fetched(shown, status=exc.status, failure="blocked" if exc.status == 429 else exc.kind,
                                       message=self.redactor.text(f"{exc.message}; the server asks to wait {retry_after:.0f} s, more than the {self.policy.backoff_cap:.0f} s cap"),
                                       attempts=attempt, reason=exc.reason)
                    delay = max(delay, retry_after)
                if deadline is not None and time.monotonic() + delay >= deadline:
                    return Fetched(shown, status=exc.status, failure=exc.kind, attempts=attempt, reason=exc.reason,
                                   message=self.redactor.text(exc.message) + "; no time left in this run to try again")
                if retry_after is not None:
                    host.defer(delay)  # the whole host waits, not just this request
                else:
                    self._sleep(delay)

    def _fetch_following_redirects(self, request: Request, deadline: float | None) -> Fetched:
        url = request.url
        seen: set[str] = set()
        headers = dict(request.headers)
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        limit = time.monotonic() + self.policy.request_deadline
        which = "request"
        if deadline is not None and deadline < limit:
            limit, which = deadline, "run"
        guard = _Guard(self.policy.allow_addresses)
        timer = threading.Timer(max(0.0, limit - time.monotonic()), guard.fire, args=(which,))
        timer.daemon = True
        _local.guard = guard
        timer.start()
        try:
            for _ in range(self.policy.max_redirects + 1):
                check_url(url, self.policy.allow_addresses)
                if url in seen:
                    raise _Failed("unreachable", f"redirect loop at {self.redactor.url(url)}")
                seen.add(url)
                got = self._get_once(url, headers, guard, limit)
                if isinstance(got, Fetched):
                    return got
                nxt = got
                if _netloc(nxt) != _netloc(url):
                    # Credentials travel only to the host they were meant for.
                    headers = {k: v for k, v in headers.items() if k.lower() in ("if-none-match", "if-modified-since", "accept")}
                url = nxt
            raise _Failed("unreachable", f"more than {self.policy.max_redirects} redirects from {self.redactor.url(request.url)}")
        finally:
            timer.cancel()
            _local.guard = None

    def _deadline_failure(self, guard: _Guard, url: str) -> _Failed:
        if guard.fired == "run":
            return _Failed("skipped", f"the run's deadline passed while fetching {self.redactor.url(url)}; not checked this run",
                           reason="run-deadline")
        return _Failed("unreachable", f"no complete answer within the {self.policy.request_deadline:g} s deadline "
                                      f"(connect, headers and body): {self.redactor.url(url)}", reason="deadline")

    def _get_once(self, url: str, headers: Mapping[str, str], guard: _Guard, limit: float) -> Fetched | str:
        """One GET: a Fetched, or the next URL of a redirect."""
        import requests

        left = max(0.001, limit - time.monotonic())
        try:
            response = self._session.get(url, headers=headers, stream=True, allow_redirects=False,
                                         timeout=(min(self.policy.connect_timeout, left), min(self.policy.read_timeout, left)))
        except requests.exceptions.RequestException as exc:
            if guard.fired:
                raise self._deadline_failure(guard, url) from None
            if guard.refused:
                raise _Refused(guard.refused) from None
            reason = _network_reason(exc)
            if reason == "timeout":
                raise _Failed("unreachable", f"timed out after {self.policy.read_timeout:g} s: {self.redactor.url(url)}", retry=True, reason="timeout") from None
            raise _Failed("unreachable", f"cannot connect to {self.redactor.url(url)} ({type(exc).__name__}, {reason})", retry=True, reason=reason) from None
        with response:
            self._check_peer(response, url)
            if response.is_redirect or response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise _Failed("unreachable", f"HTTP {response.status_code} without a Location header", response.status_code)
                try:
                    return urljoin(url, location)
                except ValueError:
                    raise _Failed("unreachable", f"HTTP {response.status_code} with an unusable Location header", response.status_code) from None
            got = self._read(response, url, guard)
            if guard.fired:  # a server that closed early can look like a complete body
                raise self._deadline_failure(guard, url)
            return got

    def _check_peer(self, response: Any, url: str) -> None:
        """Re-check the address actually connected to (the connection already did, before sending)."""
        try:
            sock = response.raw.connection.sock
            peer = sock.getpeername()[0] if sock is not None else None
        except (AttributeError, OSError):
            peer = None
        if peer is not None:
            _check_address(peer, urlsplit(url).hostname or "", self.policy.allow_addresses)

    def _read(self, response: Any, url: str, guard: _Guard) -> Fetched:
        status = response.status_code
        kept = {k: response.headers[k] for k in _KEPT_HEADERS if k in response.headers}
        kept = {k.lower(): self.redactor.text(v) for k, v in kept.items()}
        shown = self.redactor.url(url)
        if status == 304:
            return Fetched(shown, status=status, headers=kept)
        if status in (404, 410):
            raise _Failed("gone", f"HTTP {status} {'Not Found' if status == 404 else 'Gone'}: {shown}", status)
        if status in (401, 403):
            raise _Failed("blocked", f"HTTP {status}: access denied (missing or invalid credentials?): {shown}", status)
        if status in _RETRY_STATUS:
            failure = _Failed("blocked" if status == 429 else "unreachable", f"HTTP {status}: {shown}", status, retry=True)
            failure.retry_after = _retry_after(response.headers.get("Retry-After"))
            raise failure
        if status >= 400:
            raise _Failed("unreachable", f"HTTP {status}: {shown}", status)
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.policy.max_bytes:
            raise _Refused(f"response of {int(declared)} bytes exceeds the {self.policy.max_bytes}-byte cap: {shown}")
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > self.policy.max_bytes:
                    raise _Refused(f"response exceeds the {self.policy.max_bytes}-byte cap: {shown}")
                chunks.append(chunk)
                if guard.fired:
                    raise self._deadline_failure(guard, url)
        except (_Refused, _Failed):
            raise
        except Exception as exc:  # a connection dropped, a read timed out or the watchdog cut it mid-body
            if guard.fired:
                raise self._deadline_failure(guard, url) from None
            raise _Failed("unreachable", f"reading the body failed ({type(exc).__name__}): {shown}", retry=True,
                          reason=_network_reason(exc)) from None
        return Fetched(shown, status=status, body=b"".join(chunks), headers=kept)


def _netloc(url: str) -> str | None:
    try:
        return urlsplit(url).netloc
    except ValueError:
        return None


def _past_run_deadline(shown: str, attempts: int = 0) -> Fetched:
    return Fetched(shown, failure="skipped", attempts=attempts, reason="run-deadline",
                   message="the run's deadline passed before this document was fetched; not checked this run")


def host_key(url: str) -> str:
    """The unit of politeness: scheme-less host[:port]. Refuses non-http(s) URLs."""
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError as exc:
        raise _Refused(f"the URL cannot be read ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise _Refused(f"only http and https URLs are fetched, not {parts.scheme or 'a relative URL'!r}")
    if not hostname:
        raise _Refused("the URL has no host")
    return f"{hostname}:{port or (443 if parts.scheme == 'https' else 80)}"


def check_url(url: str, allow: frozenset[str] = frozenset()) -> None:
    """Raise _Refused unless url is http(s) and every address its host resolves to is public (or allowed)."""
    host_key(url)
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(hostname, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise _Failed("unreachable", f"cannot resolve host {hostname!r}", reason="dns") from None
    for info in infos:
        _check_address(str(info[4][0]), hostname, allow)


def address_problem(address: str, hostname: str, allow: frozenset[str] = frozenset()) -> str | None:
    """Why connecting to address is refused, or None when it is globally routable (or allowed).

    `ipaddress.is_global` plus explicit checks: multicast, reserved and unspecified
    addresses, and IPv6 addresses that embed an IPv4 address (IPv4-mapped,
    IPv4-compatible, 6to4, NAT64, Teredo) are judged by the IPv4 address inside.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"refusing to connect to {hostname!r}: {address!r} is not an IP address"
    if str(ip) in allow:
        return None
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        value = int(ip)
        if ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            candidates.append(ip.sixtofour)
        if ip.teredo is not None:
            candidates += list(ip.teredo)
        if value >> 32 == 0 and value > 1:  # ::a.b.c.d, IPv4-compatible (deprecated)
            candidates.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
        if ip in ipaddress.IPv6Network("64:ff9b::/96") or ip in ipaddress.IPv6Network("64:ff9b:1::/48"):  # NAT64
            candidates.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    for candidate in candidates:
        if (not candidate.is_global or candidate.is_multicast or candidate.is_reserved or candidate.is_unspecified
                or candidate.is_loopback or candidate.is_link_local or candidate.is_private):
            shown = f"{ip} (which embeds {candidate})" if candidate is not ip else str(ip)
            return f"refusing to connect to {hostname!r}: it resolves to the non-public address {shown}"
    return None


def _check_address(address: str, hostname: str, allow: frozenset[str]) -> None:
    problem = address_problem(address, hostname, allow)
    if problem:
        raise _Refused(problem)


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    try:
        return max(0.0, when.timestamp() - time.time())
    except (OverflowError, ValueError, OSError):
        return None
