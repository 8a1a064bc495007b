#!/usr/bin/python3
"""PyTorch side of `effnet bench train`: torchvision's efficientnet_b0 with the CIFAR stem (stride 1,
as the source document's CIFAR model), 10 classes, 32x32 random batches, Adam + cross-entropy with
label smoothing 0.1, a full optimizer step per batch; same threads and timing loop.

    /usr/bin/python3 bench/pytorch_train.py --batch 128 --seconds 20 --threads 2 [--nchw] [--json]
"""
import json

import torch
import torchvision

from benchlib import pytorch_parser, timed


def main():
    args = pytorch_parser(__doc__, batch=128, seconds=20).parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torchvision.models.efficientnet_b0(num_classes=10)
    model.features[0][0].stride = (1, 1)  # the CIFAR stem
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    if not args.nchw:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)

    def step():
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    iterations, seconds = timed(step, args.warmup, args.seconds)
    result = {
        "framework": f"pytorch {torch.__version__}",
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "channelsLast": not args.nchw,
        "iterations": iterations,
        "seconds": seconds,
        "imagesPerSecond": iterations * args.batch / seconds,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"PyTorch {torch.__version__} CIFAR B0 training, batch {args.batch}, "
              f"{'NCHW' if args.nchw else 'channels-last'}, {result['threads']} threads: {result['imagesPerSecond']:.1f} images/s")


if __name__ == "__main__":
    main()
