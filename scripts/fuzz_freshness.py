"""Hostile-input campaign against `mlsysim freshness check`, on real servers on 127.0.0.1.

Each case builds the test catalog (tests/fixtures/catalog, sources served by a
local server), makes one source hostile (a trickling body, slow headers, a
quadratic or crashing HTML page, a PDF bomb, JSON nested 200,000 deep, a
redirect to a private address, a key echoed back encoded, an outage, two runs
at once, a flapping or tenfold live value, ...), runs the real CLI in a
subprocess with a hard time limit, and judges what came out:

    tried           cases run
    located error   the hostile input became the affected value's own result
                    (malformed / unreachable / blocked / skipped / proposed, or
                    an outage, or a validation problem naming the place)
    traceback/crash a traceback on stderr, or the process died of a signal
    internal error  "internal error" on stderr
    hang            the run did not finish within the limit
    wrong accepted  a wrong value written or a wrong verdict recorded
    data lost       no report, no verification.json, or other sources' good results gone
    security        a key in any output (in any encoding), or a forbidden address reached

Target: every column zero except "tried" and "located error".

    python scripts/fuzz_freshness.py [--only NAME] [--timeout SECONDS] [--code DIR] [-v]

`--code DIR` runs the CLI from another checkout (e.g. `git archive main | tar -x -C DIR`)
to compare a version before a fix with this one.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from freshness_support import DATASHEET, GRID_CSV, MODEL_CARD, build_catalog, payload, snapshot, sources_yaml  # noqa: E402
from hostile_servers import (RawServer, cdata_html, deep_json, pdf_bomb, quadratic_html, refusing_port,  # noqa: E402
                             trickling_body, trickling_headers)

RUN = "import sys; from mlsysim.cli import main; sys.exit(main(sys.argv[1:]))"
TOKEN = "em/tok+en=Zq8v/2Lk9=="
COLUMNS = ("tried", "located error", "traceback or crash", "internal error", "hang", "wrong result accepted", "data lost", "security")

# Values of the test catalog that every case but the one breaking their source must still get right.
CONTROLS = {
    "datasheet": ("hardware/fx100#memory.capacity", "match"),
    "grid": ("grids/fixture_grid#carbon_intensity", "match"),
    "price": ("nodes/fixture_node#cloud_price", "match"),
    "gb": ("grids/live_grid#carbon_intensity", "match"),
}


# ---------------------------------------------------------------- the hostile server


Route = Callable[[BaseHTTPRequestHandler], None]


def send(h: BaseHTTPRequestHandler, body: bytes, status: int = 200, ctype: str = "text/html; charset=utf-8", headers: dict | None = None) -> None:
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)


def json_route(doc: object) -> Route:
    return lambda h: send(h, json.dumps(doc).encode(), ctype="application/json")


def normal_routes() -> dict[str, Route]:
    return {
        "/datasheet.html": lambda h: send(h, DATASHEET.encode()),
        "/model-card.html": lambda h: send(h, MODEL_CARD.encode()),
        "/grid.csv": lambda h: send(h, GRID_CSV.encode(), ctype="text/csv"),
        "/gb/intensity/date": json_route(payload("gb_carbon_intensity_date.json")),
        "/azure/prices": json_route(payload("azure_retail_prices_nd96isr_h100_v5.json")),
        "/em/latest": json_route(payload("electricity_maps_latest_de.json")),
    }


class Server:
    """A threaded HTTP server on 127.0.0.1 whose answers each case rewires."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = normal_routes()
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = urlsplit(self.path).path
                server.hits.append(self.path)
                route = server.routes.get(path)
                if route is None:
                    route = next((r for p, r in server.routes.items() if p.endswith("*") and path.startswith(p[:-1])), None)
                try:
                    (route or (lambda h: send(h, b"not here", 404)))(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url_for(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def reset(self) -> None:
        self.routes = normal_routes()
        self.hits = []


# ---------------------------------------------------------------- one run of the CLI


@dataclass
class Run:
    code: int | None
    out: str
    err: str
    seconds: float
    report: dict | None
    summary: str

    def claims(self) -> dict[str, dict]:
        return {c["path"]: c for s in (self.report or {}).get("sources", []) for c in s["claims"]}


@dataclass
class Ctx:
    server: Server
    root: Path
    work: Path
    env: dict[str, str]
    timeout: float
    runs: list[Run] = field(default_factory=list)
    started: dict[int, tuple[Path, Path]] = field(default_factory=dict)  # pid -> (report, summary)

    def cli(self, *args: str, env: dict[str, str] | None = None, wait: bool = True) -> Run | subprocess.Popen:
        n = len(self.started)
        report, summary = self.work / f"report{n}.json", self.work / f"summary{n}.md"
        cmd = [sys.executable, "-c", RUN, "freshness", "check", "--catalog", str(self.root), "--report", str(report), "--summary", str(summary), *args]
        proc = subprocess.Popen(cmd, env={**self.env, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                                cwd=self.work)  # not the checkout: `python -c` would import from the working directory
        self.started[proc.pid] = (report, summary)
        if not wait:
            return proc
        return self.finish(proc)

    def finish(self, proc: subprocess.Popen) -> Run:
        start = time.monotonic()
        try:
            out, err = proc.communicate(timeout=self.timeout)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            code = None
        report, summary = self.started[proc.pid]
        run = Run(code, out, err, time.monotonic() - start,
                  json.loads(report.read_text()) if report.is_file() else None,
                  summary.read_text() if summary.is_file() else "")
        self.runs.append(run)
        return run

    def validate(self) -> Run:
        proc = subprocess.run([sys.executable, "-c", RUN, "catalog", "validate", "--catalog", str(self.root)], env=self.env,
                              capture_output=True, text=True, timeout=self.timeout, cwd=self.work)
        run = Run(proc.returncode, proc.stdout, proc.stderr, 0.0, None, "")
        self.runs.append(run)
        return run

    def repoint(self, source_id: str, url: str) -> None:
        text = (self.root / "sources.yaml").read_text()
        start = text.index(f"{source_id}:\n")
        line = text.index("  url: ", start)
        end = text.index("\n", line)
        (self.root / "sources.yaml").write_text(text[:line] + f"  url: {url}" + text[end:])

    def states(self) -> dict[str, dict]:
        path = self.root / "verification.json"
        return json.loads(path.read_text())["claims"] if path.is_file() else {}


@dataclass
class Verdict:
    located: bool = False
    wrong: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    security: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- cases


def expect(run: Run, v: Verdict, path: str, results: tuple[str, ...], words: str = "") -> None:
    c = run.claims().get(path)
    if c is None:
        v.lost.append(f"{path} missing from the report")
    elif c["result"] in results and words in c["message"]:
        v.located = True
    else:
        v.wrong.append(f"{path}: {c['result']} / {c['action']}: {c['message'][:120]}")


def controls(ctx: Ctx, run: Run, v: Verdict, *skip: str) -> None:
    """The other sources' good results are in the report and in verification.json."""
    states = ctx.states()
    for name, (path, result) in CONTROLS.items():
        if name in skip:
            continue
        got = run.claims().get(path, {}).get("result")
        saved = states.get(path, {}).get("result")
        if got is None or saved != result:
            v.lost.append(f"{path}: report {got}, verification.json {saved}")


def hostile_source(route_path: str, route: Route | None, target: str, results: tuple[str, ...], words: str = "",
                   skip: tuple[str, ...] = (), args: tuple[str, ...] = (), env: dict | None = None) -> Callable[[Ctx], Verdict]:
    def case(ctx: Ctx) -> Verdict:
        if route is not None:
            ctx.server.routes[route_path] = route
        run = ctx.cli(*args, env=env)
        v = Verdict()
        expect(run, v, target, results, words)
        controls(ctx, run, v, *skip)
        return v
    return case


def raw_source(source: str, handler: Callable, target: str, results: tuple[str, ...], words: str, skip: tuple[str, ...],
               env: dict | None = None, args: tuple[str, ...] = ()) -> Callable[[Ctx], Verdict]:
    def case(ctx: Ctx) -> Verdict:
        with RawServer(handler) as raw:
            ctx.repoint(source, raw.url("/doc"))
            run = ctx.cli(*args, env=env)
        v = Verdict()
        expect(run, v, target, results, words)
        controls(ctx, run, v, *skip)
        return v
    return case


def redirect(location: str) -> Route:
    return lambda h: send(h, b"", 302, headers={"Location": location})


def gzip_bomb(size: int) -> Route:
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    body = b"".join(comp.compress(block) for _ in range(size >> 20)) + comp.flush()
    return lambda h: send(h, body, headers={"Content-Encoding": "gzip"})


def quadratic_page(ctx: Ctx) -> Verdict:
    from provenance.strategies.text_quote import html_text

    start = time.process_time()
    html_text(quadratic_html(120_000))
    ctx.env["_quadratic_cpu"] = f"{time.process_time() - start:.4f}"
    ctx.server.routes["/datasheet.html"] = lambda h: send(h, quadratic_html(120_000))
    run = ctx.cli("--only", "fixture-datasheet")
    v = Verdict()
    expect(run, v, "hardware/fx100#memory.capacity", ("missing",), "not in the document")
    if run.seconds > 30:
        v.wrong.append(f"took {run.seconds:.0f} s")
    return v


def token_echo(ctx: Ctx) -> Verdict:
    echo = dict(payload("electricity_maps_latest_de.json"))
    echo["debug"] = {"raw": TOKEN, "q": quote(TOKEN, safe=""), "qp": quote_plus(TOKEN), "b64": base64.b64encode(TOKEN.encode()).decode(),
                     "b64url": base64.urlsafe_b64encode(TOKEN.encode()).decode(), "basic": base64.b64encode(b"user:" + TOKEN.encode()).decode()}
    echo["carbonIntensity"] = "oops " + quote(TOKEN, safe="") + " " + base64.b64encode(TOKEN.encode()).decode()
    ctx.server.routes["/em/latest"] = redirect(f"/em/final/{quote(TOKEN, safe='')}?zone=DE&t={quote_plus(TOKEN)}")
    ctx.server.routes["/em/final/*"] = json_route(echo)
    run = ctx.cli("--only", "em-live", env={"ELECTRICITYMAPS_TOKEN": TOKEN})
    v = Verdict()
    expect(run, v, "grids/em_grid#carbon_intensity", ("missing",), "not a number")
    v.security += leaks(ctx, TOKEN)
    return v


def leaks(ctx: Ctx, secret: str, files: bool = True) -> list[str]:
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), quote(secret, safe="").lower(),
             base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("="),
             base64.b64encode(b"user:" + raw).decode()[8:-4]}
    texts = {f"run {i} {k}": t for i, r in enumerate(ctx.runs) for k, t in
             (("stdout", r.out), ("stderr", r.err), ("report", json.dumps(r.report or {})), ("summary", r.summary))}
    if files:
        texts.update({str(p.relative_to(ctx.root)): p.read_text(errors="replace") for p in ctx.root.rglob("*") if p.is_file()})
    return [f"{form!r} in {where}" for form in sorted(forms) for where, text in texts.items() if form in text]


def literal_key(ctx: Ctx) -> Verdict:
    key = "sk-live-Q2/9+zz=ABCDEF0123"
    with open(ctx.root / "sources.yaml", "a") as fh:
        fh.write(f"leaky-api:\n  title: An API\n  publisher: Someone\n  type: api\n  url: https://example.org/api\n  access: {{auth: \"{key}\"}}\n")
    run = ctx.validate()
    v = Verdict(located=run.code == 1 and "leaky-api.access.auth: looks like a literal key" in run.out + run.err)
    v.security += leaks(ctx, key, files=False)  # the key is in sources.yaml because the case wrote it there
    if not v.located:
        v.wrong.append((run.out + run.err)[-200:])
    return v


def concurrent(ctx: Ctx) -> Verdict:
    def slow(doc: object) -> Route:
        def route(h: BaseHTTPRequestHandler) -> None:
            time.sleep(4)
            send(h, json.dumps(doc).encode(), ctype="application/json")
        return route

    ctx.server.routes["/gb/intensity/date"] = slow(payload("gb_carbon_intensity_date.json"))
    ctx.server.routes["/azure/prices"] = slow(payload("azure_retail_prices_nd96isr_h100_v5.json"))
    env = {"MLSYSIM_FRESHNESS_TIMEOUT": "20"}
    procs = [ctx.cli("--apply", "--only", only, env=env, wait=False) for only in ("gb-live", "price-api")]
    runs = [ctx.finish(p) for p in procs]  # type: ignore[arg-type]
    v = Verdict(located=all(r.code == 4 for r in runs))
    states = ctx.states()
    for path, value in (("grids/live_grid#carbon_intensity", 164.0), ("nodes/fixture_node#cloud_price", 98.32)):
        if states.get(path, {}).get("observed") != value:
            v.lost.append(f"{path} not in verification.json after two concurrent runs")
    if "value: 164\n" not in (ctx.root / "grids" / "live_grid.yaml").read_text() or \
            "value: 98.32" not in (ctx.root / "systems" / "nodes" / "fixture_node.yaml").read_text():
        v.lost.append("an edit of one concurrent run was lost")
    return v


def killed_run(ctx: Ctx) -> Verdict:
    """SIGKILL a run mid-fetch; every file stays whole and the catalog copy a killed run leaves is cleaned next time."""
    before = snapshot(ctx.root)
    with RawServer(trickling_body(every=0.2)) as raw:
        ctx.repoint("fixture-datasheet", raw.url("/doc"))
        before = snapshot(ctx.root)
        proc = ctx.cli("--apply", wait=False)
        time.sleep(4)
        os.killpg(proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
        proc.communicate()  # type: ignore[union-attr]  (killed on purpose: not a run to judge)
    v = Verdict()
    now = snapshot(ctx.root)
    if any(now.get(k) != b for k, b in before.items()):
        v.lost.append("a file changed under a run killed before it wrote anything")
    tmp = Path(ctx.env["TMPDIR"])
    dead = tmp / "mlsysim-freshness-killed"
    (dead / "catalog").mkdir(parents=True, exist_ok=True)
    old = time.time() - 7200
    os.utime(dead, (old, old))
    ctx.server.routes["/doc"] = lambda h: send(h, DATASHEET.encode())
    ctx.repoint("fixture-datasheet", ctx.server.url_for("/datasheet.html"))
    run = ctx.cli()
    v.located = run.code in (0, 4) and not dead.exists()
    if dead.exists():
        v.lost.append("a killed run's catalog copy is still in the temp directory")
    controls(ctx, run, v)
    return v


def gb_doc(value: float) -> dict:
    return {"data": [{"from": "2026-03-20T03:30Z", "to": "2026-03-20T04:00Z", "intensity": {"forecast": value, "actual": value, "index": "high"}}]}


def flapping(ctx: Ctx) -> Verdict:
    v = Verdict()
    grid = ctx.root / "grids" / "live_grid.yaml"
    applied = 0
    for value in (164, 171, 164, 171, 164, 171):
        ctx.server.routes["/gb/intensity/date"] = json_route(gb_doc(value))
        run = ctx.cli("--only", "gb-live", "--apply")
        c = run.claims().get("grids/live_grid#carbon_intensity", {})
        applied += c.get("action") == "applied"
        v.located |= "unstable" in c.get("message", "")
    if applied > 1:
        v.wrong.append(f"a value flapping 164/171 was applied on {applied} of 6 runs")
    if "value: 164\n" not in grid.read_text():
        v.wrong.append("the flapping value was re-applied")
    return v


def tenfold(ctx: Ctx) -> Verdict:
    ctx.server.routes["/gb/intensity/date"] = json_route(gb_doc(900))
    before = (ctx.root / "grids" / "live_grid.yaml").read_bytes()
    run = ctx.cli("--only", "gb-live", "--apply")
    v = Verdict()
    expect(run, v, "grids/live_grid#carbon_intensity", ("changed",), "max_step")
    if (ctx.root / "grids" / "live_grid.yaml").read_bytes() != before:
        v.wrong.append("a 5x change inside the plausible range was written")
    return v


def outage(urls: Callable[[Ctx], str], reason: str) -> Callable[[Ctx], Verdict]:
    def case(ctx: Ctx) -> Verdict:
        first = ctx.cli()
        v = Verdict()
        if first.code not in (0, 4):
            v.lost.append(f"the good run before the outage exited {first.code}")
        (ctx.root / "sources.yaml").write_text(sources_yaml(urls(ctx)))
        before = snapshot(ctx.root)
        run = ctx.cli()
        v.located = run.code == 5 and "OUTAGE" in run.err and reason in (run.report or {}).get("outage", "")
        if snapshot(ctx.root) != before:
            v.wrong.append("an outage changed the catalog (badges turned red)")
        if run.report is None:
            v.lost.append("no report for the outage run")
        if not v.located:
            v.wrong.append(f"exit {run.code}: {run.err[-200:]}")
        return v
    return case


def run_deadline(ctx: Ctx) -> Verdict:
    with RawServer(trickling_body(every=0.2)) as raw:
        ctx.repoint("fixture-datasheet", raw.url("/doc"))
        run = ctx.cli("--deadline", "3")
    v = Verdict()
    expect(run, v, "hardware/fx100#memory.capacity", ("skipped",), "deadline")
    controls(ctx, run, v, "datasheet")
    return v


def forbidden(location: str) -> Callable[[Ctx], Verdict]:
    def case(ctx: Ctx) -> Verdict:
        ctx.server.routes["/grid.csv"] = redirect(location)
        run = ctx.cli()
        v = Verdict()
        expect(run, v, "grids/fixture_grid#carbon_intensity", ("blocked",), "non-public address")
        if run.claims().get("grids/fixture_grid#carbon_intensity", {}).get("result") != "blocked":
            v.security.append(f"a connection to {location} was attempted")  # not refused by our rules: we tried to connect
        controls(ctx, run, v, "grid")
        return v
    return case


REQUEST_DEADLINE = {"MLSYSIM_FRESHNESS_REQUEST_DEADLINE": "5"}

CASES: dict[str, Callable[[Ctx], Verdict]] = {
    "trickling body (1 byte / 0.2 s)": raw_source("fixture-datasheet", trickling_body(0.2), "hardware/fx100#memory.capacity", ("unreachable",), "deadline", ("datasheet",), REQUEST_DEADLINE),
    "trickling headers (1 byte / 0.2 s)": raw_source("fixture-datasheet", trickling_headers(0.2), "hardware/fx100#memory.capacity", ("unreachable",), "deadline", ("datasheet",), REQUEST_DEADLINE),
    "run deadline (--deadline 3)": run_deadline,
    "<a <a <a ... 120 KB page": quadratic_page,
    "<![<![<![ page": hostile_source("/datasheet.html", lambda h: send(h, cdata_html() + DATASHEET.encode()), "hardware/fx100#memory.capacity", ("match",)),
    "PDF bomb (1 GiB inflated)": hostile_source("/datasheet.html", (lambda body: lambda h: send(h, body, ctype="application/pdf"))(pdf_bomb(1 << 30)),
                                                "hardware/fx100#memory.capacity", ("malformed",), "LimitReachedError", ("datasheet",)),
    "gzip bomb over HTTP (1 GiB)": hostile_source("/datasheet.html", gzip_bomb(1 << 30), "hardware/fx100#memory.capacity", ("blocked",), "cap", ("datasheet",)),
    "declared 5 GB Content-Length": hostile_source("/datasheet.html", lambda h: (h.send_response(200), h.send_header("Content-Length", str(5 << 30)), h.end_headers()),
                                                   "hardware/fx100#memory.capacity", ("blocked",), "cap", ("datasheet",)),
    "body shorter than Content-Length": hostile_source("/datasheet.html", lambda h: (h.send_response(200), h.send_header("Content-Length", "100000"), h.end_headers(), h.wfile.write(b"<p>short")),
                                                       "hardware/fx100#memory.capacity", ("unreachable",), "", ("datasheet",)),
    "JSON nested 200,000 deep": hostile_source("/gb/intensity/date", (lambda body: lambda h: send(h, body, ctype="application/json"))(deep_json()),
                                               "grids/live_grid#carbon_intensity", ("malformed",), "nested", ("gb",)),
    "JSON integer of 100,000 digits": hostile_source("/gb/intensity/date", lambda h: send(h, b'{"data": [' + b"1" * 100_000 + b"]}", ctype="application/json"),
                                                     "grids/live_grid#carbon_intensity", ("malformed",), "", ("gb",)),
    "JSON NaN and Infinity": hostile_source("/gb/intensity/date", lambda h: send(h, b'{"data": [{"from": "2026-03-20T03:30Z", "intensity": {"actual": NaN}}, {"from": "2026-03-20T04:00Z", "intensity": {"actual": Infinity}}]}', ctype="application/json"),
                                            "grids/live_grid#carbon_intensity", ("missing",), "", ("gb",)),
    "bogus charset and bytes": hostile_source("/datasheet.html", lambda h: send(h, b"\xff\xfe<p>\x00\x81GPU Memory 80GB HBM3", ctype="text/html; charset=x-bogus-42"),
                                              "hardware/fx100#memory.capacity", ("match", "missing", "changed"), "", ("datasheet",)),
    "redirect to 100.64.0.1 (CGNAT)": forbidden("http://100.64.0.1/latest/meta-data/"),
    "redirect to [2002:0a00:0001::] (6to4)": forbidden("http://[2002:0a00:0001::]/x"),
    "redirect to [64:ff9b::a9fe:a9fe] (NAT64)": forbidden("http://[64:ff9b::a9fe:a9fe]/x"),
    "redirect to [::ffff:127.0.0.1] (mapped)": forbidden("http://[::ffff:127.0.0.1]:1/x"),
    "redirect to 169.254.169.254": forbidden("http://169.254.169.254/latest/meta-data/"),
    "malformed Location header": hostile_source("/grid.csv", redirect("http://[::1"), "grids/fixture_grid#carbon_intensity", ("unreachable", "blocked"), "", ("grid",)),
    "redirect chain of 50": hostile_source("/hop*", None, "grids/fixture_grid#carbon_intensity", ("unreachable",), "redirects", ("grid",)),
    "429 with a garbage Retry-After date": hostile_source("/grid.csv", lambda h: send(h, b"", 429, headers={"Retry-After": "Wed, 99 Foo 99999 99:99:99 GMT"}),
                                                     "grids/fixture_grid#carbon_intensity", ("blocked",), "", ("grid",)),
    "token echoed encoded (path, query, JSON, base64)": token_echo,
    "literal key in auth (catalog validate)": literal_key,
    "two --apply runs at once": concurrent,
    "run killed mid-fetch, then rerun": killed_run,
    "flapping live value 164/171": flapping,
    "5x live change inside plausible": tenfold,
    "outage: every host refuses": outage(lambda ctx: f"http://127.0.0.1:{refusing_port()}", "refused"),
    "outage: DNS fails for every host": outage(lambda ctx: "http://nonexistent-host.invalid", "dns"),
}


def _hops(ctx: Ctx) -> None:
    for i in range(50):
        ctx.server.routes[f"/hop{i}"] = redirect(f"/hop{i + 1}")
    ctx.server.routes["/grid.csv"] = redirect("/hop0")


PREPARE: dict[str, Callable[[Ctx], None]] = {"redirect chain of 50": _hops}


# ---------------------------------------------------------------- the campaign


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="run the cases whose name contains this text")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a run counts as a hang")
    parser.add_argument("--code", type=Path, default=REPO, help="checkout whose mlsysim/provenance the CLI runs (default: this one)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)

    server = Server()
    totals = dict.fromkeys(COLUMNS, 0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fuzz-freshness-") as tmp:
        for name, case in CASES.items():
            if args.only and args.only not in name:
                continue
            work = Path(tmp) / f"case{len(rows)}"
            (work / "tmp").mkdir(parents=True)
            server.reset()
            root = build_catalog(work / "catalog", server)  # type: ignore[arg-type]
            base = server.url_for("")
            env = {**os.environ, "PYTHONPATH": str(args.code.resolve()), "TMPDIR": str(work / "tmp"), "MLSYSIM_CACHE_DIR": str(Path(tmp) / "cache"),
                   "MLSYSIM_FRESHNESS_ALLOW_ADDRESSES": "127.0.0.1", "MLSYSIM_FRESHNESS_BACKOFF": "0.01", "MLSYSIM_FRESHNESS_TIMEOUT": "5",
                   "MLSYSIM_FRESHNESS_CONNECTORS": f"{base}/gb/=gb_carbon_intensity,{base}/azure/=azure_retail_prices,{base}/em/=electricity_maps"}
            env.pop("ELECTRICITYMAPS_TOKEN", None)
            env.pop("MLSYSIM_DEBUG", None)
            ctx = Ctx(server, root, work, env, args.timeout)
            PREPARE.get(name, lambda c: None)(ctx)
            start = time.monotonic()
            try:
                verdict = case(ctx)
            except Exception as exc:  # the harness itself failed: count it as a crash, say why
                verdict = Verdict(wrong=[f"harness: {type(exc).__name__}: {exc}"])
            took = time.monotonic() - start
            row = dict.fromkeys(COLUMNS, 0)
            row["tried"] = 1
            row["located error"] = int(verdict.located)
            row["traceback or crash"] = int(any("Traceback" in r.err or (r.code is not None and r.code < 0) for r in ctx.runs
                                                if r.code != -signal.SIGKILL))
            row["internal error"] = int(any("internal error" in r.err for r in ctx.runs))
            row["hang"] = int(any(r.code is None for r in ctx.runs))
            row["wrong result accepted"] = int(bool(verdict.wrong))
            row["data lost"] = int(bool(verdict.lost) or any(r.report is None and r.code in (0, 4, 5) and "freshness" in r.out for r in ctx.runs))
            row["security"] = int(bool(verdict.security))
            for k in COLUMNS:
                totals[k] += row[k]
            notes = verdict.wrong + verdict.lost + verdict.security
            if name.startswith("<a <a"):
                notes.insert(0, f"html_text CPU {ctx.env['_quadratic_cpu']} s; CLI run {ctx.runs[-1].seconds:.1f} s")
            rows.append((name, row, took, notes))
            flag = "ok " if not any(row[k] for k in COLUMNS[2:]) else "BAD"
            print(f"{flag} {name:<48} {took:6.1f} s  {'; '.join(notes)[:200]}", flush=True)
            if args.verbose and flag == "BAD":
                for r in ctx.runs:
                    print(f"    exit {r.code}\n    {r.out[-800:]}\n    {r.err[-800:]}")
            shutil.rmtree(work, ignore_errors=True)

    print()
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "|".join("-" * (len(c) + 2) for c in COLUMNS) + "|")
    print("| " + " | ".join(str(totals[c]).rjust(len(c)) for c in COLUMNS) + " |")
    bad = sum(totals[c] for c in COLUMNS[2:])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
