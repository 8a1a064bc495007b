#!/usr/bin/python3
"""Side-by-side inference benchmark, same variant, batch, resolution, threads and timing loop, run in
alternating rounds on this machine:

- effnet on TorchSharp (channels-last, BatchNorm folded) and on ONNX Runtime (its own ONNX export,
  `effnet bench infer --engine onnxruntime`);
- ONNX Runtime on PyTorch's own export of torchvision's model (`torch.onnx.export`, opset 17, made by
  this script), through the same `effnet bench infer --onnx` loop: the graph-quality comparison;
- PyTorch eager, NCHW and channels-last, each with glibc's default allocator and with the allocator
  settings effnet applies in-process (MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_); the best of these
  four is PyTorch's best here (TorchScript freezing measured slower on this machine kind).

    dotnet build -c Release
    /usr/bin/python3 bench/compare_infer.py [--variant b0] [--batch 16] [--seconds 10] [--threads 2] [--rounds 3] [--isa native|avx2]
"""
import os
import subprocess
import tempfile

from benchlib import EFFNET, RETAINING, ROOT, compare_parser, cpu_line, isa_env, report, require_effnet, rounds


def pytorch_export(variant, path):
    """torchvision's model exported by PyTorch itself (eval mode, constant folding, dynamic batch)."""
    code = (
        "import sys, torch, torchvision\n"
        f"m = torchvision.models.efficientnet_{variant}().eval()\n"
        "r = {'b0': 224, 'b1': 240, 'b2': 260, 'b3': 300, 'b4': 380, 'b5': 456, 'b6': 528, 'b7': 600}[sys.argv[2]]\n"
        "torch.onnx.export(m, torch.randn(1, 3, r, r), sys.argv[1], opset_version=17, input_names=['input'],\n"
        "                  output_names=['logits'], dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})\n"
    )
    subprocess.run(["/usr/bin/python3", "-c", code, path, variant], check=True, capture_output=True)


def main():
    ap = compare_parser(__doc__, batch=16, seconds=10)
    ap.add_argument("--variant", default="b0")
    args = ap.parse_args()
    require_effnet()
    common = ["--batch", str(args.batch), "--seconds", str(args.seconds), "--threads", str(args.threads), "--json"]
    effnet = ["dotnet", EFFNET, "bench", "infer"]
    torch_cmd = ["/usr/bin/python3", os.path.join(ROOT, "bench", "pytorch_infer.py"), "--variant", args.variant] + common
    with tempfile.TemporaryDirectory() as tmp:
        exported = os.path.join(tmp, f"pytorch_{args.variant}.onnx")
        pytorch_export(args.variant, exported)
        configurations = [
            ("effnet, TorchSharp, channels-last, BatchNorm folded", effnet + ["--variant", args.variant] + common, None),
            ("effnet, ONNX Runtime, effnet's export", effnet + ["--variant", args.variant, "--engine", "onnxruntime"] + common, None),
            ("ONNX Runtime, PyTorch's export (same effnet loop)", effnet + ["--onnx", exported] + common, None),
            ("PyTorch, NCHW", torch_cmd + ["--nchw"], None),
            ("PyTorch, channels-last", torch_cmd, None),
            ("PyTorch, NCHW, effnet's allocator settings", torch_cmd + ["--nchw"], RETAINING),
            ("PyTorch, channels-last, effnet's allocator settings", torch_cmd, RETAINING),
        ]
        configurations = [(label, cmd, isa_env(args, env)) for label, cmd, env in configurations]
        results = rounds(configurations, args.rounds)
    first = results[configurations[0][0]][0]
    print(cpu_line(args))
    print(f"{args.variant} inference, batch {args.batch}, {first['resolution']}x{first['resolution']}, {args.threads} threads, {args.seconds:g} s per run, medians of {args.rounds} alternating rounds")
    medians = report(results)
    labels = [label for label, _, _ in configurations]
    best_label = max(labels[3:], key=lambda label: medians[label])
    best = medians[best_label]
    print(f"  best PyTorch: {best_label}")
    print(f"  ratio effnet TorchSharp / best PyTorch:       {medians[labels[0]] / best:.2f}")
    print(f"  ratio effnet ONNX Runtime / best PyTorch:     {medians[labels[1]] / best:.2f}")
    print(f"  ratio effnet's export / PyTorch's export (both ONNX Runtime): {medians[labels[1]] / medians[labels[2]]:.2f}")


if __name__ == "__main__":
    main()
