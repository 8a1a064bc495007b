#!/usr/bin/python3
"""Side-by-side inference benchmark: `effnet bench infer` against torchvision on PyTorch, same
variant, batch, resolution, threads and timing loop, run one after the other on this machine.

    /usr/bin/python3 bench/compare_infer.py [--variant b0] [--batch 16] [--seconds 10] [--threads 2]

PyTorch runs four ways: NCHW and channels-last, each with glibc's default allocator and with the
allocator settings effnet applies in-process (MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_), so the
ratio is shown against PyTorch as users run it and against PyTorch given the same allocator.
Needs a Release build: dotnet build -c Release.
"""
import os

from benchlib import EFFNET, ROOT, compare_parser, report, require_effnet, rounds

RETAINING = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "2147483647"}


def main():
    ap = compare_parser(__doc__, batch=16, seconds=10)
    ap.add_argument("--variant", default="b0")
    args = ap.parse_args()
    require_effnet()
    common = ["--variant", args.variant, "--batch", str(args.batch), "--seconds", str(args.seconds), "--threads", str(args.threads), "--json"]
    torch_cmd = ["/usr/bin/python3", os.path.join(ROOT, "bench", "pytorch_infer.py")] + common

    configurations = [("effnet (TorchSharp), channels-last, BatchNorm folded", ["dotnet", EFFNET, "bench", "infer"] + common, None)]
    for label, extra, env in [
        ("PyTorch, NCHW", ["--nchw"], None),
        ("PyTorch, channels-last", [], None),
        ("PyTorch, NCHW, effnet's allocator settings", ["--nchw"], RETAINING),
        ("PyTorch, channels-last, effnet's allocator settings", [], RETAINING),
    ]:
        configurations.append((label, torch_cmd + extra, env))
    results = rounds(configurations, args.rounds)
    first = results[configurations[0][0]][0]
    print(f"{args.variant} inference, batch {args.batch}, {first['resolution']}x{first['resolution']}, {args.threads} threads, {args.seconds:g} s per run, medians of {args.rounds} alternating rounds")
    medians = report(results)
    labels = [label for label, _, _ in configurations]
    ours = medians[labels[0]]
    print(f"  ratio effnet / best PyTorch (default allocator):        {ours / max(medians[labels[1]], medians[labels[2]]):.2f}")
    print(f"  ratio effnet / best PyTorch (same allocator settings):  {ours / max(medians[labels[3]], medians[labels[4]]):.2f}")


if __name__ == "__main__":
    main()
