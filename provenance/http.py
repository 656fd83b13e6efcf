"""The one polite, safe HTTP helper every freshness strategy and connector uses.

Politeness: an identifying User-Agent, conditional requests (the caller passes
the stored ETag / Last-Modified), timeouts, retries with capped exponential
backoff that honour Retry-After on 429/503, and at most `per_host` requests in
flight to any one host (other hosts proceed in parallel).

Safety: http(s) only; every redirect is followed by hand and re-checked; no
request goes to a private, loopback, link-local, multicast or reserved address
unless the address is explicitly allowed (tests allow 127.0.0.1); bodies are
capped; API keys are read from the environment by the caller and scrubbed
from every URL, message and report by a Redactor.

Failures are values, not exceptions: `fetch` returns a Fetched whose `failure`
says what went wrong (`unreachable`, `gone` or `blocked`) in words that never
contain a secret.
"""

from __future__ import annotations

import email.utils
import hashlib
import ipaddress
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

USER_AGENT = "mlsysim-freshness/0.1 (cited-catalog source verification; python-requests)"

# Query parameters that carry credentials in the wild; their values are never shown.
_SECRET_PARAMS = re.compile(r"^(api[-_]?key|apikey|key|token|auth[-_]?token|access[-_]?token|auth|sig|signature|password|secret|code)$", re.I)
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class Redactor:
    """Replaces known secret values, and credential-looking query parameters, with '***'."""

    MASK = "***"

    def __init__(self, secrets: Iterable[str] = ()):
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, self.MASK)
        return value

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
    read_timeout: float = 30.0
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
    failure: str | None = None  # None | "unreachable" | "gone" | "blocked"
    message: str = ""
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

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

    def __init__(self, kind: str, message: str, status: int | None = None, retry: bool = False):
        super().__init__(message)
        self.kind, self.message, self.status, self.retry = kind, message, status, retry
        self.retry_after: float | None = None


class _Host:
    """Per-host bookkeeping: a slot limit and a 'not before' time set by Retry-After."""

    def __init__(self, limit: int):
        self.slots = threading.BoundedSemaphore(limit)
        self.lock = threading.Lock()
        self.not_before = 0.0

    def defer(self, seconds: float) -> None:
        with self.lock:
            self.not_before = max(self.not_before, time.monotonic() + seconds)

    def wait_turn(self, sleep: Callable[[float], None]) -> None:
        while True:
            with self.lock:
                delay = self.not_before - time.monotonic()
            if delay <= 0:
                return
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
        adapter = requests.adapters.HTTPAdapter(pool_connections=32, pool_maxsize=max(4, self.policy.per_host * 2), max_retries=0)
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

    def fetch(self, request: Request | str) -> Fetched:
        """One GET with retries, redirects re-checked, the size cap and the host limit."""
        if isinstance(request, str):
            request = Request(request)
        shown = self.redactor.url(request.url)
        try:
            host = self._host(host_key(request.url))
        except _Refused as exc:
            return Fetched(shown, failure="blocked", message=self.redactor.text(str(exc)))
        with host.slots:
            return self._fetch_with_retries(request, host)

    def fetch_many(self, requests: Sequence[Request], on_done: Callable[[Request, Fetched], None] | None = None) -> dict[str, Fetched]:
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
                results[req.key] = Fetched(self.redactor.url(req.url), failure="blocked", message=self.redactor.text(str(exc)))
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
                got = self.fetch(req)
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

    def _fetch_with_retries(self, request: Request, host: _Host) -> Fetched:
        shown = self.redactor.url(request.url)
        attempt = 0
        while True:
            attempt += 1
            host.wait_turn(self._sleep)
            try:
                got = self._fetch_following_redirects(request)
                got.attempts = attempt
                return got
            except _Refused as exc:
                return Fetched(shown, failure="blocked", message=self.redactor.text(str(exc)), attempts=attempt)
            except _Failed as exc:
                if not exc.retry or attempt > self.policy.retries:
                    return Fetched(shown, status=exc.status, failure=exc.kind,
                                   message=self.redactor.text(exc.message) + (f" (after {attempt} attempts)" if attempt > 1 else ""),
                                   attempts=attempt)
                delay = min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** (attempt - 1))
                retry_after = exc.retry_after
                if retry_after is not None:
                    if retry_after > self.policy.backoff_cap:
                        return Fetched(shown, status=exc.status, failure="blocked" if exc.status == 429 else exc.kind,
                                       message=f"{exc.message}; the server asks to wait {retry_after:.0f} s, more than the {self.policy.backoff_cap:.0f} s cap",
                                       attempts=attempt)
                    delay = max(delay, retry_after)
                    host.defer(delay)  # the whole host waits, not just this request
                else:
                    self._sleep(delay)

    def _fetch_following_redirects(self, request: Request) -> Fetched:
        import requests

        url = request.url
        seen: set[str] = set()
        headers = dict(request.headers)
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        for _ in range(self.policy.max_redirects + 1):
            check_url(url, self.policy.allow_addresses)
            if url in seen:
                raise _Failed("unreachable", f"redirect loop at {self.redactor.url(url)}")
            seen.add(url)
            try:
                response = self._session.get(url, headers=headers, stream=True, allow_redirects=False,
                                             timeout=(self.policy.connect_timeout, self.policy.read_timeout))
            except requests.exceptions.Timeout:
                raise _Failed("unreachable", f"timed out after {self.policy.read_timeout:g} s: {self.redactor.url(url)}", retry=True) from None
            except requests.exceptions.RequestException as exc:
                raise _Failed("unreachable", f"cannot connect to {self.redactor.url(url)} ({type(exc).__name__})", retry=True) from None
            with response:
                self._check_peer(response, url)
                if response.is_redirect or response.status_code in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location")
                    if not location:
                        raise _Failed("unreachable", f"HTTP {response.status_code} without a Location header", response.status_code)
                    nxt = urljoin(url, location)
                    if urlsplit(nxt).netloc != urlsplit(url).netloc:
                        # Credentials travel only to the host they were meant for.
                        headers = {k: v for k, v in headers.items() if k.lower() in ("if-none-match", "if-modified-since", "accept")}
                    url = nxt
                    continue
                return self._read(response, url)
        raise _Failed("unreachable", f"more than {self.policy.max_redirects} redirects from {self.redactor.url(request.url)}")

    def _check_peer(self, response: Any, url: str) -> None:
        """Re-check the address actually connected to (defends against DNS answers changing)."""
        try:
            sock = response.raw.connection.sock
            peer = sock.getpeername()[0] if sock is not None else None
        except (AttributeError, OSError):
            peer = None
        if peer is not None:
            _check_address(peer, urlsplit(url).hostname or "", self.policy.allow_addresses)

    def _read(self, response: Any, url: str) -> Fetched:
        status = response.status_code
        kept = {k: response.headers[k] for k in _KEPT_HEADERS if k in response.headers}
        kept = {k.lower(): v for k, v in kept.items()}
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
        except _Refused:
            raise
        except Exception as exc:  # a connection dropped or a read timed out mid-body
            raise _Failed("unreachable", f"reading the body failed ({type(exc).__name__}): {shown}", retry=True) from None
        return Fetched(shown, status=status, body=b"".join(chunks), headers=kept)


def host_key(url: str) -> str:
    """The unit of politeness: scheme-less host[:port]. Refuses non-http(s) URLs."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise _Refused(f"only http and https URLs are fetched, not {parts.scheme or 'a relative URL'!r}")
    if not parts.hostname:
        raise _Refused("the URL has no host")
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def check_url(url: str, allow: frozenset[str] = frozenset()) -> None:
    """Raise _Refused unless url is http(s) and every address its host resolves to is public (or allowed)."""
    host_key(url)
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(hostname, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise _Failed("unreachable", f"cannot resolve host {hostname!r}") from None
    for info in infos:
        _check_address(str(info[4][0]), hostname, allow)


def _check_address(address: str, hostname: str, allow: frozenset[str]) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if str(ip) in allow:
        return
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        raise _Refused(f"refusing to connect to {hostname!r}: it resolves to the non-public address {ip}")


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
