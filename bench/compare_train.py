#!/usr/bin/python3
"""Side-by-side training benchmark: `effnet bench train` against the same step in PyTorch
(bench/pytorch_train.py): B0 with the CIFAR stem, 32x32, batch 128, Adam, label smoothing 0.1, a full
optimizer step; same threads, alternating runs on this machine, medians reported. PyTorch runs NCHW
and channels-last, each with glibc's default allocator and with the retaining settings; the ratio is
against the best of them. `--isa avx2` caps oneDNN at AVX2 on both sides. With `--processes N`, both also
train data-parallel as N processes of threads/N threads on the same global batch: effnet under Open MPI's
mpirun, PyTorch with DistributedDataParallel (gloo), and the ratio is against PyTorch's best of all.
(Memory over epochs: `effnet bench train --epochs 3`, and the rss_mb column of every run's history.csv.)

    dotnet build -c Release && /usr/bin/python3 bench/compare_train.py [--batch 128] [--seconds 30] [--threads 2] [--processes 2]
        [--baseline OTHER/effnet.dll]
"""
import os

from benchlib import EFFNET, RETAINING, ROOT, compare_parser, cpu_line, isa_env, report, require_effnet, rounds


def main():
    parser = compare_parser(__doc__, batch=128, seconds=30)
    parser.add_argument("--processes", type=int, default=1, help="also train as this many data-parallel processes of threads/processes threads each")
    args = parser.parse_args()
    require_effnet()
    common = ["--batch", str(args.batch), "--seconds", str(args.seconds), "--json"]
    threads = ["--threads", str(args.threads)]
    torch_cmd = ["/usr/bin/python3", os.path.join(ROOT, "bench", "pytorch_train.py")] + common
    effnet_cmd = ["dotnet", EFFNET, "bench", "train", "--epochs", "0"] + common
    effnet = [("effnet (TorchSharp), channels-last input", effnet_cmd + threads, None)]
    baseline = [("effnet baseline build, channels-last input", ["dotnet", args.baseline] + effnet_cmd[2:] + threads, None)] if args.baseline else []
    pytorch = [
        ("PyTorch, NCHW", torch_cmd + threads + ["--nchw"], None),
        ("PyTorch, channels-last", torch_cmd + threads, None),
        ("PyTorch, NCHW, retaining allocator settings", torch_cmd + threads + ["--nchw"], RETAINING),
        ("PyTorch, channels-last, retaining allocator settings", torch_cmd + threads, RETAINING),
    ]
    if args.processes > 1:
        n, per = args.processes, ["--threads", str(max(1, args.threads // args.processes))]
        mpirun = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(n)]
        effnet.append((f"effnet, {n} processes (Open MPI) x {per[1]} thread(s)", mpirun + effnet_cmd + per, None))
        pytorch += [
            (f"PyTorch DDP (gloo), {n} x {per[1]}, NCHW, retaining", torch_cmd + per + ["--nchw", "--processes", str(n)], RETAINING),
            (f"PyTorch DDP (gloo), {n} x {per[1]}, channels-last, retaining", torch_cmd + per + ["--processes", str(n)], RETAINING),
        ]
    configurations = [(label, cmd, isa_env(args, env)) for label, cmd, env in effnet + baseline + pytorch]
    results = rounds(configurations, args.rounds)
    print(cpu_line(args))
    print(f"CIFAR B0 training step, batch {args.batch}, {args.threads} threads in all, {args.seconds:g} s per run, medians of {args.rounds} alternating rounds")
    medians = report(results)
    best_effnet = max((label for label, _, _ in effnet), key=lambda label: medians[label])
    best_pytorch = max((label for label, _, _ in pytorch), key=lambda label: medians[label])
    print(f"  best effnet: {best_effnet}")
    print(f"  best PyTorch: {best_pytorch}")
    print(f"  ratio effnet / best PyTorch: {medians[best_effnet] / medians[best_pytorch]:.2f}")
    if baseline:
        print(f"  ratio effnet / baseline build ({args.baseline}): {medians[effnet[0][0]] / medians[baseline[0][0]]:.2f}")
    if args.processes > 1:
        print(f"  ratio effnet {args.processes} processes / effnet 1 process: {medians[effnet[1][0]] / medians[effnet[0][0]]:.2f}")


if __name__ == "__main__":
    main()
