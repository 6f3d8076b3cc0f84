"""Times PyTorch (Debian's python3-torch) on the benchmark weights out/tsm_w1.pth:
one stream, one frame per call, caches carried. Prints one JSON line.

    /usr/bin/python3 bench/torch_bench.py [--frames 60] [--threads 2]
"""
import argparse
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from tsm_reference import OnlineTSM  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = OnlineTSM(num_classes=27, width=1.0)
    model.load_state_dict(torch.load(os.path.join(HERE, "out", "tsm_w1.pth")))
    model.eval()
    inputs = [torch.randn(1, 3, 224, 224) for _ in range(4)]
    bufs = model.init_buffers(224)
    lat = []
    with torch.no_grad():
        for i in range(5):
            _, bufs = model(inputs[i % 4], bufs)
        t0 = time.perf_counter()
        for i in range(a.frames):
            s = time.perf_counter()
            _, bufs = model(inputs[i % 4], bufs)
            lat.append((time.perf_counter() - s) * 1e3)
        total = time.perf_counter() - t0
    lat.sort()

    def pct(q):
        return lat[min(len(lat) - 1, max(0, round(q * len(lat)) - 1))]

    print(json.dumps({"runtime": "pytorch " + torch.__version__, "threads": a.threads, "frames": a.frames,
                      "median_ms": pct(0.5), "p90_ms": pct(0.9), "min_ms": lat[0], "fps": a.frames / total}))


if __name__ == "__main__":
    main()
