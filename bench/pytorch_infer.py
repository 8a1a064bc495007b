#!/usr/bin/python3
"""PyTorch side of `effnet bench infer`: torchvision's EfficientNet in eval mode on random input,
same batch, resolution, threads and timing loop (warm-up, then passes until the time is up).

    /usr/bin/python3 bench/pytorch_infer.py --variant b0 --batch 16 --seconds 10 --threads 2 [--nchw] [--json]
"""
import json

import torch
import torchvision

from benchlib import pytorch_parser, timed

RESOLUTION = {"b0": 224, "b1": 240, "b2": 260, "b3": 300, "b4": 380, "b5": 456, "b6": 528, "b7": 600}


def main():
    ap = pytorch_parser(__doc__, batch=16, seconds=10)
    ap.add_argument("--variant", default="b0", choices=sorted(RESOLUTION))
    ap.add_argument("--resolution", type=int)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    res = args.resolution or RESOLUTION[args.variant]
    model = getattr(torchvision.models, f"efficientnet_{args.variant}")().eval()
    x = torch.randn(args.batch, 3, res, res)
    if not args.nchw:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    with torch.no_grad():
        iterations, seconds = timed(lambda: model(x), args.warmup, args.seconds)
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
