"""Exports one set of random weights of the published online TSM configuration
(MobileNetV2 width 1.0, 27 classes, 224 px) for the side-by-side benchmark:

  out/tsm_w1.pth   the PyTorch checkpoint livetsm loads (zip format)
  out/check_*      three random frames and PyTorch's logits for them (cache carried)
  out/tsm_w1.onnx  the same network for ONNX Runtime, one frame per call, with the
                   ten shift caches as extra inputs and outputs — the published
                   demo's deployment (frame, cache...) -> (logits, cache...)

Run with Debian's PyTorch: /usr/bin/python3 bench/export.py
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from tsm_reference import OnlineTSM, randomize  # noqa: E402

OUT = os.path.join(HERE, "out")


class Flat(torch.nn.Module):
    """Flat-argument wrapper so the caches become named graph inputs/outputs."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, *bufs):
        logits, new = self.model(x, list(bufs))
        return (logits, *new)


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(3)
    model = randomize(OnlineTSM(num_classes=27, width=1.0), gen)
    torch.save(model.state_dict(), os.path.join(OUT, "tsm_w1.pth"))
    size = 224
    bufs = model.init_buffers(size)
    x = torch.randn(1, 3, size, size, generator=gen)
    # Reference logits for three frames, so each runtime's output can be checked.
    frames = [torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(100 + i)) for i in range(3)]
    with torch.no_grad():
        ref = []
        for f in frames:
            logits, bufs = model(f, bufs)
            ref.append(logits[0].tolist())
    # References first: logits computed after torch.onnx.export differed here (torch 1.13).
    names = ["frame"] + ["cache%d" % i for i in range(len(bufs))]
    outs = ["logits"] + ["cache%d_out" % i for i in range(len(bufs))]
    torch.onnx.export(Flat(model), (x, *bufs), os.path.join(OUT, "tsm_w1.onnx"),
                      input_names=names, output_names=outs, opset_version=13, do_constant_folding=True)
    torch.cat(frames).numpy().astype("<f4").tofile(os.path.join(OUT, "check_frames.f32"))
    with open(os.path.join(OUT, "cache_shapes.json"), "w") as f:
        json.dump([list(b.shape) for b in model.init_buffers(size)], f)
    with open(os.path.join(OUT, "check_logits.json"), "w") as f:
        json.dump(ref, f)
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
