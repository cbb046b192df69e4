#!/usr/bin/env python3
"""Side-by-side benchmarks of genkit-azure against the official Azure Monitor distro
and the bare ``opentelemetry-application-insights`` crate.

Full run (what ``make bench`` does through bench/run.sh, which prepares .venv-bench and
the release builds first)::

    .venv-bench/bin/python bench/run.py

Smoke run (a few hundred spans, one repetition, our variants and the floor only; no
official distro needed; exits non-zero if the harness is broken)::

    .venv/bin/python bench/run.py --smoke

Everything runs against the project's ingestion emulator (tests/emulator; TCP_NODELAY,
counts envelopes). Each variant runs in a process of its own; variants alternate
within each repetition (and the order rotates between repetitions); the emulator is
reset before every run and its ``/stats`` read when the variant's flush has returned.
Only the standard library is used here, so any Python 3.10+ can drive it.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
IKEY = "00000000-0000-0000-0000-000000000000"
SPAN_ENVELOPES = ("Request", "RemoteDependency")

# Targets from the issue (reported against, never asserted).
TARGET_CPU_RATIO = 0.10  # ours / official lossless, CPU per delivered span
TARGET_LOOP_RATIO = 1.10  # ours / floor, the application's loop (issue "Envelopes of our own")
TARGET_RSS_RATIO = 0.25  # ours / official lossless, peak RSS
TARGET_WIRE_RATIO = 0.10  # ours / official lossless, bytes on the wire per delivered span
TARGET_RUST_SPEEDUP = 2.0  # ours / bare crate, delivered spans per second
TARGET_NATIVE_CPU_RATIO = 1 / 3  # ours / bare crate, CPU per delivered span (Rust and C hosts)
TARGET_QUEUED_BYTES = 512  # bytes of memory per queued span (0.5 KB)
TARGET_ENCODE_US = 3.0  # background CPU µs per exported span (here: the envelope writer alone)
TARGET_ENCODE_VS_CRATE = 1 / 3  # ours / bare crate, CPU per span

# Variables that would leak the caller's configuration into a variant.
SCRUB_PREFIXES = ("OTEL_", "APPLICATIONINSIGHTS_", "AZURE_MONITOR_", "GENKIT_")

# The official distro's network side-channels, all off (this machine may only talk to
# loopback): statsbeat, customer SDK stats, the OneSettings control plane ("remote
# settings"), and the Azure resource detectors (the VM detector queries the instance
# metadata service at 169.254.169.254). Names read from azure-monitor-opentelemetry
# 1.8.11 / exporter 1.0.0b58.
OFFICIAL_ENV = {
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
    "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
    "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "otel",
}
OFFICIAL_LOSSLESS_ENV = {"OTEL_BSP_MAX_QUEUE_SIZE": "131072"}

# Python variants that send nothing (their rows show CPU per created span).
NO_EXPORT = ("floor", "ours-exports-off")


LABELS = {
    "floor": "floor: plain OTel SDK, no processor",
    "official-lossless": "official distro, lossless",
    "official-defaults": "official distro, defaults",
    "ours": "genkit_azure_rs, defaults",
    "ours-exports-off": "genkit_azure_rs, every export off: the app's thread converts each span, nothing is queued",
    "rust:crate-bsp": "Rust: bare crate + SDK BatchSpanProcessor",
    "rust:ours": "Rust: genkit-azure core (lossless queue)",
    "rust:ours-default-queue": "Rust: genkit-azure core (default queue)",
    "rust:ours-spans-only": "Rust: genkit-azure core, spans only (no Genkit metrics or logs, like the crate)",
    "c:ours": "C: libgenkit_azure.so (lossless queue)",
    "rust:encode": "Rust: envelope writing alone (ours, the bare crate, the limit)",
}


# --------------------------------------------------------------------------- emulator


class Emulator:
    def __init__(self, binary: Path, workdir: Path) -> None:
        if not binary.exists():
            raise SystemExit(f"the emulator is not built: {binary} (cargo build --release -p genkit-azure-emulator)")
        port_file = workdir / "emulator.port"
        self.log = open(workdir / "emulator.log", "wb")
        # The emulator stands in for Azure's ingestion service, which runs on other machines. Here it
        # shares the two cores with what is measured, so it runs at the lowest priority: it takes the CPU
        # the measured process leaves instead of preempting the app's thread (every variant alike; its
        # own CPU is still reported per run as `emulator_cpu_s`).
        self.proc = subprocess.Popen(
            [str(binary), "--port", "0", "--ikey", IKEY, "--port-file", str(port_file)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=lambda: os.nice(19),
        )
        deadline = time.monotonic() + 15
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the emulator did not start; see {workdir / 'emulator.log'}")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        self.binary = binary

    @property
    def connection_string(self) -> str:
        # LiveEndpoint on loopback too, so nothing could ever leave the machine.
        return f"InstrumentationKey={IKEY};IngestionEndpoint={self.url}/;LiveEndpoint={self.url}/"

    def _call(self, method: str, path: str) -> dict[str, Any]:
        req = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)

    def reset(self) -> None:
        self._call("POST", "/reset")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    def cpu_s(self) -> float:
        """The emulator's own CPU seconds so far (it shares the machine's cores)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()



def analysis_lines() -> list[str]:
    """The profiling notes kept in bench/ANALYSIS.md (written by hand after
    `perf record`), so that re-rendering the report keeps them."""
    path = Path(__file__).with_name("ANALYSIS.md")
    if not path.exists():
        return ["_No profiling notes yet (bench/ANALYSIS.md)._"]
    return path.read_text().rstrip("\n").splitlines()

def spans_in(stats: dict[str, Any]) -> int:
    by_name = stats.get("byName", {})
    return sum(int(by_name.get(n, 0)) for n in SPAN_ENVELOPES)


# --------------------------------------------------------------------------- one run


def run_one(
    run_id: str, cmd: list[str], env: dict[str, str], emulator: Emulator, logs: Path, timeout_s: float
) -> dict[str, Any]:
    """Runs one worker: waits for its RESULT line, reads the emulator's counters (that is
    what flush delivered), lets it shut down, reads the counters again."""
    emulator.reset()
    emu_cpu0 = emulator.cpu_s()
    stderr_path = logs / f"{run_id}.stderr"
    record: dict[str, Any] = {"id": run_id, "cmd": [str(c) for c in cmd], "ok": False}
    # A private temp directory per run: the official distro keeps offline storage under
    # it, and a batch left by one run must never be resent during another.
    run_tmp = tempfile.mkdtemp(prefix=f"{run_id}-")
    env = {**env, "TMPDIR": run_tmp}
    with open(stderr_path, "wb") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env, cwd=REPO)
        try:
            rc, result = _drive(proc, record, emulator, emu_cpu0, t0, timeout_s)
        finally:
            if proc.poll() is None:  # interrupted: never leave a worker behind
                proc.kill()
                proc.wait()
            shutil.rmtree(run_tmp, ignore_errors=True)
    if rc != 0 and "error" not in record:
        record["error"] = f"exit code {rc}"
    record["ok"] = result is not None and "error" not in record
    if not record["ok"]:
        tail = stderr_path.read_text(errors="replace")[-2000:]
        record["stderr_tail"] = tail
        print(f"    FAILED: {record['error']}\n" + "\n".join("      " + l for l in tail.splitlines()[-15:]))
    return record


def _drive(
    proc: subprocess.Popen, record: dict[str, Any], emulator: Emulator, emu_cpu0: float, t0: float, timeout_s: float
) -> tuple[int, dict[str, Any] | None]:
    """Reads the RESULT line, the emulator's counters, then lets the worker finish."""
    lines: queue.Queue[bytes | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    result = None
    other: list[str] = []
    while result is None:
        remaining = timeout_s - (time.monotonic() - t0)
        try:
            line = lines.get(timeout=max(remaining, 0.01))
        except queue.Empty:
            record["error"] = f"no RESULT within {timeout_s:.0f} s"
            break
        if line is None:
            record["error"] = "the worker exited without a RESULT line"
            break
        text = line.decode(errors="replace").rstrip("\n")
        if text.startswith("RESULT "):
            result = json.loads(text[len("RESULT "):])
        else:
            other.append(text)
    if result is not None:
        record["result"] = result
        record["stats_at_flush"] = emulator.stats()
        record["emulator_cpu_s"] = emulator.cpu_s() - emu_cpu0
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"\n")
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    try:
        rc = proc.wait(timeout=120 if result is not None else 5)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
        record.setdefault("error", "the worker did not exit after its RESULT (killed)")
    record["rc"] = rc
    record["stats_after_exit"] = emulator.stats()
    if other:
        record["stdout_other"] = other[-20:]
    return rc, result


def derive(record: dict[str, Any]) -> None:
    """Adds the figures the report shows."""
    res = record.get("result")
    if not res:
        return
    fig: dict[str, Any] = {}
    created = res.get("spans_created") or 0
    fig["spans_created"] = created
    fig["wall_s"] = res.get("wall_s")
    fig["cpu_s"] = res.get("cpu_s")
    fig["max_rss_mb"] = res["max_rss_kb"] / 1024 if res.get("max_rss_kb") else None
    if res.get("mode") == "encode":
        # Its own repetitions and medians are inside the result (see encode_rows).
        record["figures"] = {"spans_created": created}
        return
    if res.get("mode") == "queued-memory":
        fig["heap_bytes_per_queued_span"] = res.get("heap_bytes_per_queued_span")
        fig["heap_bytes_per_queued_span_at_burst_end"] = res.get("heap_bytes_per_queued_span_at_burst_end")
        fig["queue_depth_after_burst"] = res.get("queue_depth_after_burst")
        fig["rss_bytes_per_queued_span"] = res.get("rss_bytes_per_queued_span")
        record["figures"] = fig
        return
    stats = record["stats_at_flush"]
    delivered = spans_in(stats)
    fig["delivered"] = delivered
    fig["delivered_after_exit"] = spans_in(record.get("stats_after_exit", {}))
    fig["delivered_pct"] = 100.0 * delivered / created if created else None
    fig["loop_s"] = res.get("loop_s")
    fig["flush_s"] = res.get("flush_s")
    fig["wire_bytes"] = stats.get("bytesReceived", 0)
    fig["requests"] = stats.get("requests", 0)
    fig["envelopes_other"] = int(stats.get("itemsAccepted", 0)) - delivered
    fig["rejected"] = stats.get("itemsRejected", 0)
    fig["emulator_cpu_s"] = record.get("emulator_cpu_s")
    if delivered:
        fig["cpu_us_per_delivered_span"] = res["cpu_s"] * 1e6 / delivered
        fig["wire_bytes_per_delivered_span"] = fig["wire_bytes"] / delivered
        fig["delivered_per_s"] = delivered / res["wall_s"] if res.get("wall_s") else None
        if record.get("emulator_cpu_s") is not None:
            fig["emulator_cpu_us_per_delivered_span"] = record["emulator_cpu_s"] * 1e6 / delivered
    if created:
        fig["cpu_us_per_created_span"] = res["cpu_s"] * 1e6 / created
    record["figures"] = fig


# --------------------------------------------------------------------------- plan


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUB_PREFIXES)}
    env["OTEL_SERVICE_NAME"] = "genkit-azure-bench"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def python_env(variant: str) -> dict[str, str]:
    extra: dict[str, str] = {}
    if variant.startswith("official"):
        extra.update(OFFICIAL_ENV)
    if variant == "official-lossless":
        extra.update(OFFICIAL_LOSSLESS_ENV)
    return worker_env(extra)


def plan(args: argparse.Namespace, emulator: Emulator, bins: dict[str, Path]) -> list[tuple[str, str, list[str], dict[str, str]]]:
    """(group, variant key, command, env) for one repetition, groups in order."""
    py = args.python
    cs = emulator.connection_string
    out: list[tuple[str, str, list[str], dict[str, str]]] = []
    py_variants = ["floor", "ours"] if args.smoke else ["floor", "official-lossless", "official-defaults", "ours"]
    if "python" in args.only:
        # The diagnostic variant on the synthetic workload only: it splits the app loop's
        # excess over the floor into the conversion on the app's thread and the rest.
        for v in py_variants + ["ours-exports-off"]:
            out.append(("python-synthetic", v, [py, str(BENCH / "py_synthetic.py"), "--variant", v,
                                                 "--spans", str(args.spans), "--connection-string", cs], python_env(v)))
    if "genkit" in args.only:
        for v in py_variants:
            out.append(("python-genkit", v, [py, str(BENCH / "py_genkit.py"), "--variant", v,
                                              "--runs", str(args.genkit_runs), "--connection-string", cs], python_env(v)))
    common = ["--endpoint", emulator.url, "--ikey", IKEY]
    if "rust" in args.only:
        # No pipeline, no network: one process, its repetitions inside (group "encode" runs once).
        out.append(("encode", "rust:encode", [str(bins["rust"]), "--mode", "encode", "--spans", str(args.encode_spans),
                                              "--reps", str(args.encode_reps), "--ikey", IKEY], worker_env()))
        for v in ["crate-bsp", "ours", "ours-default-queue", "ours-spans-only"]:
            if args.smoke and v in ("ours-default-queue", "ours-spans-only"):
                continue
            out.append(("rust-throughput", f"rust:{v}", [str(bins["rust"]), "--variant", v, "--mode", "throughput",
                                                         "--spans", str(args.rust_spans), *common], worker_env()))
    if "c" in args.only:
        out.append(("rust-throughput", "c:ours", [str(bins["c"]), "--mode", "throughput",
                                                  "--spans", str(args.rust_spans), *common], worker_env()))
    if "rust" in args.only:
        for v in ["crate-bsp", "ours"]:
            out.append(("queued-memory", f"rust:{v}", [str(bins["rust"]), "--variant", v, "--mode", "queued-memory",
                                                       "--spans", str(args.memory_spans), "--ikey", IKEY], worker_env()))
    if "c" in args.only:
        out.append(("queued-memory", "c:ours", [str(bins["c"]), "--mode", "queued-memory",
                                                "--spans", str(args.memory_spans), "--ikey", IKEY], worker_env()))
    return out


# --------------------------------------------------------------------------- builds


def build_native(args: argparse.Namespace) -> dict[str, Path]:
    """Builds (unless --no-build) and locates the emulator, the Rust host and the C host."""
    profile_dir = TARGET / args.profile
    cargo_profile = ["--release"] if args.profile == "release" else []
    bins: dict[str, Path] = {
        "emulator": args.emulator or profile_dir / "genkit-azure-emulator",
        "rust": profile_dir / "genkit-azure-bench",
        "c": profile_dir / "genkit-azure-bench-c",
    }
    if not args.no_build:
        # The emulator and the ffi crate in one invocation, as the Makefile's `build` does:
        # Cargo unifies features per invocation, and building either alone would rebuild
        # (and replace) the other's artefacts with a different feature set.
        if not args.emulator:
            run_checked(["cargo", "build", "--quiet", *cargo_profile,
                         "-p", "genkit-azure-emulator", "-p", "genkit-azure-ffi"])
        # The Rust host in an invocation of its own, for the same reason.
        if "rust" in args.only:
            run_checked(["cargo", "build", "--quiet", *cargo_profile, "-p", "genkit-azure-bench"])
        if "c" in args.only:
            cc = os.environ.get("CC", "cc")
            run_checked([cc, "-O2", "-std=c11", "-Wall", "-Wextra", "-pthread",
                         "-I", str(REPO / "include"), str(BENCH / "c-host" / "bench.c"),
                         "-L", str(profile_dir), "-lgenkit_azure", f"-Wl,-rpath,{profile_dir}",
                         "-o", str(bins["c"])])
    for key in ("emulator", "rust", "c"):
        if (key == "emulator" or key in args.only) and not bins[key].exists():
            raise SystemExit(f"missing {bins[key]}; run without --no-build")
    return bins


def run_checked(cmd: list[str]) -> None:
    print("  $ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)


# --------------------------------------------------------------------------- machine


def sh(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=REPO).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info(python: str) -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    os_name = platform.system()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    versions_code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {'python': sys.version.split()[0]}\n"
        "for p in ('azure-monitor-opentelemetry', 'azure-monitor-opentelemetry-exporter', 'opentelemetry-sdk',"
        " 'genkit', 'genkit-azure-rs'):\n"
        "    try: out[p] = m.version(p)\n"
        "    except m.PackageNotFoundError: out[p] = None\n"
        "print(json.dumps(out))\n"
    )
    try:
        packages = json.loads(sh([python, "-c", versions_code]) or "{}")
    except json.JSONDecodeError:
        packages = {}
    dirty = bool(sh(["git", "status", "--porcelain", "--untracked-files=no"]))
    return {
        "cpu_model": cpu or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "os": f"{os_name}, kernel {platform.release()}",
        "python": packages.get("python"),
        "packages": {k: v for k, v in packages.items() if k != "python"},
        "rustc": sh(["rustc", "--version"]),
        "cc": sh([os.environ.get("CC", "cc"), "--version"]).splitlines()[0] if sh([os.environ.get("CC", "cc"), "--version"]) else "",
        "git_commit": sh(["git", "rev-parse", "--short", "HEAD"]) + (" (with uncommitted changes)" if dirty else ""),
        "load_average_at_start": os.getloadavg(),
    }


# --------------------------------------------------------------------------- aggregation


def summarize(values: list[float | None]) -> dict[str, float] | None:
    vals = [v for v in values if v is not None and v == v]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def aggregate(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """group -> variant -> figure -> {median, min, max, n}; plus derived ratios."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in records:
        groups.setdefault(r["group"], {}).setdefault(r["variant"], []).append(r)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for group, variants in groups.items():
        out[group] = {}
        floor_loop = floor_cpu = None
        if "floor" in variants:
            floor_loop = summarize([r.get("figures", {}).get("loop_s") for r in variants["floor"] if r["ok"]])
            floor_cpu = summarize([r.get("figures", {}).get("cpu_s") for r in variants["floor"] if r["ok"]])
        for variant, runs in variants.items():
            ok = [r for r in runs if r["ok"] and "figures" in r]
            figs: dict[str, Any] = {"runs": len(runs), "failed": len(runs) - len(ok)}
            keys = sorted({k for r in ok for k in r["figures"]})
            for k in keys:
                s = summarize([r["figures"].get(k) for r in ok])
                if s:
                    figs[k] = s
            if floor_loop and ok:
                figs["loop_vs_floor"] = summarize(
                    [r["figures"]["loop_s"] / floor_loop["median"] for r in ok if r["figures"].get("loop_s")]
                )
            if floor_cpu and ok and variant not in NO_EXPORT:
                # The telemetry's own CPU: the process CPU above the floor's (median), per delivered span.
                figs["cpu_above_floor_us_per_delivered_span"] = summarize(
                    [(r["figures"]["cpu_s"] - floor_cpu["median"]) * 1e6 / r["figures"]["delivered"]
                     for r in ok if r["figures"].get("delivered")]
                )
            out[group][variant] = figs
    return out


# --------------------------------------------------------------------------- report


def fmt(x: float | None, digits: int = 3, integer: bool = False) -> str:
    if x is None:
        return "–"
    ax = abs(x)
    if integer and float(x).is_integer():
        return f"{x:,.0f}"
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits - 1}f}" if ax >= 1 else f"{x:.{digits}g}"


INTEGER_FIGURES = {"delivered", "spans_created", "delivered_after_exit", "requests", "rejected", "envelopes_other",
                   "queue_depth_after_burst"}


def cell(figs: dict[str, Any], key: str, scale: float = 1.0, digits: int = 3) -> str:
    s = figs.get(key)
    if not s:
        return "–"
    m, lo, hi = (s["median"] * scale, s["min"] * scale, s["max"] * scale)
    i = key in INTEGER_FIGURES
    if s["n"] == 1 or fmt(lo, digits, i) == fmt(hi, digits, i):
        return fmt(m, digits, i)
    return f"{fmt(m, digits, i)} ({fmt(lo, digits, i)}–{fmt(hi, digits, i)})"


def med(figs: dict[str, Any] | None, key: str) -> float | None:
    if not figs or not figs.get(key):
        return None
    return figs[key]["median"]


def verdict(value: float | None, limit: float, higher_is_better: bool = False) -> str:
    if value is None:
        return "not measured"
    ok = value >= limit if higher_is_better else value <= limit
    return "**met**" if ok else "**missed**"


def python_table(agg: dict[str, dict[str, Any]], order: list[str]) -> list[str]:
    rows = [
        "| variant | spans delivered at flush | wall until flush returns (s) | process CPU (s) | CPU µs per delivered span | app loop vs floor | peak RSS (MB) | bytes on the wire | wire bytes per span |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v in order:
        f = agg.get(v)
        if not f:
            continue
        created = med(f, "spans_created")
        exports = v not in NO_EXPORT
        delivered = cell(f, "delivered") if exports else "– (no export)"
        if exports and created:
            pct = f.get("delivered_pct")
            delivered += f" of {fmt(created, integer=True)}" + (f" ({cell(f, 'delivered_pct')} %)" if pct else "")
        failed = f" ⚠ {f['failed']} of {f['runs']} runs failed" if f.get("failed") else ""
        rows.append(
            f"| {LABELS.get(v, v)}{failed} | {delivered} | {cell(f, 'wall_s')} | {cell(f, 'cpu_s')} | "
            f"{cell(f, 'cpu_us_per_delivered_span') if exports else 'per created span: ' + cell(f, 'cpu_us_per_created_span')} | "
            f"{cell(f, 'loop_vs_floor')} | {cell(f, 'max_rss_mb')} | "
            f"{cell(f, 'wire_bytes', 1 / 1e6) + ' MB' if exports else '–'} | "
            f"{cell(f, 'wire_bytes_per_delivered_span') if exports else '–'} |"
        )
    return rows


def python_targets(agg: dict[str, dict[str, Any]]) -> list[str]:
    ours, off, floor = agg.get("ours"), agg.get("official-lossless"), agg.get("floor")

    def ratio(key: str) -> float | None:
        a, b = med(ours, key), med(off, key)
        return a / b if a is not None and b else None

    delivered_min = ours["delivered_pct"]["min"] if ours and ours.get("delivered_pct") else None
    loop = med(ours, "loop_vs_floor")
    rows = [
        "| target | measured (medians) | verdict |",
        "|---|---|---|",
        f"| defaults deliver 100 % | worst run {fmt(delivered_min)} % | {verdict(delivered_min, 100.0, True)} |",
    ]
    r = ratio("cpu_us_per_delivered_span")
    rows.append(f"| CPU per delivered span ≤ 1/10 of official lossless | {fmt(med(ours, 'cpu_us_per_delivered_span'))} vs "
                f"{fmt(med(off, 'cpu_us_per_delivered_span'))} µs = {fmt(r)}× | {verdict(r, TARGET_CPU_RATIO)} |")
    r = ratio("cpu_above_floor_us_per_delivered_span")
    rows.append(f"| (for information) CPU above the floor per delivered span | "
                f"{fmt(med(ours, 'cpu_above_floor_us_per_delivered_span'))} vs "
                f"{fmt(med(off, 'cpu_above_floor_us_per_delivered_span'))} µs = {fmt(r)}× | – |")
    rows.append(f"| app loop ≤ {TARGET_LOOP_RATIO:.2f}× the floor | {fmt(med(ours, 'loop_s'))} vs {fmt(med(floor, 'loop_s'))} s = {fmt(loop)}× | "
                f"{verdict(loop, TARGET_LOOP_RATIO)} |")
    off_exports = agg.get("ours-exports-off")
    if off_exports:
        rows.append(f"| (for information) app loop with every export off: the conversion on the app's thread alone | "
                    f"{fmt(med(off_exports, 'loop_s'))} vs {fmt(med(floor, 'loop_s'))} s = "
                    f"{fmt(med(off_exports, 'loop_vs_floor'))}× | – |")
    r = ratio("max_rss_mb")
    rows.append(f"| peak RSS ≤ 1/4 of official lossless | {fmt(med(ours, 'max_rss_mb'))} vs {fmt(med(off, 'max_rss_mb'))} MB = "
                f"{fmt(r)}× | {verdict(r, TARGET_RSS_RATIO)} |")
    r = ratio("wire_bytes_per_delivered_span")
    rows.append(f"| bytes on the wire ≤ 1/10 of official lossless (per delivered span) | "
                f"{fmt(med(ours, 'wire_bytes_per_delivered_span'))} vs {fmt(med(off, 'wire_bytes_per_delivered_span'))} B = "
                f"{fmt(r)}× | {verdict(r, TARGET_WIRE_RATIO)} |")
    return rows


def native_tables(agg: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    thr = agg.get("rust-throughput", {})
    mem = agg.get("queued-memory", {})
    order = ["rust:crate-bsp", "rust:ours", "rust:ours-default-queue", "rust:ours-spans-only", "c:ours"]
    rows = [
        "| variant | spans delivered at flush | wall until flush returns (s) | delivered spans/s | process CPU (s) | CPU µs per delivered span | peak RSS (MB) | wire bytes per span | emulator CPU µs per span |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v in order:
        f = thr.get(v)
        if not f:
            continue
        failed = f" ⚠ {f['failed']} of {f['runs']} runs failed" if f.get("failed") else ""
        rows.append(
            f"| {LABELS.get(v, v)}{failed} | {cell(f, 'delivered')} of {fmt(med(f, 'spans_created'), integer=True)} | "
            f"{cell(f, 'wall_s')} | {cell(f, 'delivered_per_s')} | {cell(f, 'cpu_s')} | "
            f"{cell(f, 'cpu_us_per_delivered_span')} | {cell(f, 'max_rss_mb')} | {cell(f, 'wire_bytes_per_delivered_span')} | "
            f"{cell(f, 'emulator_cpu_us_per_delivered_span')} |"
        )
    rows += [
        "",
        "Memory per queued span (the exporter stalled; see the method below):",
        "",
        "| variant | spans queued | live heap bytes per queued span, end of the burst | of them still in the ingest queue | live heap bytes per queued span, settled | RSS bytes per queued span, settled | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in ["rust:crate-bsp", "rust:ours", "c:ours"]:
        f = mem.get(v)
        if not f:
            continue
        rust = v.startswith("rust")
        not_instrumented = "– (not instrumented)"
        in_queue = (cell(f, 'queue_depth_after_burst') if med(f, 'queue_depth_after_burst') is not None
                    else ("all but the batch in its hung export" if v == "rust:crate-bsp" else "–"))
        rows.append(f"| {LABELS.get(v, v)} | {fmt(med(f, 'spans_created'), integer=True)} | "
                    f"{cell(f, 'heap_bytes_per_queued_span_at_burst_end') if rust else not_instrumented} | "
                    f"{in_queue if rust else '–'} | "
                    f"{cell(f, 'heap_bytes_per_queued_span') if rust else not_instrumented} | "
                    f"{cell(f, 'rss_bytes_per_queued_span')} | {cell(f, 'max_rss_mb')} |")
    crate, crate_mem = thr.get("rust:crate-bsp"), mem.get("rust:crate-bsp")
    rows += ["", "| target | measured (medians) | verdict |", "|---|---|---|"]
    for v, name in (("rust:ours", "Rust host"), ("c:ours", "C host")):
        f, fm = thr.get(v), mem.get(v)
        if not f and not fm:
            continue
        a, b = med(f, "delivered_per_s"), med(crate, "delivered_per_s")
        r = a / b if a is not None and b else None
        rows.append(f"| {name}: ≥ 2× the bare crate's delivered spans/s | {fmt(a)} vs {fmt(b)} = {fmt(r, 4)}× | "
                    f"{verdict(r, TARGET_RUST_SPEEDUP, True)} |")
        a, b = med(f, "max_rss_mb"), med(crate, "max_rss_mb")
        r = a / b if a is not None and b else None
        rows.append(f"| {name}: peak RSS no more than the bare crate's | {fmt(a)} vs {fmt(b)} MB = {fmt(r, 4)}× | {verdict(r, 1.0)} |")
        a, b = med(f, "cpu_us_per_delivered_span"), med(crate, "cpu_us_per_delivered_span")
        r = a / b if a is not None and b else None
        rows.append(f"| {name}: CPU per delivered span ≤ 1/3 of the bare crate's | {fmt(a)} vs {fmt(b)} µs = {fmt(r, 4)}× | "
                    f"{verdict(r, TARGET_NATIVE_CPU_RATIO)} |")
        if v == "rust:ours" and thr.get("rust:ours-spans-only"):
            a = med(thr["rust:ours-spans-only"], "cpu_us_per_delivered_span")
            r = a / b if a is not None and b else None
            rows.append(f"| (for information) {name}, like for like: spans only, without Genkit's derived metrics and logs | "
                        f"{fmt(a)} vs {fmt(b)} µs = {fmt(r, 4)}× | – |")
        a, b = med(f, "wire_bytes_per_delivered_span"), med(crate, "wire_bytes_per_delivered_span")
        r = a / b if a is not None and b else None
        rows.append(f"| {name}: wire bytes per span no more than the bare crate's | {fmt(a)} vs {fmt(b)} B = {fmt(r, 4)}× | "
                    f"{verdict(r, 1.0)} |")
        # The end of the burst is the worst moment for ours: spans not mapped yet.
        key = "heap_bytes_per_queued_span_at_burst_end" if v.startswith("rust") else "rss_bytes_per_queued_span"
        a = med(fm, key)
        b = med(crate_mem, key)
        rows.append(f"| {name}: ≤ 0.5 KB per queued span ({key.replace('_', ' ')}) | {fmt(a)} B (bare crate: {fmt(b)} B) | "
                    f"{verdict(a, TARGET_QUEUED_BYTES)} |")
    return rows


# --------------------------------------------------------------------------- envelope writing (--mode encode)


def encode_result(data: dict[str, Any]) -> dict[str, Any] | None:
    """The result of the envelope-writing run, if there was one that succeeded."""
    for r in data.get("runs", []):
        if r.get("group") == "encode" and r.get("ok"):
            return r["result"]
    return None


def encode_row(res: dict[str, Any], encoder: str, level: int | None, batch: int) -> dict[str, Any] | None:
    for row in res.get("rows", []):
        if row["encoder"] == encoder and row["batch_size"] == batch and (level is None or row["level"] == level):
            return row
    return None


def encode_cpu(res: dict[str, Any], encoder: str, level: int | None, batch: int) -> float | None:
    row = encode_row(res, encoder, level, batch)
    return row["cpu_us_per_span"]["median"] if row else None


def us_cell(row: dict[str, Any] | None) -> str:
    """Median µs per span with the min–max of the passes."""
    if not row:
        return "–"
    c = row["cpu_us_per_span"]
    lo, hi = fmt(c["min"]), fmt(c["max"])
    return fmt(c["median"]) if c["n"] == 1 or lo == hi else f"{fmt(c['median'])} ({lo}–{hi})"


def encode_line(res: dict[str, Any]) -> str:
    """One line for the console: the largest batch, ours vs the crate vs the limit."""
    b = max(res["batch_sizes"])
    lvl = res["default_level"]
    return (f"batches of {b}: ours {fmt(encode_cpu(res, 'ours', lvl, b))} µs/span (gzip {lvl}), bare crate "
            f"{fmt(encode_cpu(res, 'crate', None, b))}, limit {fmt(encode_cpu(res, 'limit', lvl, b))}")


def encode_problems(res: dict[str, Any]) -> list[str]:
    problems = []
    rows = res.get("rows") or []
    if not rows:
        problems.append("no envelope-writing figures")
    for row in rows:
        if not row["cpu_us_per_span"]["median"] > 0:
            problems.append(f"{row['encoder']} level {row['level']} batch {row['batch_size']}: no CPU time measured")
        if not row["gzip_bytes_per_span"] > 0:
            problems.append(f"{row['encoder']} level {row['level']} batch {row['batch_size']}: wrote nothing")
    env = res.get("envelopes", {})
    if env.get("ours") != res.get("spans_created") or env.get("crate") != res.get("spans_created"):
        problems.append(f"envelopes {env} for {res.get('spans_created')} spans")
    return problems


def encode_tables(res: dict[str, Any]) -> list[str]:
    batches = res["batch_sizes"]
    lvl, crate_lvl = res["default_level"], res["crate_level"]
    json_b = res.get("json_bytes_per_span", {})
    variants = [
        (f"**ours**: core's envelope writer from packed spans, gzip {lvl} (the default)", "ours", lvl, "ours"),
        (f"ours at gzip {crate_lvl} (the crate's level)", "ours", crate_lvl, "ours"),
        (f"**bare crate**: `SpanData` → its mapping → `serde_json::to_vec` → gzip {crate_lvl}", "crate", None, "crate"),
        ("bare crate from packed spans (`unpack` + the above: the old pipeline's step)", "crate-from-packed", None,
         "crate"),
        (f"**the limit**: `serde_json` of the same envelopes (structs borrowing every string) → gzip {lvl}", "limit",
         lvl, "limit"),
        (f"the limit at gzip {crate_lvl}", "limit", crate_lvl, "limit"),
        (f"`serde_json::Value` of the same envelopes → gzip {lvl} (for scale)", "limit-value", lvl, "limit-value"),
    ]
    head = ("| encoder | " + " | ".join(f"CPU µs per span, batches of {b}" for b in batches) + " | "
            + " | ".join(f"gzip B per span, {b}" for b in batches) + " | JSON B per span |")
    rows = [head, "|" + "---|" * (2 + 2 * len(batches))]
    for label, enc, level, json_key in variants:
        cells = [us_cell(encode_row(res, enc, level, b)) for b in batches]
        sizes = [fmt((encode_row(res, enc, level, b) or {}).get("gzip_bytes_per_span")) for b in batches]
        rows.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(sizes) + f" | {fmt(json_b.get(json_key))} |")

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    rows += ["", "| ratio of medians | " + " | ".join(f"batches of {b}" for b in batches) + " |",
             "|" + "---|" * (1 + len(batches))]
    rows.append("| ours / bare crate | " + " | ".join(
        f"{fmt(ratio(encode_cpu(res, 'ours', lvl, b), encode_cpu(res, 'crate', None, b)))}×" for b in batches) + " |")
    rows.append(f"| ours / the limit, both gzip {lvl} | " + " | ".join(
        f"{fmt(ratio(encode_cpu(res, 'ours', lvl, b), encode_cpu(res, 'limit', lvl, b)))}×" for b in batches) + " |")
    rows.append(f"| ours / the limit, both gzip {crate_lvl} | " + " | ".join(
        f"{fmt(ratio(encode_cpu(res, 'ours', crate_lvl, b), encode_cpu(res, 'limit', crate_lvl, b)))}×"
        for b in batches) + " |")

    # Targets: the worst batch size counts.
    ours = [encode_cpu(res, "ours", lvl, b) for b in batches]
    worst = max((x for x in ours if x is not None), default=None)
    ratios = [ratio(encode_cpu(res, "ours", lvl, b), encode_cpu(res, "crate", None, b)) for b in batches]
    worst_ratio = max((x for x in ratios if x is not None), default=None)
    rows += [
        "",
        "| target | measured (medians, worst batch size) | verdict |",
        "|---|---|---|",
        f"| background CPU per exported span ≤ 3 µs (the writer alone: batching and HTTP come on top) | "
        f"{fmt(worst)} µs | {verdict(worst, TARGET_ENCODE_US)} |",
        f"| CPU per span ≤ 1/3 of the bare crate's (the writer alone) | {fmt(worst_ratio)}× | "
        f"{verdict(worst_ratio, TARGET_ENCODE_VS_CRATE)} |",
    ]

    rows += ["", f"gzip level sweep (ours and the limit; **{lvl}** is the default, `DEFAULT_GZIP_LEVEL`):", ""]
    rows.append("| gzip level | " + " | ".join(
        f"ours µs per span, {b} | ours B per span, {b} | limit µs per span, {b}" for b in batches) + " |")
    rows.append("|" + "---|" * (1 + 3 * len(batches)))
    for level in res["levels"]:
        cells = []
        for b in batches:
            row = encode_row(res, "ours", level, b)
            cells += [us_cell(row), fmt(row["gzip_bytes_per_span"]) if row else "–",
                      us_cell(encode_row(res, "limit", level, b))]
        name = f"**{level}** (default)" if level == lvl else str(level)
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def write_report(path: Path, data: dict[str, Any], json_rel: str) -> None:
    agg = data["aggregate"]
    m = data["machine"]
    a = data["args"]
    lines = [
        "# Benchmarks: genkit-azure vs the official distro and the bare crate",
        "",
        f"Generated by `make bench` on {data['finished_at']} from commit {m['git_commit']}; "
        f"{a['reps']} repetitions of every variant, alternating; each figure is the median with the min–max "
        f"across repetitions in parentheses. Raw data: [`{json_rel}`]({json_rel}).",
        "",
        "## How to reproduce",
        "",
        "```sh",
        "make bench            # = bash bench/run.sh: .venv-bench, release builds, every workload, this file",
        "bash bench/run.sh --reps 5 --only python   # a subset; any bench/run.py option passes through",
        "```",
        "",
        f"Exact command of this run: `{data['command']}`",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu_model']}, {m['cores']} cores; memory {m['memory_gib']} GiB",
        f"- OS: {m['os']}",
        f"- Python {m['python']}; {', '.join(f'{k} {v}' for k, v in m['packages'].items() if v)}",
        f"- {m['rustc']}; C compiler: {m['cc']}",
        f"- load average at start: {', '.join(f'{x:.2f}' for x in m['load_average_at_start'])}; "
        f"at end: {', '.join(f'{x:.2f}' for x in data['load_average_at_end'])}",
        "- The emulator (release build) stands in for Azure's ingestion service and runs on the same cores as "
        "the measured process, at the lowest priority (nice 19, every variant alike), so it takes the CPU the "
        "measured process leaves rather than preempting the app's thread; its own CPU time per run is in the "
        "raw data (`emulator_cpu_s`).",
        "",
    ]
    if "python-synthetic" in agg:
        lines += [
            f"## 1. Python host, synthetic workload ({a['spans']:,} spans)",
            "",
            f"{a['spans'] // 5:,} traces of 1 SERVER span and 4 INTERNAL/CLIENT children, 10 attributes each "
            "(`bench/py_synthetic.py`), created through the OpenTelemetry API with `start_as_current_span`, then one flush. "
            "The last row is a diagnostic, not a configuration to run: our span processor with every export off converts "
            "each span on the app's thread as with the defaults, and then nothing is queued, so its app loop is what the "
            "conversion alone adds to the floor's.",
            "",
            *python_table(agg["python-synthetic"],
                          ["floor", "official-lossless", "official-defaults", "ours", "ours-exports-off"]),
            "",
            "Targets (genkit_azure_rs with its defaults against the official distro, lossless):",
            "",
            *python_targets(agg["python-synthetic"]),
            "",
        ]
    if "python-genkit" in agg:
        g = agg["python-genkit"]
        spans = med(g.get("ours") or g.get("floor"), "spans_created")
        lines += [
            f"## 2. Python host, Genkit workload ({a['genkit_runs']:,} flow runs, {fmt(spans, integer=True)} spans)",
            "",
            "A real Genkit app (genkit 0.12.0, `bench/py_genkit.py`): a flow that calls `ai.generate` with a fake model "
            "(defined with `ai.define_model`, reporting token usage) that first requests a tool and then answers; "
            "the flow runs one run after the other. \"App loop\" is the time of the flow runs.",
            "",
            *python_table(g, ["floor", "official-lossless", "official-defaults", "ours"]),
            "",
            "Against the same targets:",
            "",
            *python_targets(g),
            "",
        ]
    if "rust-throughput" in agg or "queued-memory" in agg:
        lines += [
            f"## 3. Rust and C hosts ({a['rust_spans']:,} spans; memory: {a['memory_spans']:,} spans queued)",
            "",
            "The same trace shape through the Rust OpenTelemetry SDK (`bench/rust-host`). The bare crate is "
            "`opentelemetry-application-insights` 0.46 behind the SDK's `BatchSpanProcessor` (queue large enough to drop "
            "nothing, batches of 1024 like ours), sending through a minimal blocking HTTP/1.1 client with TCP_NODELAY "
            "(the crate rewrites `http://` to `https://`, so a stock client cannot reach the loopback emulator; the "
            "client is leaner than reqwest, so if anything it flatters the baseline). Both variants run in the same "
            "binary, so they share one gzip backend (flate2's, whatever the workspace enables). The C host "
            "(`bench/c-host/bench.c`) hands the same workload, with random ids as a tracer draws them, to "
            "`libgenkit_azure.so` through `genkit_azure_export_span`. "
            "Delivered spans/s is also bounded by the emulator, which parses, validates and stores every envelope "
            "on the same two cores (its CPU per span is the last column); an exporter with one request in flight "
            "(the SDK's batch processor) waits for it, one with several overlaps with it.",
            "",
            *native_tables(agg),
            "",
            "Method for memory per queued span: the pipeline is pointed at a socket that listens but never accepts, so "
            "the first exports hang (request timeout 600 s) and every span created after them stays queued. The "
            "program measures live heap bytes (Rust host: a counting global allocator) before the pipeline is built, "
            "right after the last span was handed over (\"end of the burst\": most of ours are still packed in the "
            "ingest queue, the column after it says how many) and once the pipeline has settled (ours maps what it "
            "cannot send and holds it gzipped, about 32 B a span; it waits until its ingest queue is empty, at least "
            "0.7 s); RSS (`/proc/self/statm`) when settled. Each growth is divided by the number of spans. Fixed "
            "costs (runtime threads, HTTP client, the batches stuck in the hung exports) are included, so these are "
            "upper bounds; the targets use the end of the burst for the Rust host. The SDK's `BatchSpanProcessor` "
            "preallocates its whole queue (a `sync_channel` of `SpanData` slots) when it is built; its queue is "
            "sized to the spans created.",
            "",
        ]
    enc = encode_result(data)
    if enc:
        lines += [
            f"## 4. Envelope writing: ours, the bare crate, the limit ({enc['spans_created']:,} spans)",
            "",
            "The background CPU of turning finished spans into a request body, timed alone (`genkit-azure-bench "
            "--mode encode`, `bench/rust-host/src/encode.rs`): no queue, no HTTP. The spans are the Rust host's "
            "workload (traces of 1 SERVER and 4 INTERNAL/CLIENT spans, 10 attributes each), made once through the "
            "SDK and kept both as `SpanData` and packed. **Ours** is core's envelope writer (the pipeline's export "
            "step) reading packed spans in place. The **bare crate** is `opentelemetry-application-insights` 0.46 "
            "mapping the `SpanData` (its attribute maps, `serde_json::to_vec`, gzip at its hard-coded level 6), "
            "as the pipeline ran it before the writer; it copies the resource into every envelope's properties, "
            "hence its larger JSON. **The limit** serialises the very same envelopes as ours with `serde_json`: "
            "our output, decoded before timing into structs that borrow every string (checked to say exactly "
            "what ours says), written into a reused buffer and then into zlib at the same level; what any "
            "writer of these envelopes must at least pay with zlib. All of it runs in one binary, so the "
            "crate, the limit and ours at every level but 3 share one gzip backend (flate2 with zlib-rs, which "
            "core enables); ours at level 3, the default, is core's own DEFLATE encoder (`envelopes/deflate`), "
            "which finds its matches where the writer marks fixed text and values. CPU is the thread's CPU time "
            f"(`CLOCK_THREAD_CPUTIME_ID`) of a pass over all {enc['spans_created']:,} spans in batches of the "
            f"size shown; each encoder, level and batch size runs once untimed, then {enc['reps']} timed passes, "
            "all of them interleaved (the order rotates between passes); each figure is the median µs per span "
            "with the min–max of the passes. Bytes are the gzip bodies' sizes divided by the spans.",
            "",
            *encode_tables(enc),
            "",
        ]
    lines += [
        "## Where the remaining cost is",
        "",
        *analysis_lines(),
        "",
        "## Notes",
        "",
        "- Official distro variants run with statsbeat, customer SDK stats and the OneSettings control plane off "
        "(`APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL`, `APPLICATIONINSIGHTS_SDKSTATS_DISABLED`, "
        "`APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED`) and the resource detectors limited to `otel` "
        "(`OTEL_EXPERIMENTAL_RESOURCE_DETECTORS`; the Azure VM detector would query the instance metadata service): "
        "this benchmark may only talk to loopback. Live metrics are off in every variant. \"Lossless\" adds "
        "`sampling_ratio=1.0`, `OTEL_BSP_MAX_QUEUE_SIZE=131072` and `disable_offline_storage=True`; \"defaults\" "
        "keeps the distro's sampler (rate-limited, 5 traces/s), queue (2,048) and offline storage.",
        "- CPU is `getrusage(RUSAGE_SELF)` (user + sys, all threads) from the start of the loop until flush "
        "returned; peak RSS is `ru_maxrss` when flush returned (the whole process, interpreter and imports "
        "included). \"Delivered\" counts Request and RemoteDependency envelopes the emulator accepted when the "
        "variant's flush had returned; \"bytes on the wire\" is request body bytes as received (gzip where sent).",
        "",
    ]
    path.write_text("\n".join(lines))


# --------------------------------------------------------------------------- main


def smoke_check(records: list[dict[str, Any]]) -> list[str]:
    problems = []
    for r in records:
        if not r["ok"]:
            problems.append(f"{r['id']}: {r.get('error')}")
            continue
        f = r.get("figures", {})
        if not f.get("spans_created"):
            problems.append(f"{r['id']}: created no spans")
        if r["group"] == "encode":
            problems += [f"{r['id']}: {p}" for p in encode_problems(r["result"])]
        elif r["group"] == "queued-memory":
            if not (f.get("rss_bytes_per_queued_span") or 0) > 0:
                problems.append(f"{r['id']}: measured no memory growth")
        elif r["variant"] not in NO_EXPORT:
            if not f.get("delivered"):
                problems.append(f"{r['id']}: zero spans delivered")
            elif f["delivered"] < f["spans_created"]:
                print(f"  warning: {r['id']} delivered {f['delivered']} of {f['spans_created']} spans")
    return problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny workloads, 1 repetition, our variants + floor only")
    p.add_argument("--reps", type=int, help="repetitions (default 3; smoke 1)")
    p.add_argument("--only", default="python,genkit,rust,c", help="comma-separated subset of python,genkit,rust,c")
    p.add_argument("--spans", type=int, help="Python synthetic spans (default 100000; smoke 500)")
    p.add_argument("--genkit-runs", type=int, help="Genkit flow runs (default 1000; smoke 10)")
    p.add_argument("--rust-spans", type=int, help="Rust/C host spans (default 200000; smoke 1000)")
    p.add_argument("--memory-spans", type=int, help="spans queued in the memory runs (default 200000; smoke 2000)")
    p.add_argument("--encode-spans", type=int, help="spans of the envelope-writing runs (default 10240; smoke 260)")
    p.add_argument("--encode-reps", type=int, help="timed passes per encoder, level and batch size "
                   "(default 11; smoke 1)")
    p.add_argument("--profile", choices=("release", "debug"), help="Cargo profile of the emulator and hosts "
                   "(default release; smoke debug)")
    p.add_argument("--python", default=sys.executable, help="interpreter of the Python workers (default: this one)")
    p.add_argument("--emulator", type=Path, help="emulator binary (default target/<profile>/genkit-azure-emulator)")
    p.add_argument("--no-build", action="store_true", help="do not run cargo / cc (use what is built)")
    p.add_argument("--results-dir", type=Path, help="where raw JSON goes (default bench/results; smoke: a temp dir)")
    p.add_argument("--report", type=Path, help="Markdown report path (default BENCHMARKS.md; smoke: none)")
    p.add_argument("--report-from", type=Path, help="only re-render the report from a raw JSON file")
    p.add_argument("--timeout", type=float, default=900, help="seconds one run may take before it is killed")
    args = p.parse_args()

    if args.report_from:
        data = json.loads(args.report_from.read_text())
        report = args.report or REPO / "BENCHMARKS.md"
        write_report(report, data, os.path.relpath(args.report_from.resolve(), report.parent.resolve()))
        print(f"wrote {report}")
        return 0

    s = args.smoke
    args.reps = args.reps or (1 if s else 3)
    args.spans = args.spans or (500 if s else 100_000)
    args.genkit_runs = args.genkit_runs or (10 if s else 1000)
    args.rust_spans = args.rust_spans or (1000 if s else 200_000)
    args.memory_spans = args.memory_spans or (2000 if s else 200_000)
    args.encode_spans = args.encode_spans or (260 if s else 10_240)
    args.encode_reps = args.encode_reps or (1 if s else 11)
    args.profile = args.profile or ("debug" if s else "release")
    args.only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(args.only) - {"python", "genkit", "rust", "c"}
    if unknown:
        p.error(f"--only: unknown {', '.join(sorted(unknown))}")

    print(f"bench: {'smoke' if s else 'full'} run, {args.reps} repetition(s), profile {args.profile}, "
          f"workers on {args.python}", flush=True)
    bins = build_native(args)
    tmp = Path(tempfile.mkdtemp(prefix="genkit-azure-bench-"))
    results_dir = args.results_dir or (tmp if s else BENCH / "results")
    results_dir.mkdir(parents=True, exist_ok=True)
    logs = results_dir / "logs"
    logs.mkdir(exist_ok=True)
    machine = machine_info(args.python)
    load1 = os.getloadavg()[0]
    if not s and load1 > 0.5:
        print(f"  warning: load average {load1:.2f}: something else is running; the figures will be noisy", flush=True)
    started = _dt.datetime.now(_dt.timezone.utc)
    emulator = Emulator(bins["emulator"], tmp)
    records: list[dict[str, Any]] = []
    try:
        one_rep = plan(args, emulator, bins)
        group_order = list(dict.fromkeys(g for g, *_ in one_rep))
        for group in group_order:
            items = [it for it in one_rep if it[0] == group]
            for rep in range(1 if group == "encode" else args.reps):
                # Alternate variants; rotate the order each repetition so that no variant
                # always runs first (or right after the heaviest one).
                k = rep % len(items)
                for group_, variant, cmd, env in items[k:] + items[:k]:
                    run_id = f"{group_}-{variant.replace(':', '-')}-r{rep + 1}"
                    print(f"  {run_id} ...", end=" ", flush=True)
                    rec = run_one(run_id, cmd, env, emulator, logs, args.timeout)
                    rec.update(group=group_, variant=variant, rep=rep + 1)
                    derive(rec)
                    records.append(rec)
                    native = (rec.get("result") or {}).get("native_module") or ""
                    if native.startswith(str(REPO / "python")) and not s:
                        print(f"\n  warning: genkit_azure_rs was loaded from the source tree ({native}); "
                              "that may be a debug build: use bench/run.sh, which installs a release wheel")
                    f = rec.get("figures", {})
                    if rec["ok"]:
                        if variant in NO_EXPORT:
                            print(f"created {f['spans_created']} spans, wall {f['wall_s']:.2f} s, "
                                  f"CPU {f['cpu_s']:.2f} s, peak RSS {f['max_rss_mb']:.0f} MB", flush=True)
                        elif group_ == "encode":
                            print(encode_line(rec["result"]), flush=True)
                        elif "delivered" in f:
                            print(f"delivered {f['delivered']}/{f['spans_created']}, wall {f['wall_s']:.2f} s, "
                                  f"CPU {f['cpu_s']:.2f} s, peak RSS {f['max_rss_mb']:.0f} MB", flush=True)
                        else:
                            heap = f.get("heap_bytes_per_queued_span")
                            print(f"{'n/a' if heap is None else format(heap, '.0f')} heap B / "
                                  f"{f.get('rss_bytes_per_queued_span') or 0:.0f} RSS B per queued span", flush=True)
    finally:
        emulator.stop()
        if results_dir != tmp:
            shutil.copyfile(tmp / "emulator.log", logs / "emulator.log")

    finished = _dt.datetime.now(_dt.timezone.utc)
    data = {
        "command": " ".join([os.path.relpath(sys.argv[0], REPO) if Path(sys.argv[0]).is_absolute() else sys.argv[0],
                             *sys.argv[1:]]),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "load_average_at_end": os.getloadavg(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine,
        "official_env": {**OFFICIAL_ENV, **{f"(lossless) {k}": v for k, v in OFFICIAL_LOSSLESS_ENV.items()}},
        "aggregate": aggregate(records),
        "runs": records,
    }
    stamp = started.strftime("%Y%m%d-%H%M%S")
    raw = results_dir / (f"smoke-{stamp}.json" if s else f"bench-{stamp}.json")
    raw.write_text(json.dumps(data, indent=1))
    if not (s and args.results_dir is None):
        print(f"raw results: {raw}")
    if not s:
        shutil.copyfile(raw, results_dir / "latest.json")
    report = args.report or (None if s else REPO / "BENCHMARKS.md")
    if report:
        write_report(report, data, os.path.relpath(raw.resolve(), report.parent.resolve()))
        print(f"report: {report}")

    failed = [r for r in records if not r["ok"]]
    if s:
        problems = smoke_check(records)
        if problems:
            print("bench smoke FAILED (logs kept in " + str(logs) + "):\n  " + "\n  ".join(problems))
            return 1
        if results_dir == tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"bench smoke: {len(records)} runs OK")
        return 0
    shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        print(f"{len(failed)} run(s) failed: " + ", ".join(r["id"] for r in failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
