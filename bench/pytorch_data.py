#!/usr/bin/python3
"""The torchvision side of bench/compare_data.py: ImageFolder with PIL, RandomResizedCrop(R) (bilinear, antialiased),
RandomHorizontalFlip, ToTensor and Normalize (ImageNet), through DataLoader(num_workers=W, shuffle, persistent
workers), timed like `effnet bench data`: one warm-up batch, then batches until the time is up."""
import argparse
import json
import os
import time

import torch
import torchvision
from torchvision import transforms


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(1)
    pipeline = transforms.Compose([
        transforms.RandomResizedCrop(args.resolution),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    dataset = torchvision.datasets.ImageFolder(args.data, transform=pipeline)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                                         persistent_workers=args.workers > 0)
    batches = iter(loader)
    next(batches)  # warm-up: workers started, first batch decoded
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        try:
            images, _ = next(batches)
        except StopIteration:
            batches = iter(loader)
            continue
        count += images.shape[0]
    seconds = time.perf_counter() - start
    result = {"resolution": args.resolution, "batch": args.batch, "workers": args.workers, "images": count, "seconds": seconds, "imagesPerSecond": count / seconds}
    print(json.dumps(result) if args.json else f"{result['imagesPerSecond']:.1f} images/s ({count} images in {seconds:.1f} s, {args.workers} workers)")


if __name__ == "__main__":
    main()
