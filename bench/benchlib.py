"""Shared pieces of the side-by-side benchmark scripts (timing loop, options, running effnet)."""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# glibc settings that keep freed large blocks for reuse instead of unmapping them (what effnet applies
# in-process for inference, NativeAllocator.UseRetainingAllocator); PyTorch runs with and without them.
RETAINING = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "2147483647"}
# Caps oneDNN (libtorch 2.10 and PyTorch 1.13) at its AVX2 kernels on an AVX-512 machine.
AVX2_ONLY = {"ONEDNN_MAX_CPU_ISA": "AVX2", "DNNL_MAX_CPU_ISA": "AVX2"}
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
    ap.add_argument("--rounds", type=int, default=3, help="run every configuration this many times, alternating, and report medians")
    ap.add_argument("--isa", choices=["native", "avx2"], default="native",
                    help="avx2: cap oneDNN at AVX2 on both sides (ONEDNN_MAX_CPU_ISA); ONNX Runtime's MLAS has no such cap")
    ap.add_argument("--baseline", metavar="EFFNET_DLL",
                    help="another build of effnet.dll (an earlier commit's, built elsewhere) to run beside this one, reported as its own row and ratio")
    return ap


def cpu_line(args):
    """The CPU model and the vector flags that decide which kernels run, and the ISA cap in use."""
    model, flags = "unknown CPU", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    shown = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags]
    cap = " (oneDNN capped at AVX2)" if args.isa == "avx2" else ""
    return f"{model}, {os.cpu_count()} cores, flags: {' '.join(shown)}{cap}"


def isa_env(args, env=None):
    """The environment of one configuration, with the ISA cap when --isa avx2."""
    return {**(env or {}), **(AVX2_ONLY if args.isa == "avx2" else {})}


def rounds(configurations, count):
    """Runs every (label, command, env) once per round, alternating so that drifts of a shared machine
    hit all alike; returns {label: [results]}."""
    results = {label: [] for label, _, _ in configurations}
    for _ in range(count):
        for label, cmd, env in configurations:
            results[label].append(run_json(cmd, env))
    return results


def median(values):
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def report(results, key="imagesPerSecond"):
    """Prints median (min-max) per configuration; returns {label: median}."""
    medians = {}
    for label, runs in results.items():
        values = [r[key] for r in runs]
        medians[label] = median(values)
        print(f"  {label:<55} {medians[label]:8.1f} images/s  (min {min(values):.1f}, max {max(values):.1f}, {len(values)} runs)")
    return medians


def require_effnet():
    if not os.path.exists(EFFNET):
        sys.exit(f"{EFFNET} not found: run `dotnet build -c Release` first")


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})})
    return json.loads(out.stdout)
