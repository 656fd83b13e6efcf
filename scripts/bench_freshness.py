"""Freshness checker throughput: 200 cited values over 40 sources on 5 hosts.

Five local HTTP servers (127.0.0.1 ... 127.0.0.5) answer every request after
100 ms and count, on the server side, how many requests each host has in
flight at once. A generated catalog (40 sources, 200 assumption records each
quoting its source) is checked twice from scratch: once one request at a time
(the serial baseline) and once with the checker's defaults (per-host limit 2,
hosts in parallel). Target: at least 5x faster than serial, never more than
the per-host limit in flight on any host.

    python scripts/bench_freshness.py [--per-host N] [--delay SECONDS]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOSTS = [f"127.0.0.{i}" for i in range(1, 6)]
SOURCES, CLAIMS = 40, 200


class Host:
    """One server's in-flight counter (server side)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inflight = 0
        self.peak = 0
        self.requests = 0

    def reset(self) -> None:
        with self.lock:
            self.inflight = self.peak = self.requests = 0


def serve(address: str, delay: float, host: Host) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            with host.lock:
                host.inflight += 1
                host.requests += 1
                host.peak = max(host.peak, host.inflight)
            try:
                time.sleep(delay)
                source = int(self.path.rsplit("/", 1)[-1])
                lines = "".join(f"<tr><td>claim {c}: MTTF</td><td>{50000 + c} hours</td></tr>"
                                for c in range(CLAIMS) if c % SOURCES == source)
                body = f"<html><body><table>{lines}</table></body></html>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            finally:
                with host.lock:
                    host.inflight -= 1

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((address, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def write_catalog(root: Path, servers: list[ThreadingHTTPServer]) -> None:
    (root / "assumptions").mkdir(parents=True)
    lines = []
    for s in range(SOURCES):
        address, port = servers[s % len(servers)].server_address[:2]
        lines += [f"bench-{s}:", f"  title: Bench datasheet {s}", "  publisher: Bench", "  type: datasheet",
                  f"  url: http://{address}:{port}/doc/{s}"]
    (root / "sources.yaml").write_text("\n".join(lines) + "\n")
    for c in range(CLAIMS):
        (root / "assumptions" / f"bench_{c}.yaml").write_text(
            f"id: bench_{c}\nname: Bench MTTF {c}\ndimension: time\n"
            f'quantity: {{value: {50000 + c}, unit: hour, source: bench-{c % SOURCES}, as_stated: "claim {c}: MTTF {50000 + c} hours"}}\n')


def check(root: Path, per_host: int, workers: int) -> tuple[float, dict]:
    from mlsysim.catalog import load_catalog
    from mlsysim.catalog.freshness import claim_refs, convert, validator
    from provenance.checker import Checker, Options
    from provenance.http import Fetcher, HttpPolicy

    refs = claim_refs(load_catalog(root))
    policy = HttpPolicy(allow_addresses=frozenset(HOSTS), per_host=per_host, max_workers=workers)
    with Fetcher(policy) as fetcher:
        checker = Checker(root, refs, fetcher=fetcher, convert=convert, validate=validator(root),
                          options=Options(today=dt.date.today()), environ={})
        start = time.perf_counter()
        report = checker.run()
        return time.perf_counter() - start, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-host", type=int, default=None, help="per-host limit (default: the checker's)")
    parser.add_argument("--delay", type=float, default=0.1, help="server delay per request, seconds")
    args = parser.parse_args()
    from provenance.http import HttpPolicy

    per_host = args.per_host or HttpPolicy().per_host
    workers = HttpPolicy().max_workers
    hosts = [Host() for _ in HOSTS]
    servers = [serve(address, args.delay, host) for address, host in zip(HOSTS, hosts)]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLSYSIM_CACHE_DIR"] = str(Path(tmp) / "cache")
        results = {}
        for label, limit, pool in (("serial", 1, 1), ("parallel", per_host, workers)):
            root = Path(tmp) / label / "catalog"
            write_catalog(root, servers)
            for h in hosts:
                h.reset()
            seconds, report = check(root, limit, pool)
            results[label] = (seconds, report, [h.peak for h in hosts], sum(h.requests for h in hosts))
    for server in servers:
        server.shutdown()

    serial, parallel = results["serial"][0], results["parallel"][0]
    print(f"{CLAIMS} claims, {SOURCES} sources, {len(HOSTS)} hosts, {args.delay * 1000:.0f} ms per request")
    for label, (seconds, report, peaks, requests) in results.items():
        print(f"  {label:8s} {seconds:6.2f} s  requests={requests}  counts={report['counts']}  "
              f"max in flight per host (server side)={peaks}")
    print(f"  ideal serial (requests x delay): {results['serial'][3] * args.delay:.2f} s")
    speedup = serial / parallel
    worst = max(results["parallel"][2])
    print(f"speed-up {speedup:.1f}x (target >= 5x): {'OK' if speedup >= 5 else 'MISSED'}; "
          f"max in flight on any host {worst} (limit {per_host}): {'OK' if worst <= per_host else 'EXCEEDED'}")


if __name__ == "__main__":
    main()
