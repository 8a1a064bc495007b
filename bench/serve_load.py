#!/usr/bin/python3
"""Load benchmark of `effnet serve` on loopback, beside the in-process figures of the same model, engine and threads,
in alternating rounds on this machine:

- `effnet bench infer --onnx MODEL --batch 16`: the engine alone at batch 16 on random input (the ceiling);
- with --workers W above 1, `effnet bench infer --workers W --batch B` (--workers-batch, default 4) too: the engine
  alone running W batches at once, each with threads / W intra-op threads, as the server's workers do;
- `effnet serve MODEL --workers W` driven by `wrk` at concurrency 16, every request one JPEG body: served throughput,
  and its ratio to the lines above;
- with --skia-row, `effnet serve` again at concurrency 16 with EFFNET_TURBOJPEG=off (every JPEG decoded by SkiaSharp
  instead of libjpeg-turbo's TurboJPEG library): what the faster decoder gives the server;
- `effnet bench predict --weights MODEL --image JPEG`: the median of whole in-process predictions of that image
  (read, decode, preprocessing, one forward pass, top 5);
- `effnet serve` at concurrency 1: the median request latency as `wrk` sees it, and its difference to the line above.

Every request must answer 200, and the server must exit 0 on SIGTERM. Model: --model FILE (.onnx or weights), else
torchvision's B0 (random weights, 1000 classes) exported by `effnet export`. Image: --image FILE, else the first image
of ../shared/data/flowers12/train resized and centre-cropped to 224x224 (Pillow, JPEG quality 90). The server, the
benchmarks and `wrk` share this machine's cores: the load generator's own CPU time is printed with the results (wrk, in C
on epoll, takes about a sixth of what `hey` took here, CPU the server's threads would otherwise lose).

    dotnet build -c Release
    apt-get install wrk
    /usr/bin/python3 bench/serve_load.py [--model b0.onnx] [--image photo.jpg] [--threads 2] [--workers 1] [--seconds 20] [--rounds 3] [--skia-row]
"""
import argparse
import os
import re
import resource
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from benchlib import EFFNET, ROOT, cpu_line, median, require_effnet, run_json


def default_model(tmp):
    """torchvision's B0 with random weights, exported to ONNX by effnet (no preprocessing in the graph)."""
    weights = os.path.join(tmp, "b0.pth")
    code = "import sys, torch, torchvision; torch.save(torchvision.models.efficientnet_b0().eval().state_dict(), sys.argv[1])"
    subprocess.run(["/usr/bin/python3", "-c", code, weights], check=True, capture_output=True)
    model = os.path.join(tmp, "b0.onnx")
    subprocess.run(["dotnet", EFFNET, "export", "--weights", weights, "--variant", "b0", "--out", model], check=True, capture_output=True)
    return model


def default_image(tmp):
    """A 224x224 JPEG of a real photo."""
    from PIL import Image
    folder = os.path.join(ROOT, "..", "shared", "data", "flowers12", "train")
    first_class = sorted(os.listdir(folder))[0]
    source = os.path.join(folder, first_class, sorted(os.listdir(os.path.join(folder, first_class)))[0])
    photo = Image.open(source).convert("RGB")
    side = min(photo.size)
    left, top = (photo.width - side) // 2, (photo.height - side) // 2
    path = os.path.join(tmp, "photo224.jpg")
    photo.crop((left, top, left + side, top + side)).resize((224, 224), Image.BICUBIC).save(path, quality=90)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.status, answer.read().decode()


class Server:
    """`effnet serve` on a free loopback port, ready when /v2/health/ready says so; stopped by SIGTERM, which must exit 0."""

    def __init__(self, model, threads, extra, env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(["dotnet", EFFNET, "serve", model, "--port", str(self.port), "--threads", str(threads)] + extra, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"effnet serve exited with {self.process.returncode}: {self.process.stdout.read()}")
            try:
                if get(self.url + "/v2/health/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise SystemExit("effnet serve was not ready within 180 s")

    def batches(self):
        """(images, forward passes) so far, from /metrics."""
        text = get(self.url + "/metrics")[1]
        value = lambda name: float(re.search(rf"^{name} (\S+)$", text, re.M).group(1))
        return value("effnet_batch_size_sum"), value("effnet_batch_size_count")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        if code != 0:
            raise SystemExit(f"effnet serve exited with {code} on SIGTERM: {self.process.stdout.read()}")


WRK_SCRIPT = """
local body = assert(io.open(os.getenv("EFFNET_BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = body:read("*a")
wrk.headers["Content-Type"] = "image/jpeg"
body:close()
"""

WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def wrk(url, image, concurrency, seconds):
    """Drives POST url with the image for `seconds` (rounded: wrk takes whole seconds; one thread, `concurrency`
    connections); returns requests/s, the median latency in ms and wrk's CPU seconds. Every request must answer 200."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT)
        script.flush()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "30s", "--latency", "-s", script.name, url],
                             check=True, capture_output=True, text=True, env=dict(os.environ, EFFNET_BENCH_BODY=image)).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    requests = re.search(r"(\d+) requests in", out)
    if not requests or int(requests.group(1)) == 0 or "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"not every request answered 200:\n{out}")
    value, unit = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)$", out, re.M).groups()
    return {
        "requestsPerSecond": float(re.search(r"Requests/sec:\s+(\S+)", out).group(1)),
        "medianMilliseconds": float(value) * WRK_UNITS[unit],
        "requests": int(requests.group(1)),
        "loadCpuSeconds": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    }


def served(model, image, args, concurrency, seconds, env=None):
    server = Server(model, args.threads, ["--workers", str(args.workers)] + args.serve_args.split(), env)
    try:
        url = server.url + "/v1/classify"
        wrk(url, image, concurrency, 2)  # warm-up: the first batches of each size plan their buffers
        images, passes = server.batches()
        result = wrk(url, image, concurrency, seconds)
        images2, passes2 = server.batches()
        result["meanBatch"] = (images2 - images) / max(passes2 - passes, 1)
    finally:
        server.stop()
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help=".onnx or weights file to serve (default: torchvision's B0 with random weights, exported)")
    ap.add_argument("--image", help="JPEG body of every request (default: a 224x224 crop of a flowers12 photo)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1, help="effnet serve --workers: batches run at once, each with threads / workers intra-op threads")
    ap.add_argument("--workers-batch", type=int, default=4, help="the batch of the in-process row with --workers above 1")
    ap.add_argument("--seconds", type=float, default=20, help="timed seconds of each throughput run (latency runs take half)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--serve-args", default="", help="more options for effnet serve, e.g. '--max-delay-ms 10'")
    ap.add_argument("--skia-row", action="store_true",
                    help="also serve at the same concurrency with EFFNET_TURBOJPEG=off (JPEG decoded by SkiaSharp), in each round")
    args = ap.parse_args()
    require_effnet()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or default_model(tmp)
        image = args.image or default_image(tmp)
        threads = ["--threads", str(args.threads)]
        rows = {"bench infer, batch 16": [], "workers": [], f"serve, concurrency {args.concurrency}": [], "skia": [], "bench predict": [], "serve, concurrency 1": []}
        infer = ["dotnet", EFFNET, "bench", "infer", "--onnx", model, "--seconds", str(args.seconds), "--json"] + threads
        for _ in range(args.rounds):
            rows["bench infer, batch 16"].append(run_json(infer + ["--batch", "16"]) if model.endswith(".onnx") else None)
            if args.workers > 1 and model.endswith(".onnx"):
                rows["workers"].append(run_json(infer + ["--batch", str(args.workers_batch), "--workers", str(args.workers)]))
            rows[f"serve, concurrency {args.concurrency}"].append(served(model, image, args, args.concurrency, args.seconds))
            if args.skia_row:
                rows["skia"].append(served(model, image, args, args.concurrency, args.seconds, dict(os.environ, EFFNET_TURBOJPEG="off")))
            rows["bench predict"].append(run_json(["dotnet", EFFNET, "bench", "predict", "--weights", model, "--image", image, "--seconds", str(args.seconds / 2), "--json"] + threads))
            rows["serve, concurrency 1"].append(served(model, image, args, 1, args.seconds / 2))
        report(args, model, image, rows)


def report(args, model, image, rows):
    print(cpu_line(argparse.Namespace(isa="native")))
    print(f"model {model if args.model else 'torchvision B0, random weights, effnet export'}, body {os.path.getsize(image)} bytes of JPEG, {args.threads} threads in {args.workers} worker(s),"
          f" {args.seconds:g} s per throughput run, medians of {args.rounds} alternating rounds; wrk on the same cores")
    infer = [r["imagesPerSecond"] for r in rows["bench infer, batch 16"] if r]
    loaded = rows[f"serve, concurrency {args.concurrency}"]
    throughput = [r["requestsPerSecond"] for r in loaded]
    if infer:
        print(f"  bench infer, batch 16:        {median(infer):8.1f} images/s   (runs: {', '.join(f'{v:.1f}' for v in infer)})")
    print(f"  serve, concurrency {args.concurrency:<3}:       {median(throughput):8.1f} requests/s (runs: {', '.join(f'{v:.1f}' for v in throughput)});"
          f" mean batch {median([r['meanBatch'] for r in loaded]):.1f}; wrk used {median([r['loadCpuSeconds'] for r in loaded]):.2f} CPU s per run")
    if infer:
        ratios = [s / i for s, i in zip(throughput, infer)]
        print(f"  served / bench infer:         {median(ratios):8.2f}   (per round: {', '.join(f'{v:.2f}' for v in ratios)})")
    if rows["workers"]:
        split = [r["imagesPerSecond"] for r in rows["workers"]]
        print(f"  bench infer, {args.workers} workers, batch {args.workers_batch}: {median(split):6.1f} images/s   (runs: {', '.join(f'{v:.1f}' for v in split)});"
              f" served / this: {median([s / w for s, w in zip(throughput, split)]):.2f} (per round: {', '.join(f'{s / w:.2f}' for s, w in zip(throughput, split))})")
    if rows["skia"]:
        skia = [r["requestsPerSecond"] for r in rows["skia"]]
        print(f"  same, EFFNET_TURBOJPEG=off:   {median(skia):8.1f} requests/s (runs: {', '.join(f'{v:.1f}' for v in skia)}); served / this:"
              f" {median([s / k for s, k in zip(throughput, skia)]):.2f} (per round: {', '.join(f'{s / k:.2f}' for s, k in zip(throughput, skia))})")
    predict = [r["medianMilliseconds"] for r in rows["bench predict"]]
    single = [r["medianMilliseconds"] for r in rows["serve, concurrency 1"]]
    print(f"  bench predict, median:        {median(predict):8.2f} ms     (runs: {', '.join(f'{v:.2f}' for v in predict)})")
    print(f"  serve, concurrency 1, p50:    {median(single):8.2f} ms     (runs: {', '.join(f'{v:.2f}' for v in single)})")
    differences = [s - p for s, p in zip(single, predict)]
    print(f"  p50 served - in-process:      {median(differences):8.2f} ms     (per round: {', '.join(f'{v:+.2f}' for v in differences)})")


if __name__ == "__main__":
    main()
