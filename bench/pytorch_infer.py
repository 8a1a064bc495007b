#!/usr/bin/python3
"""PyTorch side of `effnet bench infer`: torchvision's EfficientNet in eval mode on random input,
same batch, resolution, threads and timing loop (warm-up, then passes until the time is up).

    /usr/bin/python3 bench/pytorch_infer.py --variant b0 --batch 16 --seconds 10 --threads 2 [--nchw] [--json]
"""
import argparse
import json
import time

import torch
import torchvision

RESOLUTION = {"b0": 224, "b1": 240, "b2": 260, "b3": 300, "b4": 380, "b5": 456, "b6": 528, "b7": 600}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", default="b0", choices=sorted(RESOLUTION))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--resolution", type=int)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--nchw", action="store_true", help="NCHW instead of channels-last")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    res = args.resolution or RESOLUTION[args.variant]
    model = getattr(torchvision.models, f"efficientnet_{args.variant}")().eval()
    x = torch.randn(args.batch, 3, res, res)
    if not args.nchw:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    with torch.no_grad():
        for _ in range(args.warmup):
            model(x)
        iterations, start = 0, time.perf_counter()
        while iterations == 0 or time.perf_counter() - start < args.seconds:
            model(x)
            iterations += 1
        seconds = time.perf_counter() - start
    result = {
        "framework": f"pytorch {torch.__version__}",
        "variant": args.variant,
        "batch": args.batch,
        "resolution": res,
        "threads": torch.get_num_threads(),
        "channelsLast": not args.nchw,
        "iterations": iterations,
        "seconds": seconds,
        "imagesPerSecond": iterations * args.batch / seconds,
        "millisecondsPerBatch": 1000 * seconds / iterations,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"PyTorch {torch.__version__} {args.variant} batch {args.batch} {res}x{res} "
              f"{'NCHW' if args.nchw else 'channels-last'} {result['threads']} threads: "
              f"{result['imagesPerSecond']:.1f} images/s")


if __name__ == "__main__":
    main()
