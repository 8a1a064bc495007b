#!/usr/bin/python3
"""Side-by-side inference benchmark, same variant, batch, resolution, threads and timing loop, run in
alternating rounds on this machine:

- effnet on TorchSharp (channels-last, BatchNorm folded, `--engine torch`) and on ONNX Runtime (its own ONNX
  export, the default engine on the CPU);
- ONNX Runtime on PyTorch's own export of torchvision's model (`torch.onnx.export`, opset 17, made by
  this script), through the same `effnet bench infer --onnx` loop: the graph-quality comparison;
- effnet's INT8 exports of the same torchvision weights (`effnet export --int8`, 7- and 8-bit weights,
  calibrated on 100 images of --calibrate), through the same `effnet bench infer --onnx` loop;
- PyTorch eager, NCHW and channels-last, each with glibc's default allocator and with the allocator
  settings effnet applies in-process (MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_); the best of these
  four is PyTorch's best here (TorchScript freezing measured slower on this machine kind).

    dotnet build -c Release
    /usr/bin/python3 bench/compare_infer.py [--variant b0] [--batch 16] [--seconds 10] [--threads 2] [--rounds 3] [--isa native|avx2]
        [--calibrate ../shared/data/flowers12/train] [--baseline OTHER/effnet.dll]
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


def int8_exports(variant, tmp, calibrate):
    """effnet's INT8 exports of torchvision's model, with 7- and 8-bit weights: {bits: path}."""
    weights = os.path.join(tmp, f"{variant}.pth")
    code = f"import sys, torch, torchvision; torch.save(torchvision.models.efficientnet_{variant}().eval().state_dict(), sys.argv[1])"
    subprocess.run(["/usr/bin/python3", "-c", code, weights], check=True, capture_output=True)
    paths = {}
    for bits in (7, 8):
        paths[bits] = os.path.join(tmp, f"{variant}-int8-w{bits}.onnx")
        subprocess.run(["dotnet", EFFNET, "export", "--weights", weights, "--variant", variant, "--out", paths[bits], "--int8",
                        "--calibrate", calibrate, "--calibration-images", "100", "--check-images", "0", "--weight-bits", str(bits)],
                       check=True, capture_output=True)
    return paths


def main():
    ap = compare_parser(__doc__, batch=16, seconds=10)
    ap.add_argument("--variant", default="b0")
    ap.add_argument("--calibrate", default=os.path.join(ROOT, "..", "shared", "data", "flowers12", "train"),
                    help="images for the INT8 exports' calibration")
    args = ap.parse_args()
    require_effnet()
    common = ["--batch", str(args.batch), "--seconds", str(args.seconds), "--threads", str(args.threads), "--json"]
    effnet = ["dotnet", EFFNET, "bench", "infer"]
    torch_cmd = ["/usr/bin/python3", os.path.join(ROOT, "bench", "pytorch_infer.py"), "--variant", args.variant] + common
    with tempfile.TemporaryDirectory() as tmp:
        exported = os.path.join(tmp, f"pytorch_{args.variant}.onnx")
        pytorch_export(args.variant, exported)
        int8 = int8_exports(args.variant, tmp, args.calibrate)
        effnet_rows = [
            ("effnet, TorchSharp, channels-last, BatchNorm folded", effnet + ["--variant", args.variant, "--engine", "torch"] + common, None),
            ("effnet, ONNX Runtime, effnet's export (the default)", effnet + ["--variant", args.variant] + common, None),
            ("ONNX Runtime, PyTorch's export (same effnet loop)", effnet + ["--onnx", exported] + common, None),
            ("effnet, ONNX Runtime, INT8 export, 7-bit weights", effnet + ["--onnx", int8[7]] + common, None),
            ("effnet, ONNX Runtime, INT8 export, 8-bit weights", effnet + ["--onnx", int8[8]] + common, None),
        ]
        baseline = [("effnet baseline build, TorchSharp", ["dotnet", args.baseline, "bench", "infer", "--variant", args.variant, "--engine", "torch"] + common, None)] if args.baseline else []
        pytorch = [
            ("PyTorch, NCHW", torch_cmd + ["--nchw"], None),
            ("PyTorch, channels-last", torch_cmd, None),
            ("PyTorch, NCHW, effnet's allocator settings", torch_cmd + ["--nchw"], RETAINING),
            ("PyTorch, channels-last, effnet's allocator settings", torch_cmd, RETAINING),
        ]
        configurations = [(label, cmd, isa_env(args, env)) for label, cmd, env in effnet_rows + baseline + pytorch]
        results = rounds(configurations, args.rounds)
    first = results[configurations[0][0]][0]
    print(cpu_line(args))
    print(f"{args.variant} inference, batch {args.batch}, {first['resolution']}x{first['resolution']}, {args.threads} threads, {args.seconds:g} s per run, medians of {args.rounds} alternating rounds")
    medians = report(results)
    torch_row, ort_row, pytorch_export_row, int8_7, int8_8 = (label for label, _, _ in effnet_rows)
    best_label = max((label for label, _, _ in pytorch), key=lambda label: medians[label])
    best = medians[best_label]
    print(f"  best PyTorch: {best_label}")
    print(f"  ratio effnet TorchSharp / best PyTorch:       {medians[torch_row] / best:.2f}")
    print(f"  ratio effnet ONNX Runtime / best PyTorch:     {medians[ort_row] / best:.2f}")
    print(f"  ratio effnet's export / PyTorch's export (both ONNX Runtime): {medians[ort_row] / medians[pytorch_export_row]:.2f}")
    for label, bits in ((int8_7, 7), (int8_8, 8)):
        print(f"  ratio INT8 ({bits}-bit weights) / effnet ONNX Runtime float: {medians[label] / medians[ort_row]:.2f};"
              f" / best PyTorch: {medians[label] / best:.2f}")
    if baseline:
        print(f"  ratio effnet TorchSharp / baseline build's ({args.baseline}): {medians[torch_row] / medians[baseline[0][0]]:.2f}")


if __name__ == "__main__":
    main()
