#!/usr/bin/python3
"""Soak of `effnet serve`: `wrk` at concurrency 32 for --seconds on loopback, every request one JPEG body, while the
server's resident memory (VmRSS of its process) is sampled every few seconds. Passes when every request answered
200, the server exited 0 on SIGTERM, and the resident memory at the end is less than --growth percent above its
level in the minute after --warmup seconds (the buffers of the first batches are allocated by then), each level the
mean of a minute of samples.

    dotnet build -c Release
    apt-get install wrk
    /usr/bin/python3 bench/serve_soak.py [--model b0.onnx] [--image photo.jpg] [--threads 2] [--seconds 300] [--concurrency 32]
"""
import argparse
import sys
import tempfile
import threading
import time

from benchlib import cpu_line
from serve_load import Server, default_image, default_model, wrk


def resident_megabytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help=".onnx or weights file to serve (default: torchvision's B0 with random weights, exported)")
    ap.add_argument("--image", help="JPEG body of every request (default: a 224x224 crop of a flowers12 photo)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--warmup", type=float, default=30, help="seconds after which the resident memory is the reference")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--growth", type=float, default=5, help="most growth allowed, in percent of the reference")
    ap.add_argument("--serve-args", default="", help="more options for effnet serve")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or default_model(tmp)
        image = args.image or default_image(tmp)
        server = Server(model, args.threads, args.serve_args.split())
        samples, done = [], threading.Event()

        def sample():
            start = time.time()
            while not done.wait(5):
                samples.append((time.time() - start, resident_megabytes(server.process.pid)))

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            result = wrk(server.url + "/v1/classify", image, args.concurrency, args.seconds)
        finally:
            done.set()
            sampler.join()
            server.stop()
    # Each level is the mean of a minute of samples: the garbage collector's heap rises and falls by tens of megabytes
    # between collections, so single samples would measure where in that cycle they fell.
    after_warmup = [mb for t, mb in samples if args.warmup <= t < args.warmup + 60]
    last_minute = [mb for t, mb in samples if t >= samples[-1][0] - 60]
    reference, final = sum(after_warmup) / len(after_warmup), sum(last_minute) / len(last_minute)
    growth = 100 * (final - reference) / reference
    print(cpu_line(argparse.Namespace(isa="native")))
    print(f"soak: {result['requests']} requests in {args.seconds:g} s at concurrency {args.concurrency}, all 200,"
          f" {result['requestsPerSecond']:.1f} requests/s, median {result['medianMilliseconds']:.0f} ms")
    print("resident MB every 30 s: " + ", ".join(f"{mb:.0f}" for t, mb in samples if round(t) % 30 == 0))
    print(f"resident memory, mean of a minute: {reference:.0f} MB from {args.warmup:g} s, {final:.0f} MB in the last minute"
          f" (max {max(mb for _, mb in samples):.0f} MB): growth {growth:+.1f}% (limit {args.growth:g}%)")
    if growth >= args.growth:
        sys.exit("FAILED: resident memory grew more than the limit")


if __name__ == "__main__":
    main()
