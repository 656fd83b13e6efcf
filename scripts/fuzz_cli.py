"""Hostile-input campaign against every `mlsysim` command, plans and the solvers' argument checks.

CLI/plan cases run the real CLI in-process (`mlsysim.cli.main`) on a copy of the test
catalog (tests/fixtures/catalog) with hostile text added (rich markup, a right-to-left
override, mathtext), each under a time limit; solver cases call the public solver entry
points with edge-case arguments. Each case is judged:

    tried           cases run
    located error   refused with `Error: ...` (exit 1, or 2/3 where meaningful) naming the
                    place: the option or argument, the field, or file:line
    traceback/crash a Python traceback, or an exception other than MlsysimError from a solver
    internal error  "internal error" in the output
    hang            the case did not finish within the limit
    wrong accepted  exit 0 (or a solver result) for an input that must be refused, or
                    markup / raw bidi control characters reaching the terminal
    data lost       a directory not built by mlsysim replaced, or a file it holds lost
    security        a raw U+202E or NUL in any CLI output or generated HTML

Target: every column zero except "tried" and "located error".

    python scripts/fuzz_cli.py [--only SUBSTRING] [--timeout SECONDS] [-v]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

COLUMNS = ("tried", "located error", "traceback or crash", "internal error", "hang", "wrong result accepted", "data lost", "security")
BIDI = "\u202e"
MARKUP = "[bold red]x"
HOSTILE_NAME = f"$x^$ {MARKUP} {BIDI}gnp.exe"


class Hang(Exception):
    pass


@dataclass
class Outcome:
    code: int | None
    out: str
    err: str
    exc: BaseException | None = None


def hostile_catalog(root: Path) -> Path:
    """The bundled catalog with one record name (H100 PCIe) holding markup, mathtext and a bidi override."""
    from mlsysim.catalog.paths import bundled_catalog

    shutil.copytree(bundled_catalog(), root, ignore=shutil.ignore_patterns(".*", "verification.json"))
    hw = root / "hardware" / "cloud" / "h100_pcie.yaml"
    hw.write_text(hw.read_text().replace("name: NVIDIA H100 PCIe 80GB", f"name: {json.dumps(HOSTILE_NAME)}"))
    return root


def run_cli(args: list[str], timeout: float, cwd: Path) -> Outcome:
    """The real CLI entry point, in-process, stdout/stderr captured (the consoles write to
    whatever sys.stdout/sys.stderr are), under an alarm."""
    from mlsysim.cli import main

    out, err = io.StringIO(), io.StringIO()

    def alarm(*_: object) -> None:
        raise Hang()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    here = os.getcwd()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = main(args)
        return Outcome(code, out.getvalue(), err.getvalue())
    except Hang as exc:
        return Outcome(None, out.getvalue(), err.getvalue(), exc)
    except BaseException as exc:  # noqa: BLE001 - a crash is what this looks for
        import traceback

        return Outcome(None, out.getvalue(), err.getvalue() + "Traceback\n" + traceback.format_exc(), exc)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(here)


@dataclass
class CliCase:
    name: str
    args: list[str]
    place: str | None            # text the error must contain (option, field, file:line); None: may succeed
    codes: tuple[int, ...] = (1,)
    setup: Callable[[Path], None] | None = None
    check: Callable[[Path, Outcome], str | None] = lambda _w, _o: None  # returns a column name on failure


def _plan(fields: dict[str, object] | str) -> Callable[[Path], None]:
    def write(work: Path) -> None:
        text = fields if isinstance(fields, str) else "\n".join(f"{k}: {json.dumps(v) if not isinstance(v, str) or v.startswith(('{', '[')) else v}"
                                                               for k, v in fields.items())
        (work / "plan.yaml").write_text(text + "\n", encoding="utf-8")
    return write


BASE_PLAN = {"model": "Llama3_8B", "cluster": "Research_256", "devices": 256, "batch_size": 256,
             "sequence_length": 8192, "efficiency": 0.45, "grid": "Quebec", "datacenter": "Hyperscale", "duration": "30 days"}


def cli_cases(cat: str) -> list[CliCase]:
    c = ["--catalog", cat]
    cases: list[CliCase] = []
    add = cases.append
    hostile_text = {"markup": MARKUP, "close-tag": "[/]", "bidi": f"{BIDI}gnp.exe", "nul": "a\x00b", "esc": "\x1b[31mred",
                    "long": "x" * 10_000, "empty": "", "space": " ", "dollar": "$x^$", "unicode": "Ｈ１００", "path": "../../etc/passwd",
                    "newline": "a\nb"}
    # Unknown names, in every command taking one.
    for label, text in hostile_text.items():
        add(CliCase(f"show {label}", ["show", text, *c], "named" if text.strip() else "", (1, 2)))
        add(CliCase(f"eval model {label}", ["eval", text, "H100", *c], "", (1, 2)))
        add(CliCase(f"eval hardware {label}", ["eval", "Llama3_8B", text, *c], "", (1, 2)))
        add(CliCase(f"zoo {label}", ["zoo", text, *c], "", (1, 2)))
        add(CliCase(f"eval scenario {label}", ["eval", "scenario", text, *c], "", (1, 2)))
        add(CliCase(f"search {label}", ["search", text, *c], None, (0, 1, 2)))
    # Numbers in every numeric option of eval.
    for value in ("nan", "inf", "-inf", "-1", "0", "1e999", "1e12", "x", "", "0x10", "3.5"):
        for option in ("--batch", "--seq-len", "--output-tokens", "--tp", "--concurrent", "--efficiency",
                       "--max-latency-ms", "--max-ttft-ms"):
            valid = value in ("1e12", "3.5") and option.startswith("--max-")  # a generous or a tight SLA: a real answer
            add(CliCase(f"eval {option} {value!r}", ["eval", "Llama3_8B", "H100", option, value, *c],
                        None if valid else option, (0, 3) if valid else (1, 2)))
    for option, value in (("--precision", MARKUP), ("--precision", "fp3"), ("--weight-precision", BIDI), ("--kv-precision", "")):
        add(CliCase(f"eval {option} {value!r}", ["eval", "Llama3_8B", "H100", option, value, *c], "precision"))
    add(CliCase("eval --tp 3 (heads)", ["eval", "Llama3_8B", "H100", "--tp", "3", *c], "tensor parallelism"))
    # Catalog locations.
    add(CliCase("--catalog empty", ["zoo", "hardware", "--catalog", ""], "--catalog", (1, 2)))
    add(CliCase("--catalog missing", ["zoo", "hardware", "--catalog", "/nonexistent/cat"], "/nonexistent/cat"))
    add(CliCase("--catalog a file", ["zoo", "hardware", "--catalog", "/etc/hostname"], "/etc/hostname"))
    add(CliCase("catalog validate missing", ["catalog", "validate", "--catalog", "/nonexistent/cat"], "/nonexistent/cat"))
    add(CliCase("catalog schema --kind markup", ["catalog", "schema", "--kind", MARKUP], "unknown kind"))
    add(CliCase("catalog schema -o a file", ["catalog", "schema", "-o", "afile"], "-o/--out",
                setup=lambda w: (w / "afile").write_text("keep")))
    add(CliCase("catalog snapshot -o missing dir", ["catalog", "snapshot", "-o", "/proc/nope/x.json", *c], "/proc/"))
    add(CliCase("catalog snapshot -o a dir", ["catalog", "snapshot", "-o", ".", *c], ""))
    add(CliCase("provenance map markup catalog", ["provenance", "map", *c], None, (0,)))
    add(CliCase("show hostile record", ["show", "H100_PCIe", *c], None, (0,)))
    add(CliCase("zoo hostile record", ["zoo", "hardware", *c], None, (0,)))
    add(CliCase("zoo json hostile record", ["zoo", "hardware", "-o", "json", *c], None, (0,)))
    add(CliCase("search hostile record", ["search", "H100", *c], None, (0,)))
    add(CliCase("validate hostile catalog", ["validate", *c], None, (0, 1, 4)))
    add(CliCase("freshness check offline missing", ["freshness", "check", "--offline", "--catalog", "/nonexistent/cat"], "/nonexistent/cat", (1, 2)))
    add(CliCase("unset HOME", ["zoo", "hardware", *c], None, (0,), setup=lambda w: os.environ.pop("HOME", None)))
    # verification.json with merge-conflict markers.
    def conflicted(work: Path) -> None:
        root = work / "conflict"
        shutil.copytree(cat, root)
        (root / "verification.json").write_text("<<<<<<< HEAD\n{}\n=======\n{}\n>>>>>>> other\n")
    add(CliCase("verification.json conflict (site)", ["site", "build", "--catalog", "conflict", "--out", "s1"], "verification.json", setup=conflicted))
    # Site output directories.
    def foreign_site(work: Path) -> None:
        (work / "mine").mkdir()
        (work / "mine" / ".mlsysim-site").mkdir()
        (work / "mine" / "notes.txt").write_text("mine")

    def kept(work: Path, _o: Outcome) -> str | None:
        return None if (work / "mine" / "notes.txt").is_file() else "data lost"
    add(CliCase("site --out dir holding a marker DIRECTORY", ["site", "build", *c, "--out", "mine"], "--out", setup=foreign_site, check=kept))

    def fake_marker(work: Path) -> None:
        (work / "mine").mkdir()
        (work / "mine" / ".mlsysim-site").write_text("whatever")
        (work / "mine" / "notes.txt").write_text("mine")
    add(CliCase("site --out dir with a forged marker file", ["site", "build", *c, "--out", "mine"], "--out", setup=fake_marker, check=kept))
    add(CliCase("site --out a file", ["site", "build", *c, "--out", "afile"], "afile", setup=lambda w: (w / "afile").write_text("keep"),
                check=lambda w, _o: None if (w / "afile").read_text() == "keep" else "data lost"))
    add(CliCase("site --base-url javascript", ["site", "build", *c, "--out", "s2", "--base-url", "javascript:alert(1)"], "--base-url"))

    def stale(work: Path) -> None:
        left = work / ".s3.abc123.tmp"
        left.mkdir()
        (left / "index.html").write_text("half")
        os.utime(left, (1, 1))

    def cleaned(work: Path, o: Outcome) -> str | None:
        if (work / ".s3.abc123.tmp").exists():
            return "data lost"  # left behind forever
        html = "".join(p.read_text(errors="replace") for p in (work / "s3").rglob("*.html"))
        if BIDI in html or "\x00" in html:
            return "security"
        return None if "\\u202e" in html else "wrong result accepted"
    add(CliCase("site build hostile names + stale tmp", ["site", "build", *c, "--out", "s3"], None, (0,), setup=stale, check=cleaned))
    # Plans.
    hostile_plans: dict[str, dict[str, object] | str] = {
        "duration arithmetic": {**BASE_PLAN, "duration": "30 day*10**10**10"},
        "duration nan": {**BASE_PLAN, "duration": "nan days"},
        "duration inf": {**BASE_PLAN, "duration": "1e400 days"},
        "duration negative": {**BASE_PLAN, "duration": "-3 days"},
        "duration zero": {**BASE_PLAN, "duration": "0 days"},
        "duration wrong unit": {**BASE_PLAN, "duration": "30 W"},
        "duration no unit": {**BASE_PLAN, "duration": "30"},
        "duration markup": {**BASE_PLAN, "duration": f"30 {MARKUP}"},
        "duration number": {**BASE_PLAN, "duration": 30},
        "efficiency a time": {**BASE_PLAN, "efficiency": "Kernel_Launch_Overhead"},
        "efficiency 3": {**BASE_PLAN, "efficiency": 3},
        "efficiency nan": {**BASE_PLAN, "efficiency": ".nan"},
        "efficiency -0.1": {**BASE_PLAN, "efficiency": -0.1},
        "efficiency list": {**BASE_PLAN, "efficiency": "[0.4, 0.5]"},
        "tokens inf": {**BASE_PLAN, "tokens": ".inf"},
        "tokens nan": {**BASE_PLAN, "tokens": ".nan"},
        "tokens negative": {**BASE_PLAN, "tokens": -5},
        "ips nan": {**BASE_PLAN, "inferences_per_second": ".nan"},
        "devices 1e12": {**BASE_PLAN, "devices": 10**12},
        "devices 0": {**BASE_PLAN, "devices": 0},
        "devices float": {**BASE_PLAN, "devices": 8.5},
        "devices string": {**BASE_PLAN, "devices": "eight"},
        "batch negative": {**BASE_PLAN, "batch_size": -1},
        "batch huge": {**BASE_PLAN, "batch_size": 10**30},
        "seq zero": {**BASE_PLAN, "sequence_length": 0},
        "model markup": {**BASE_PLAN, "model": f'"{MARKUP}"'},
        "model bidi": {**BASE_PLAN, "model": json.dumps(BIDI + "x")},
        "model list": {**BASE_PLAN, "model": "[a, b]"},
        "model missing": {k: v for k, v in BASE_PLAN.items() if k != "model"},
        "both systems": {**BASE_PLAN, "hardware": "H100"},
        "no system": {k: v for k, v in BASE_PLAN.items() if k != "cluster"},
        "unknown field": {**BASE_PLAN, "colour": "red"},
        "grid unknown": {**BASE_PLAN, "grid": "Atlantis"},
        "sla nan": {**BASE_PLAN, "sla": "{step_time: nan s}"},
        "sla negative": {**BASE_PLAN, "sla": "{step_time: -1 s}"},
        "sla power unit": {**BASE_PLAN, "sla": "{power: 5 s}"},
        "sla not mapping": {**BASE_PLAN, "sla": "[1, 2]"},
        "parallelism tp 3": {**BASE_PLAN, "parallelism": "{tp: 3}"},
        "parallelism bad": {**BASE_PLAN, "parallelism": "{tp: -1, pp: x}"},
        "device power negative": {**BASE_PLAN, "device_power": "-5 W"},
        "precision markup": {**BASE_PLAN, "precision": f'"{MARKUP}"'},
        "deep yaml": "model: " + "[" * 5000 + "]" * 5000,
        "anchor bomb": "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                       "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\nmodel: FixtureLM",
        "not a mapping": "- just\n- a list",
        "empty file": "",
        "binary": "\x00\x01\x02",
        "tabs": "model:\tFixtureLM\n\tcluster: x",
        "merge conflict": "<<<<<<< HEAD\nmodel: FixtureLM\n=======\nmodel: FixtureCNN\n>>>>>>> b\n",
        "duplicate key": "model: Llama3_8B\nmodel: GPT2\ncluster: Research_256",
    }
    for label, fields in hostile_plans.items():
        add(CliCase(f"plan {label}", ["eval", "plan.yaml", *c], "plan.yaml", (1, 2), setup=_plan(fields)))
    add(CliCase("plan missing file", ["eval", "nope.yaml", *c], "nope.yaml"))
    add(CliCase("plan is a directory", ["eval", "d.yaml", *c], "d.yaml", setup=lambda w: (w / "d.yaml").mkdir()))
    add(CliCase("plan extra argument", ["eval", "plan.yaml", "H100", *c], "after the plan file", setup=_plan(BASE_PLAN)))
    add(CliCase("plan markup name ok", ["eval", "plan.yaml", *c], None, (0, 2, 3),
                setup=_plan({**BASE_PLAN, "name": json.dumps(f"{MARKUP} {BIDI}")})))
    return cases


def judge_cli(case: CliCase, o: Outcome, work: Path) -> str:
    text = o.out + o.err
    if isinstance(o.exc, Hang):
        return "hang"
    if "Traceback" in text or (o.exc is not None and not isinstance(o.exc, SystemExit)):
        return "traceback or crash"
    if "internal error" in text:
        return "internal error"
    if BIDI in text or "\x00" in text or "\x1b[31mred" in text:
        return "security"
    problem = case.check(work, o)
    if problem:
        return problem
    if case.place is None:
        return "located error" if o.code in case.codes else "wrong result accepted"
    if o.code == 0 or o.code not in case.codes:
        return "wrong result accepted"
    if "Error" not in o.err or case.place not in text:
        return "wrong result accepted"  # refused, but without naming the place
    return "located error"


# ----------------------------------------------------------------------------- solvers

def solver_cases() -> list[tuple[str, Callable[[], object]]]:
    from mlsysim.catalog import default_catalog
    from mlsysim.catalog import inputs
    from mlsysim.solvers.economics import EconomicsModel
    from mlsysim.solvers.engine import Engine
    from mlsysim.solvers.reliability import CheckpointPlan, ReliabilityModel
    from mlsysim.solvers.serving import ServingModel
    from mlsysim.solvers.sustainability import SustainabilityModel

    cat = default_catalog()
    cluster = cat.get("clusters", "Research_256")
    llama = cat.get("models", "Llama3_8B")
    serving = ServingModel("Llama3_8B", "H100")
    bad_numbers = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "-1": -1, "0": 0, "True": True, "str": "8", "None": None}
    bad_counts = {**bad_numbers, "8.0": 8.0, "0.5": 0.5}
    cases: list[tuple[str, Callable[[], object]]] = []
    add = lambda name, fn: cases.append((name, fn))  # noqa: E731
    for label, v in bad_counts.items():
        add(f"ServingModel(tp={label})", lambda v=v: ServingModel("Llama3_8B", "H100", tp=v))
        add(f"prefill({label})", lambda v=v: serving.prefill(v))
        add(f"prefill(8, batch={label})", lambda v=v: serving.prefill(8, v))
        add(f"solve(prompt={label})", lambda v=v: serving.solve(v, 8, 1))
        add(f"continuous_batching({label})", lambda v=v: serving.continuous_batching(v, 8, 8))
        add(f"Engine.solve(batch={label})", lambda v=v: Engine.solve("ResNet50", "H100", batch_size=v))
    for tp in (3, 5, 6, 7, 12, 64):
        add(f"ServingModel(tp={tp}) on 32 heads", lambda tp=tp: ServingModel("Llama3_8B", "H100", tp=tp))
    for label, v in {"-1": -1, "nan": math.nan, "0.5": 0.5, "True": True}.items():
        add(f"decode_step({label})", lambda v=v: serving.decode_step(v))
    for label, v in {"-1": -1, "nan": math.nan, "inf": math.inf}.items():
        add(f"memory(1, tokens={label})", lambda v=v: serving.memory(1, v))
        add(f"memory(batch={label}, 8)", lambda v=v: serving.memory(v, 8))
    for label, v in {"0": 0, "-1": -1, "nan": math.nan, "inf": math.inf}.items():
        add(f"max_batch_size({label})", lambda v=v: serving.max_batch_size(v))
    for label, v in bad_numbers.items():
        add(f"efficiency={label}", lambda v=v: Engine.solve("ResNet50", "H100", efficiency=v) if v is not None else (_ for _ in ()).throw(ValueError("skip")))
        add(f"checkpoint_size={label}", lambda v=v: ReliabilityModel().solve(cluster, 86400, checkpoint_size=v) if v is not None else (_ for _ in ()).throw(ValueError("skip")))
        if label != "0":  # a zero restart time is a valid (ideal) case
            add(f"restart_time={label}", lambda v=v: ReliabilityModel().solve(cluster, 86400, model=llama, restart_time=v) if v is not None else (_ for _ in ()).throw(ValueError("skip")))
        add(f"reliability duration={label}", lambda v=v: ReliabilityModel().solve(cluster, v, model=llama))
        add(f"sustainability duration={label}", lambda v=v: SustainabilityModel().solve(cluster, v, datacenter="Hyperscale", grid="Quebec"))
        add(f"sustainability pue={label}", lambda v=v: SustainabilityModel().solve(cluster, 86400, pue=v, grid="Quebec") if v is not None else (_ for _ in ()).throw(ValueError("skip")))
        add(f"economics tokens={label}", lambda v=v: EconomicsModel().solve(cluster, 86400, tokens=v, datacenter="Hyperscale", grid="Quebec") if v is not None else (_ for _ in ()).throw(ValueError("skip")))
        add(f"economics duration={label}", lambda v=v: EconomicsModel().solve(cluster, v, datacenter="Hyperscale", grid="Quebec"))
    add("reliability 1e12 devices", lambda: ReliabilityModel().solve(10**12, 86400, model=llama))
    add("reliability 0 devices", lambda: ReliabilityModel().solve(0, 86400, model=llama))
    add("reliability devices=1e12 on cluster", lambda: ReliabilityModel().solve(cluster, 86400, model=llama, devices=10**12))
    add("CheckpointPlan write_bandwidth=0", lambda: ReliabilityModel().solve(cluster, 86400, plan=CheckpointPlan(model=llama, write_bandwidth=0)))
    add("fraction(kernel overhead)", lambda: inputs.fraction(cat.get("assumptions", "Kernel_Launch_Overhead"), "efficiency"))
    add("as_si(hardware record)", lambda: inputs.as_si(cat.get("hardware", "H100"), "time", "duration"))
    add("Engine seq_len over context", lambda: Engine.solve("Llama3_8B", "H100", seq_len=10**9))
    add("ServingModel(CNN)", lambda: ServingModel("ResNet50", "H100"))
    add("ServingModel(precision markup)", lambda: ServingModel("Llama3_8B", "H100", precision=MARKUP))
    # Skipped lambdas (None is a valid 'use the default' for those parameters) are filtered below.
    return cases


def judge_solver(fn: Callable[[], object]) -> tuple[str | None, str]:
    from mlsysim.errors import MlsysimError

    try:
        result = fn()
    except MlsysimError as exc:
        return "located error", str(exc)
    except ValueError as exc:
        if str(exc) == "skip":
            return None, ""
        return "traceback or crash", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001
        return "traceback or crash", f"{type(exc).__name__}: {exc}"
    return "wrong result accepted", repr(result)[:120]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="run only cases whose name contains this")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per CLI case")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case, not only failures")
    args = parser.parse_args(argv)
    table = {group: dict.fromkeys(COLUMNS, 0) for group in ("CLI/plan", "solver")}
    failed = []
    with tempfile.TemporaryDirectory(prefix="fuzz-cli-") as tmp:
        cat = str(hostile_catalog(Path(tmp) / "catalog"))
        home = os.environ.get("HOME")
        for i, case in enumerate(cli_cases(cat)):
            if args.only and args.only not in case.name:
                continue
            work = Path(tmp) / f"w{i}"
            work.mkdir()
            try:
                if case.setup:
                    case.setup(work)
                outcome = run_cli(case.args, args.timeout, work)
            finally:
                if home is not None:
                    os.environ["HOME"] = home
            verdict = judge_cli(case, outcome, work)
            table["CLI/plan"]["tried"] += 1
            table["CLI/plan"][verdict] += 1
            last = (outcome.err.strip().splitlines() or [""])[-1][:160]
            if verdict != "located error":
                failed.append((case.name, verdict, f"exit {outcome.code}: {last}"))
            if args.verbose:
                print(f"{verdict:22} {case.name}: exit {outcome.code}: {last}")
        for name, fn in solver_cases():
            if args.only and args.only not in name:
                continue
            verdict, detail = judge_solver(fn)
            if verdict is None:
                continue
            table["solver"]["tried"] += 1
            table["solver"][verdict] += 1
            if verdict != "located error":
                failed.append((name, verdict, detail))
            if args.verbose:
                print(f"{verdict:22} {name}: {detail[:160]}")
    width = max(len(c) for c in COLUMNS)
    print(f"{'':10}" + "".join(f"{c:>{width + 2}}" for c in COLUMNS))
    for group, counts in table.items():
        print(f"{group:10}" + "".join(f"{counts[c]:>{width + 2}}" for c in COLUMNS))
    for name, verdict, detail in failed:
        print(f"FAIL [{verdict}] {name}: {detail}")
    bad = sum(counts[c] for counts in table.values() for c in COLUMNS[2:])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
