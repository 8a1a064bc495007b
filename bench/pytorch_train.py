#!/usr/bin/python3
"""PyTorch side of `effnet bench train`: torchvision's efficientnet_b0 with the CIFAR stem (stride 1,
as the Keras tutorial's CIFAR model), 10 classes, 32x32 random batches, Adam + cross-entropy with
label smoothing 0.1, a full optimizer step per batch; same threads and timing loop. With --processes N,
N processes train data-parallel with DistributedDataParallel (gloo backend, its default 25 MB buckets
overlapped with the backward pass), each on batch/N images with --threads threads; rank 0's clock ends
the timed part for all (a one-element all-reduce per step, as effnet's step shares its stop flag).

    /usr/bin/python3 bench/pytorch_train.py --batch 128 --seconds 20 --threads 2 [--nchw] [--processes N] [--json]
"""
import json
import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torchvision

from benchlib import pytorch_parser, timed


def build(args, share):
    torch.manual_seed(0)
    model = torchvision.models.efficientnet_b0(num_classes=10)
    model.features[0][0].stride = (1, 1)  # the CIFAR stem
    x = torch.randn(share, 3, 32, 32)
    y = torch.randint(0, 10, (share,))
    if not args.nchw:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    model.train()
    return model, x, y


def result(args, iterations, seconds, processes):
    return {
        "framework": f"pytorch {torch.__version__}",
        "batch": args.batch,
        "processes": processes,
        "threads": torch.get_num_threads(),
        "channelsLast": not args.nchw,
        "iterations": iterations,
        "seconds": seconds,
        "imagesPerSecond": iterations * args.batch / seconds,
    }


def show(args, r):
    if args.json:
        print(json.dumps(r))
    else:
        print(f"PyTorch {torch.__version__} CIFAR B0 training, batch {args.batch}, {r['processes']} process(es), "
              f"{'NCHW' if args.nchw else 'channels-last'}, {r['threads']} threads: {r['imagesPerSecond']:.1f} images/s")


def single(args):
    torch.set_num_threads(args.threads)
    model, x, y = build(args, args.batch)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)

    def step():
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    iterations, seconds = timed(step, args.warmup, args.seconds)
    show(args, result(args, iterations, seconds, 1))


def rank_main(rank, args, port):
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=args.processes)
    model, x, y = build(args, args.batch // args.processes)
    model = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    stop = torch.zeros(1)

    def step(time_up=False):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        stop.fill_(1.0 if time_up else 0.0)
        dist.all_reduce(stop)
        return stop.item() > 0

    for _ in range(args.warmup):
        step()
    iterations, start = 0, time.perf_counter()
    while True:
        iterations += 1
        if step(rank == 0 and iterations > 1 and time.perf_counter() - start >= args.seconds):
            break
    seconds = time.perf_counter() - start
    if rank == 0:
        show(args, result(args, iterations, seconds, args.processes))
    dist.destroy_process_group()


def main():
    ap = pytorch_parser(__doc__, batch=128, seconds=20)
    ap.add_argument("--processes", type=int, default=1, help="data-parallel processes (DistributedDataParallel, gloo)")
    args = ap.parse_args()
    if args.processes == 1:
        single(args)
        return
    if args.batch % args.processes:
        raise SystemExit("--batch must be a multiple of --processes")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(rank_main, args=(args, port), nprocs=args.processes)


if __name__ == "__main__":
    main()
