"""Writes onlinetsm/offline/testdata/: small random offline TSM models in mmaction2's
checkpoint layout (torch.save zip, {'meta', 'state_dict', 'optimizer'}, meta holding
numpy values) and PyTorch's logits for them, plus SampleFrames index cases.

  frames.u8                8 RGB frames, 64x64, uint8 (T, H, W, 3), shared by all models
  r50.pth / r50.json       ResNet-50 TSM layout, base width 8 (stages 8/16/32/64, 256 out)
  r101.pth / r101.json     ResNet-101 TSM layout, base width 2 (shift on every other block)
  mbv2.pth / mbv2.json     MobileNetV2TSM, widen factor 0.1
  sample_frames.json.gz    (total, clip_len, interval, num_clips, twice, oob) -> indices

Each model's JSON holds the consensus logits of two views: the 8 frames in order and
reversed, normalised with mmaction2's mean/std in 0-255 units.

Run by hand with Debian's PyTorch: /usr/bin/python3 tools/make_offline_fixtures.py
"""
import gzip
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import offline_reference as ref  # noqa: E402

OUT = os.path.join(HERE, "..", "onlinetsm", "offline", "testdata")
SIZE = 64
CLASSES = 10


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    rng = np.random.default_rng(5)
    # Smooth-ish random frames so that neighbouring pixels correlate a little.
    frames = rng.integers(0, 256, size=(8, SIZE, SIZE, 3), dtype=np.uint8)
    frames.tofile(os.path.join(OUT, "frames.u8"))
    x = ref.normalize(frames)
    x2 = torch.cat([x, x.flip(0)])  # two views of 8 segments
    models = {
        "r50": lambda: ref.resnet_tsm(50, base=8, num_classes=CLASSES),
        "r101": lambda: ref.resnet_tsm(101, base=2, num_classes=CLASSES),
        "mbv2": lambda: ref.mobilenetv2_tsm(0.1, num_classes=CLASSES),
    }
    for i, (name, make) in enumerate(models.items()):
        gen = torch.Generator().manual_seed(11 + i)
        model = ref.randomize(make(), gen)
        with torch.no_grad():
            logits = model(x2)
        ref.save_mmaction(model, os.path.join(OUT, name + ".pth"),
                          {"CLASSES": ["class %d" % c for c in range(CLASSES)]})
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump({"size": SIZE, "segments": 8, "classes": CLASSES,
                       "logits": logits.tolist()}, f)
        print(name, tuple(logits.shape), "max |logit| %.3f" % logits.abs().max().item(), file=sys.stderr)

    cases = []
    for total in list(range(1, 41)) + [47, 64, 99, 100, 101, 299, 300, 301, 1000, 12345]:
        for clip_len, interval in [(1, 1), (1, 2), (2, 1), (4, 2), (8, 1), (32, 2)]:
            for num_clips in [1, 2, 3, 8, 10, 16]:
                if clip_len * num_clips > 64:
                    continue
                for twice in [False, True]:
                    for oob in ["loop", "repeat_last"]:
                        try:
                            inds = ref.sample_frames(total, clip_len, interval, num_clips, True, twice, oob)
                        except ZeroDivisionError:
                            inds = None
                        cases.append([total, clip_len, interval, num_clips, twice, oob, inds])
    with gzip.open(os.path.join(OUT, "sample_frames.json.gz"), "wt") as f:
        json.dump(cases, f, separators=(",", ":"))
    print(len(cases), "sampling cases", file=sys.stderr)


if __name__ == "__main__":
    main()
