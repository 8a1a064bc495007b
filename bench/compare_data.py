#!/usr/bin/python3
"""Side-by-side training-input benchmark: `effnet bench data` (streamed files: read, decode, random-resized crop,
flip, resize, normalise, by worker threads) against torchvision's ImageFolder + DataLoader with PIL and the same
transforms (bench/pytorch_data.py) on the same folder, alternating runs, medians. torchvision runs with
num_workers = the workers and with twice as many (its main process collates beside the workers, so it gains from
more processes than cores); the ratio is against its best.

    dotnet build -c Release && /usr/bin/python3 bench/compare_data.py --data ../shared/data/flowers12/train [--resolution 224] [--batch 32] [--seconds 20] [--workers 2]
"""
import argparse
import os

from benchlib import EFFNET, ROOT, cpu_line, median, require_effnet, rounds


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    require_effnet()
    common = ["--data", args.data, "--resolution", str(args.resolution), "--batch", str(args.batch), "--seconds", str(args.seconds), "--json"]
    torchvision = ["/usr/bin/python3", os.path.join(ROOT, "bench", "pytorch_data.py")] + common
    effnet = [(f"effnet bench data, {args.workers} worker threads", ["dotnet", EFFNET, "bench", "data"] + common + ["--workers", str(args.workers)], None)]
    pytorch = [(f"torchvision DataLoader, {w} worker processes", torchvision + ["--workers", str(w)], None) for w in (args.workers, 2 * args.workers)]
    configurations = effnet + pytorch
    results = rounds(configurations, args.rounds)
    print(cpu_line(argparse.Namespace(isa="native")))
    print(f"{args.data}: random-resized crop {args.resolution}, flip, normalise; batch {args.batch}, {os.cpu_count()} cores, {args.seconds:g} s per run, medians of {args.rounds} alternating rounds")
    medians = {}
    for label, runs in results.items():
        values = [r["imagesPerSecond"] for r in runs]
        medians[label] = median(values)
        print(f"  {label:<50} {medians[label]:8.1f} images/s  (min {min(values):.1f}, max {max(values):.1f}; per core {medians[label] / os.cpu_count():.1f})")
    best = max((label for label, _, _ in pytorch), key=lambda label: medians[label])
    print(f"  best torchvision: {best}")
    print(f"  ratio effnet / best torchvision: {medians[effnet[0][0]] / medians[best]:.2f}")


if __name__ == "__main__":
    main()
