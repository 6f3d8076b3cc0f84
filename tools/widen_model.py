"""Widens a trained export to a larger width multiplier, computing the same function.

    /usr/bin/python3 tools/widen_model.py IN.safetensors OUT.safetensors --width 0.75

The new channels start so that the wider network's logits equal the input
network's, in eval mode and in train mode (Net2Net's idea, Chen, Goodfellow &
Shlens, ICLR 2016, done here with zeros rather than copies):
- a new channel of a block's output (the stream between blocks) has its
  projection BN's scale and shift at 0, so it is 0 everywhere, while the
  weights that read it are drawn as in train.py; its scale learns first;
- a new channel inside a block (the expansion) is drawn as in train.py and the
  projection's weights that read it are 0; those weights learn first.
Online shift moves the first C//8 channels of a shifted block's input, and C
grows, so each stage's channels are laid out as [the old shifted ones, new
ones up to the new C//8, the old rest, new ones]: the old channels shift
exactly as before and the new shifted ones carry zeros.

The output keeps the input's metadata, with the new width, `steps` naming the
widening and `heldout_accuracy` empty. Warm-start train.py from it with
--init OUT --width W. Before writing, it checks the widened network against the
input on random clips and that the new entries that must move first (the new
stream channels' BN scales, the projection weights that read new expansion
channels) get a gradient, and refuses to write if either fails.
"""
import argparse
import copy
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import LABELS, build_model, load_export, read_safetensors, write_safetensors  # noqa: E402
from tsm_reference import forward_clip  # noqa: E402


def stream_map(c_old, c_new):
    """New-index -> old-index (-1: new) of a stage's stream channels."""
    s_old, s_new = c_old // 8, c_new // 8
    m = [-1] * c_new
    m[:s_old] = range(s_old)
    m[s_new:s_new + c_old - s_old] = range(s_old, c_old)
    return m


def identity_map(c_old, c_new):
    return list(range(c_old)) + [-1] * (c_new - c_old)


def fresh(m):
    """The new indices of a map."""
    return [i for i, o in enumerate(m) if o < 0]


def embed(new, old, maps):
    """Copies old into new where every dimension's map names an old index."""
    idx_new, idx_old = [], []
    for d, m in enumerate(maps):
        if m is None:
            m = list(range(new.shape[d]))
        if len(m) != new.shape[d] or max(m) >= old.shape[d]:
            raise ValueError("dimension %d: map of %d for shapes %s <- %s" % (d, len(m), list(new.shape), list(old.shape)))
        idx_new.append([i for i, o in enumerate(m) if o >= 0])
        idx_old.append([o for o in m if o >= 0])
    n = new.detach().numpy().copy()
    n[np.ix_(*idx_new)] = old.detach().numpy()[np.ix_(*idx_old)]
    return torch.from_numpy(n).to(new.dtype)


def widen(old_sd, old_width, new_width, seed=0):
    """Returns (input network, widened network, first movers): the first
    movers are (parameter name, index) of the new entries that must get a
    gradient at once: the new stream channels' BN scales and the projection
    weights that read new expansion channels."""
    torch.manual_seed(seed)
    old_model = build_model(argparse.Namespace(width=old_width, no_shift=False))
    load_export(old_model, old_sd)
    model = build_model(argparse.Namespace(width=new_width, no_shift=False))
    old, new = old_model.state_dict(), model.state_dict()
    out, movers = {}, []

    def put(key, maps):
        out[key] = embed(new[key], old[key], maps)

    def bn(prefix, m, fresh_zero):
        for name in ("weight", "bias", "running_mean", "running_var"):
            put(prefix + name, [m])
        out[prefix + "num_batches_tracked"] = old[prefix + "num_batches_tracked"].clone()
        f = fresh(m)
        out[prefix + "running_mean"][f] = 0
        out[prefix + "running_var"][f] = 1
        out[prefix + "bias"][f] = 0
        out[prefix + "weight"][f] = 0 if fresh_zero else 1

    # Unchanged by the width: the stem (32), the ratio-1 block (16), the last
    # conv's BN (1280) and the classifier.
    last = len(model.features) - 1
    unchanged = ("features.0.", "features.1.", "features.%d.1." % last, "classifier.")
    for k in new:
        if k.startswith(unchanged):
            out[k] = old[k].clone()
    m_in = None
    for i, (fo, fn) in enumerate(zip(old_model.features[2:-1], model.features[2:-1]), start=2):
        p = "features.%d.conv." % i
        c_in_o, hid_o, c_out_o = fo.conv[0].in_channels, fo.conv[0].out_channels, fo.conv[6].out_channels
        c_in_n, hid_n, c_out_n = fn.conv[0].in_channels, fn.conv[0].out_channels, fn.conv[6].out_channels
        m_h = identity_map(hid_o, hid_n)
        m_out = m_in if fo.use_res else stream_map(c_out_o, c_out_n)
        if fo.use_res != fn.use_res or (m_in is not None and len(m_in) != c_in_n) or (m_in is None and c_in_o != c_in_n):
            raise ValueError("block %d: the two widths do not have the same structure" % i)
        put(p + "0.weight", [m_h, m_in, None, None])
        bn(p + "1.", m_h, False)
        put(p + "3.weight", [m_h, None, None, None])
        bn(p + "4.", m_h, False)
        put(p + "6.weight", [m_out, m_h, None, None])
        f_h = fresh(m_h)
        out[p + "6.weight"][:, f_h] = 0
        bn(p + "7.", m_out, True)
        movers.append((p + "6.weight", (slice(None), f_h)))
        if not fo.use_res:
            movers.append((p + "7.weight", fresh(m_out)))
        m_in = m_out
    put("features.%d.0.weight" % last, [None, m_in, None, None])
    missing = sorted(set(new) - set(out))
    if missing:
        raise ValueError("widen: no rule for %s" % missing)
    model.load_state_dict(out)
    return old_model, model, movers


def check(old_model, model, movers, size, frames=6):
    """Raises unless both networks give the same logits (eval and train mode)
    and every first mover gets a gradient. Works on copies: train mode
    updates BN statistics."""
    old_model, model = copy.deepcopy(old_model), copy.deepcopy(model)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, frames, 3, size, size, generator=gen)
    for mode in ("eval", "train"):
        old_model.train(mode == "train")
        model.train(mode == "train")
        with torch.no_grad():
            a, b = forward_clip(old_model, x), forward_clip(model, x)
        diff = (a - b).abs().max().item() / max(a.abs().max().item(), 1e-6)
        print("%s mode: max |logits difference| %.2e of the largest logit" % (mode, diff))
        if diff > 1e-4:
            raise ValueError("the widened network computes something else in %s mode (%.2e)" % (mode, diff))
    model.zero_grad()
    forward_clip(model, x).logsumexp(-1).sum().backward()
    params = dict(model.named_parameters())
    dead = [n for n, idx in movers if params[n].grad[idx].numel() and not params[n].grad[idx].abs().sum() > 0]
    if dead:
        raise ValueError("new entries without gradient: %s" % dead)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--width", type=float, required=True, help="the new width multiplier")
    ap.add_argument("--seed", type=int, default=0, help="seed of the new channels' weights")
    args = ap.parse_args()
    try:
        sd, meta = read_safetensors(args.input)
    except (OSError, ValueError, KeyError, struct.error) as e:
        sys.exit("%s: not a readable export: %s" % (args.input, e))
    if meta.get("labels") and meta["labels"] != json.dumps(LABELS):
        sys.exit("%s: labels differ from train.py's" % args.input)
    old_width = float(meta.get("width", 0))
    if not old_width < args.width:
        sys.exit("%s: width %s, not below --width %g" % (args.input, meta.get("width"), args.width))
    if args.width > 1:
        sys.exit("--width %g: above 1 the last conv widens too, which this tool does not do" % args.width)
    try:
        old_model, model, movers = widen(sd, old_width, args.width, args.seed)
        check(old_model, model, movers, int(meta.get("input_size", 112)))
    except (ValueError, RuntimeError, KeyError) as e:
        sys.exit("%s: %s" % (args.input, e))
    meta = dict(meta)
    meta["width"] = args.width
    meta["steps"] = "%s, widened from %g" % (meta.get("steps"), old_width)
    meta["heldout_accuracy"] = ""
    half = any(t.dtype == torch.float16 for t in sd.values())
    write_safetensors(args.output, model.state_dict(), meta, half=half)
    print("%s: width %g, %d parameters (was %d)" % (args.output, args.width,
          sum(q.numel() for q in model.parameters()), sum(q.numel() for q in old_model.parameters())))


if __name__ == "__main__":
    main()
