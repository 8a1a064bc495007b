"""Shared pieces of the side-by-side benchmark scripts (timing loop, options, running effnet)."""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EFFNET = os.path.join(ROOT, "src", "EfficientNet.Cli", "bin", "Release", "net10.0", "effnet.dll")


def pytorch_parser(description, batch, seconds):
    """Options every PyTorch-side script takes, matching `effnet bench`'s."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--batch", type=int, default=batch)
    ap.add_argument("--seconds", type=float, default=seconds)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--nchw", action="store_true", help="NCHW instead of channels-last")
    ap.add_argument("--json", action="store_true")
    return ap


def timed(step, warmup, seconds):
    """The same loop as effnet's: untimed warm-up calls, then calls until the time is up (at least one)."""
    for _ in range(warmup):
        step()
    iterations, start = 0, time.perf_counter()
    while iterations == 0 or time.perf_counter() - start < seconds:
        step()
        iterations += 1
    return iterations, time.perf_counter() - start


def compare_parser(description, batch, seconds):
    """Options of the compare_*.py drivers."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--batch", type=int, default=batch)
    ap.add_argument("--seconds", type=float, default=seconds)
    ap.add_argument("--threads", type=int, default=2)
    return ap


def require_effnet():
    if not os.path.exists(EFFNET):
        sys.exit(f"{EFFNET} not found: run `dotnet build -c Release` first")


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})})
    return json.loads(out.stdout)
