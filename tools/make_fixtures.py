"""Writes the engine's parity fixtures into onlinetsm/testdata (run by hand).

    /usr/bin/python3 tools/make_fixtures.py

A random-weight online TSM MobileNetV2 (width 0.35, 27 classes) in the published
key layout, randomised BN statistics included, saved in both torch.save formats:
  tsm_w035.pth      zip format (PyTorch >= 1.6), bare state dict
  tsm_w035.pth.tar  legacy format, {'epoch', 'arch', 'state_dict'} with 'module.' keys
and parity.json: the logits of every frame, cache carried, for 8 synthetic frames
(tsm_reference.synthetic_frame) at input sizes 224 and 160, plus those of the frames
in reverse order (the cache must matter).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from tsm_reference import OnlineTSM, randomize, synthetic_frame  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "onlinetsm", "testdata")


def run(model, size, order):
    bufs = model.init_buffers(size)
    out = []
    with torch.no_grad():
        for t in order:
            logits, bufs = model(synthetic_frame(t, size).unsqueeze(0), bufs)
            out.append([float(v) for v in logits[0]])
    return out


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20191027)
    model = randomize(OnlineTSM(num_classes=27, width=0.35), gen)
    sd = model.state_dict()
    torch.save(sd, os.path.join(OUT, "tsm_w035.pth"))
    torch.save({"epoch": 25, "arch": "mobilenetv2", "state_dict": {"module." + k: v for k, v in sd.items()}},
               os.path.join(OUT, "tsm_w035.pth.tar"), _use_new_zipfile_serialization=False)
    frames = 8
    ref = {"width": 0.35, "classes": 27, "frames": frames, "cases": []}
    for size in (224, 160):
        ref["cases"].append({"size": size, "order": list(range(frames)),
                             "logits": run(model, size, range(frames))})
        rev = list(reversed(range(frames)))
        ref["cases"].append({"size": size, "order": rev, "logits": run(model, size, rev)})
    with open(os.path.join(OUT, "parity.json"), "w") as f:
        json.dump(ref, f)
    print("torch", torch.__version__, "wrote fixtures to", os.path.abspath(OUT))


if __name__ == "__main__":
    main()
