"""Averages the weights of trained exports of one network (a "model soup").

    /usr/bin/python3 tools/average_models.py OUT.safetensors A/model.safetensors B/model.safetensors [...]

The inputs must be runs of the same network fine-tuned from the same start
(for example two train.py runs with --init of one model and different --seed
or --lr), or that start and a run from it: their weights then lie in one
basin, and the average is usually better than either (Wortsman et al.,
"Model soups", ICML 2022). Float tensors, BN running statistics included,
are averaged in float32; integer tensors (BN num_batches_tracked) take the
largest. Every input must have the same tensor
names and shapes and the same network metadata (arch, width, input size,
labels, shift blocks), or nothing is written. The output keeps the first
input's metadata, with `steps` listing each input's steps and
`heldout_accuracy` left empty (score the average with `livetsm eval`); it is
float16 when the first input is.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import read_safetensors, write_safetensors  # noqa: E402

# Metadata that names the network: the inputs must agree on all of it.
NETWORK_KEYS = ("format", "arch", "width", "input_size", "fps", "mean", "std", "labels", "shift_blocks")


def average(paths):
    """Returns (state, metadata, half) of the average of the exports at paths."""
    loaded = [read_safetensors(p) for p in paths]
    first, meta0 = loaded[0]
    for path, (state, meta) in zip(paths[1:], loaded[1:]):
        for k in NETWORK_KEYS:
            if meta.get(k) != meta0.get(k):
                raise ValueError("%s: metadata %s is %r, %s has %r" % (path, k, meta.get(k), paths[0], meta0.get(k)))
        if sorted(state) != sorted(first):
            raise ValueError("%s: tensor names differ from %s" % (path, paths[0]))
        for k, t in state.items():
            if t.shape != first[k].shape:
                raise ValueError("%s: %s has shape %s, %s has %s" % (path, k, list(t.shape), paths[0], list(first[k].shape)))
    out = {}
    for k, t in first.items():
        ts = [s[k] for s, _ in loaded]
        if t.is_floating_point():
            out[k] = torch.stack([x.float() for x in ts]).mean(0)
        else:
            out[k] = torch.stack(ts).max(0).values
    meta = dict(meta0)
    meta["steps"] = "average of " + ", ".join(str(m.get("steps")) for _, m in loaded)
    meta["heldout_accuracy"] = ""
    return out, meta, any(t.dtype == torch.float16 for t in first.values())


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out, paths = sys.argv[1], sys.argv[2:]
    try:
        state, meta, half = average(paths)
    except (OSError, ValueError) as e:
        sys.exit("average_models: %s" % e)
    write_safetensors(out, state, meta, half=half)
    print("wrote %s (%d bytes): %s" % (out, os.path.getsize(out), meta["steps"]))


if __name__ == "__main__":
    main()
