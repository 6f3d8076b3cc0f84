"""Exports one set of random weights of ResNet-50 TSM (mmaction2 layout, 400 classes,
8 segments) for the offline side-by-side benchmark:

  out/resnet50_tsm.pth    mmaction2-style checkpoint (meta, state_dict, optimizer) that
                          `livetsm classify --weights` loads
  out/resnet50_tsm.onnx   the same recogniser for ONNX Runtime: input (8, 3, 224, 224)
                          normalised frames -> (1, 400) consensus logits
  out/offline_check.*     one random clip and PyTorch's logits for it

Run with Debian's PyTorch: /usr/bin/python3 bench/offline_export.py
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import offline_reference as ref  # noqa: E402

OUT = os.path.join(HERE, "out")


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(3)
    model = ref.randomize(ref.resnet_tsm(50, base=64, num_classes=400), gen)
    ref.save_mmaction(model, os.path.join(OUT, "resnet50_tsm.pth"))
    x = torch.randn(8, 3, 224, 224, generator=gen)
    with torch.no_grad():
        logits = model(x)
    torch.onnx.export(model, (x,), os.path.join(OUT, "resnet50_tsm.onnx"), input_names=["frames"],
                      output_names=["logits"], opset_version=13, do_constant_folding=True)
    x.numpy().astype("<f4").tofile(os.path.join(OUT, "offline_check_frames.f32"))
    with open(os.path.join(OUT, "offline_check_logits.json"), "w") as f:
        json.dump(logits[0].tolist(), f)
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
