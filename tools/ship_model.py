"""Copies a trained export into the binary's embedded default model, as F16.

    /usr/bin/python3 tools/ship_model.py RUN_DIR/model.safetensors

Writes onlinetsm/defaultmodel/model.safetensors (metadata kept, weights in
float16; the engine loads them as float32). Run `livetsm eval --synthetic`
afterwards: the README's accuracy figures are of the shipped file.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import read_safetensors, write_safetensors  # noqa: E402

DST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onlinetsm", "defaultmodel", "model.safetensors")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    state, meta = read_safetensors(sys.argv[1])
    write_safetensors(DST, state, meta, half=True)
    print("wrote %s (%d bytes): steps %s, held-out accuracy %s" % (
        os.path.abspath(DST), os.path.getsize(DST), meta.get("steps"), meta.get("heldout_accuracy") or "not measured"))


if __name__ == "__main__":
    main()
