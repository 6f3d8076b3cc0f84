"""Copies a trained export into the binary's embedded default model, as F16.

    /usr/bin/python3 tools/ship_model.py RUN_DIR/model.safetensors

Writes onlinetsm/defaultmodel/model.safetensors (metadata kept, weights in
float16; the engine loads them as float32) and its PyTorch parity fixture,
onlinetsm/defaultmodel/testdata/parity.json: the SHA-256 of the shipped file
and PyTorch's logits (tsm_reference.OnlineTSM with the shipped weights, the
cache carried) for 8 frames of tsm_reference.synthetic_frame at the model's
input size, which TestParityWithPyTorch checks the engine against. Run
`livetsm eval --synthetic` afterwards: the README's accuracy figures are of
the shipped file. `--fixture-only` rewrites the fixture of the file already
shipped.
"""
import hashlib
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import load_export, read_safetensors, write_safetensors  # noqa: E402
from tsm_reference import OnlineTSM, synthetic_frame  # noqa: E402

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onlinetsm", "defaultmodel")
DST = os.path.join(DIR, "model.safetensors")
FIXTURE = os.path.join(DIR, "testdata", "parity.json")
FRAMES = 8


def parity(path, frames=FRAMES):
    """The fixture of the export at path: its SHA-256, input size and PyTorch's
    logits for `frames` synthetic frames stepped online from an empty cache."""
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    state, meta = read_safetensors(path)
    labels = json.loads(meta["labels"])
    size = int(meta["input_size"])
    model = OnlineTSM(num_classes=len(labels), width=float(meta["width"]))
    shifted = json.loads(meta["shift_blocks"])
    for i, block in enumerate(model.features[1:-1]):
        block.shift = i in shifted
    load_export(model, state)
    model.eval()
    logits = []
    with torch.no_grad():
        bufs = model.init_buffers(size)
        for t in range(frames):
            out, bufs = model(synthetic_frame(t, size).unsqueeze(0), bufs)
            logits.append([float(v) for v in out[0]])
    return {"sha256": digest, "size": size, "frames": frames, "torch": torch.__version__, "logits": logits}


def main():
    args = sys.argv[1:]
    if args == ["--fixture-only"]:
        pass
    elif len(args) == 1 and not args[0].startswith("-"):
        state, meta = read_safetensors(args[0])
        write_safetensors(DST, state, meta, half=True)
        print("wrote %s (%d bytes): steps %s, held-out accuracy %s" % (
            os.path.abspath(DST), os.path.getsize(DST), meta.get("steps"), meta.get("heldout_accuracy") or "not measured"))
    else:
        sys.exit(__doc__)
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    with open(FIXTURE, "w") as f:
        json.dump(parity(DST), f)
        f.write("\n")
    print("wrote %s" % os.path.abspath(FIXTURE))


if __name__ == "__main__":
    main()
