#!/usr/bin/python3
"""Side-by-side training benchmark: `effnet bench train` against the same step in PyTorch
(bench/pytorch_train.py): B0 with the CIFAR stem, 32x32, batch 128, Adam, label smoothing 0.1, a full
optimizer step; same threads, alternating runs on this machine, medians reported. PyTorch runs NCHW
and channels-last, each with glibc's default allocator and with the retaining settings; the ratio is
against the best of the four. `--isa avx2` caps oneDNN at AVX2 on both sides. (Memory over epochs: `effnet bench
train --epochs 3`, and the rss_mb column of every run's history.csv.)

    dotnet build -c Release && /usr/bin/python3 bench/compare_train.py [--batch 128] [--seconds 30] [--threads 2]
"""
import os

from benchlib import EFFNET, RETAINING, ROOT, compare_parser, cpu_line, isa_env, report, require_effnet, rounds


def main():
    args = compare_parser(__doc__, batch=128, seconds=30).parse_args()
    require_effnet()
    common = ["--batch", str(args.batch), "--seconds", str(args.seconds), "--threads", str(args.threads), "--json"]
    torch_cmd = ["/usr/bin/python3", os.path.join(ROOT, "bench", "pytorch_train.py")] + common
    configurations = [
        ("effnet (TorchSharp), channels-last input", ["dotnet", EFFNET, "bench", "train", "--epochs", "0"] + common, None),
        ("PyTorch, NCHW", torch_cmd + ["--nchw"], None),
        ("PyTorch, channels-last", torch_cmd, None),
        ("PyTorch, NCHW, retaining allocator settings", torch_cmd + ["--nchw"], RETAINING),
        ("PyTorch, channels-last, retaining allocator settings", torch_cmd, RETAINING),
    ]
    configurations = [(label, cmd, isa_env(args, env)) for label, cmd, env in configurations]
    results = rounds(configurations, args.rounds)
    print(cpu_line(args))
    print(f"CIFAR B0 training step, batch {args.batch}, {args.threads} threads, {args.seconds:g} s per run, medians of {args.rounds} alternating rounds")
    medians = report(results)
    labels = [label for label, _, _ in configurations]
    best_label = max(labels[1:], key=lambda label: medians[label])
    print(f"  best PyTorch: {best_label}")
    print(f"  ratio effnet / best PyTorch: {medians[labels[0]] / medians[best_label]:.2f}")


if __name__ == "__main__":
    main()
