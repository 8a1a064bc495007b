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

from benchlib import EFFNET, ROOT, compare_parser, require_effnet, run_json as run

RETAINING = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "2147483647"}


def main():
    ap = compare_parser(__doc__, batch=16, seconds=10)
    ap.add_argument("--variant", default="b0")
    args = ap.parse_args()
    require_effnet()
    common = ["--variant", args.variant, "--batch", str(args.batch), "--seconds", str(args.seconds), "--threads", str(args.threads), "--json"]
    torch_cmd = ["/usr/bin/python3", os.path.join(ROOT, "bench", "pytorch_infer.py")] + common

    rows = [("effnet (TorchSharp), channels-last, BatchNorm folded", run(["dotnet", EFFNET, "bench", "infer"] + common))]
    for label, extra, env in [
        ("PyTorch, NCHW", ["--nchw"], None),
        ("PyTorch, channels-last", [], None),
        ("PyTorch, NCHW, effnet's allocator settings", ["--nchw"], RETAINING),
        ("PyTorch, channels-last, effnet's allocator settings", [], RETAINING),
    ]:
        rows.append((label, run(torch_cmd + extra, env)))

    ours = rows[0][1]["imagesPerSecond"]
    default_best = max(r["imagesPerSecond"] for label, r in rows[1:3])
    tuned_best = max(r["imagesPerSecond"] for label, r in rows[3:])
    print(f"{args.variant} inference, batch {args.batch}, {rows[0][1]['resolution']}x{rows[0][1]['resolution']}, {args.threads} threads, {args.seconds:g} s each")
    for label, r in rows:
        print(f"  {label:<55} {r['imagesPerSecond']:8.1f} images/s  {r['millisecondsPerBatch']:8.1f} ms/batch")
    print(f"  ratio effnet / best PyTorch (default allocator):        {ours / default_best:.2f}")
    print(f"  ratio effnet / best PyTorch (same allocator settings):  {ours / tuned_best:.2f}")


if __name__ == "__main__":
    main()
