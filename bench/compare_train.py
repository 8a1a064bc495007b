#!/usr/bin/python3
"""Side-by-side training benchmark: `effnet bench train` against the same step in PyTorch
(bench/pytorch_train.py): B0 with the CIFAR stem, 32x32, batch 128, Adam, label smoothing 0.1, a full
optimizer step; same threads, one after the other on this machine. PyTorch runs NCHW and
channels-last; the ratio is against the better of the two. Also prints effnet's resident memory after
each of 3 epochs of steps, and its growth after the first.

    dotnet build -c Release && /usr/bin/python3 bench/compare_train.py [--batch 128] [--seconds 30] [--threads 2]
"""
import os

from benchlib import EFFNET, ROOT, compare_parser, require_effnet, run_json as run


def main():
    args = compare_parser(__doc__, batch=128, seconds=30).parse_args()
    require_effnet()
    common = ["--batch", str(args.batch), "--seconds", str(args.seconds), "--threads", str(args.threads), "--json"]
    ours = run(["dotnet", EFFNET, "bench", "train", "--epochs", "3", "--steps", "30"] + common)
    torch_cmd = ["/usr/bin/python3", os.path.join(ROOT, "bench", "pytorch_train.py")] + common
    nchw = run(torch_cmd + ["--nchw"])
    channels_last = run(torch_cmd)
    best = max(nchw["imagesPerSecond"], channels_last["imagesPerSecond"])
    print(f"CIFAR B0 training step, batch {args.batch}, {args.threads} threads, {args.seconds:g} s each")
    print(f"  {'effnet (TorchSharp), channels-last input':<45} {ours['imagesPerSecond']:8.1f} images/s")
    print(f"  {'PyTorch, NCHW':<45} {nchw['imagesPerSecond']:8.1f} images/s")
    print(f"  {'PyTorch, channels-last':<45} {channels_last['imagesPerSecond']:8.1f} images/s")
    print(f"  ratio effnet / best PyTorch: {ours['imagesPerSecond'] / best:.2f}")
    rss = ", ".join(f"{m:.0f}" for m in ours["residentMegabytes"])
    print(f"  effnet resident memory after each of 3 epochs of 30 steps: {rss} MiB "
          f"(growth after the first: {ours['memoryGrowthPercent']:.2f} %)")


if __name__ == "__main__":
    main()
