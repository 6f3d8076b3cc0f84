"""Trains livetsm's default model: an online TSM MobileNetV2 on synthetic gestures.

    /usr/bin/python3 tools/train.py --out runs/w05 --width 0.5 --size 112 \
        --frames 24 --min-frames 16 --batch 16 --steps 850 --minutes 115 \
        --init onlinetsm/defaultmodel/model.safetensors --half

Run by hand (in the background), never in CI; Debian's python3-torch, CPU only
(see tools/README.md for the full recipe and the jemalloc preload).
Clips come from the Go generator (`livetsm synth --stream`, built once into
--out unless --synth-bin is given), read by a thread into a queue. The model is
tools/tsm_reference.OnlineTSM in the engine's key layout, trained on whole clips
with tsm_reference.forward_clip: uni-directional shift, zeros before the first
frame, the same numbers as stepping the frames online. --no-shift trains the
same network and recipe frame by frame (the ablation). The network runs in the
channels-last (NHWC) memory format unless --no-channels-last.

Recipe (mmaction2-style): AdamW (or --opt sgd, momentum 0.9), weight decay 1e-4
on conv and linear weights, linear warm-up then cosine to zero over the run
(the run's progress is the larger of steps/--steps and time/--minutes, so a time
budget still ends the schedule), gradient clipping at 40 (L2 norm), per-clip
augmentations that keep direction labels valid: scale jitter and a random crop
near the centre, brightness/contrast/colour jitter; never a horizontal flip nor
time reversal (both would change the label).

Loss: the streaming setting. Clips of --min-frames to --frames frames hold rest,
one gesture at a random offset and of a random length, and rest; every frame has
a target, as a user of the online stream expects it (frame_targets): "No
gesture" while resting, nothing over the first --onset of the motion (it cannot
be told yet), the gesture until --hold-seconds after the motion ends, nothing
for --fade-seconds more, then "No gesture". The loss is the per-frame cross
entropy over the frames with a target; --shown-weight adds, so weighted, the
loss of what a user sees (shown_loss: the engine's 12-frame average of the
logits never favours another gesture, "wrong", weighted --shown-wrong times,
and shows the clip's gesture as its motion ends, "miss"). Held-out accuracy is
the label a user sees per clip (shown_label: the engine's 12-frame smoothing),
and the accuracy over the frames with a target.

Every --ckpt-minutes it writes --out/ckpt.pt and exports
--out/model.safetensors, written by hand (8-byte little-endian header length,
JSON header, raw little-endian data; F32, or F16 with --half; BN
num_batches_tracked as I64) with string metadata: format, arch, width,
input_size, fps, mean, std, labels, shift_blocks, frames, steps,
heldout_accuracy. Each --eval-every step's export is kept as
--out/model-stepN.safetensors. Logs go to stderr and --out/train.log.

--resume goes on from --out/ckpt.pt (steps, time, optimizer, data stream) with
the settings saved in it: flags left off take their saved values (a flag newer
than the checkpoint, its default), and a recipe flag given with another value is
refused; only --threads, --synth-bin, --synth-workers, --ckpt-minutes,
--eval-every, --channels-last and --half may change.
"""
import argparse
import json
import math
import os
import queue
import signal
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tsm_reference import SHIFT_BLOCKS, OnlineTSM, forward_clip  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
LABELS = ["Swiping Left", "Swiping Right", "Swiping Up", "Swiping Down",
          "Zooming In With Full Hand", "Zooming Out With Full Hand",
          "Turning Hand Clockwise", "Turning Hand Counterclockwise", "No gesture"]
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
MAGIC = b"LTS2"
NO_GESTURE = LABELS.index("No gesture")
# The engine's smoothing window in frames (stream.DefaultWindow).
WINDOW = 12

LOG = None


def log(msg):
    line = time.strftime("%H:%M:%S ") + msg
    print(line, file=sys.stderr, flush=True)
    if LOG is not None:
        LOG.write(line + "\n")
        LOG.flush()


def render_size(size):
    """The side the generator renders at: the engine resizes the shorter side to
    256*size/224 and crops the centre size x size, so a square frame of this side
    reaches the model as our centre crop does."""
    return (256 * size + 112) // 224


# --------------------------------------------------------------------------
# Clips from the Go generator


def synth_command(args, seed, count=0, balanced=False, training=False):
    """The generator's command line; training (the training stream, not the
    held-out clips) adds the hand-size flags --size-skew and --size-max."""
    cmd = [args.synth_bin, "synth", "--stream", "--size", str(render_size(args.size)),
           "--frames", str(args.frames), "--min-frames", str(args.min_frames),
           "--seed", str(seed), "--fps", str(args.fps), "--workers", str(args.synth_workers)]
    if args.photos:
        cmd += ["--photos", args.photos]
    if count:
        cmd += ["--count", str(count)]
    if balanced:
        cmd.append("--balanced")
    if training and args.size_skew != 1:
        cmd += ["--size-skew", str(args.size_skew)]
    if training and args.size_max is not None:
        cmd += ["--size-max", str(args.size_max)]
    return cmd


def read_exact(f, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = f.readinto(view[got:])
        if not k:
            return None
        got += k
    return buf


def read_clip(f):
    """One clip of the stream: (label, uint8 array (T, H, W, 3), motion start,
    motion end), or None at the end."""
    hdr = read_exact(f, 16)
    if hdr is None:
        return None
    if bytes(hdr[:4]) != MAGIC:
        raise RuntimeError("synth stream: bad magic %r" % bytes(hdr[:4]))
    label = hdr[4]
    t, h, w, start, end = struct.unpack("<HHHHH", bytes(hdr[6:16]))
    data = read_exact(f, t * h * w * 3)
    if data is None:
        raise RuntimeError("synth stream: truncated clip")
    return label, np.frombuffer(data, dtype=np.uint8).reshape(t, h, w, 3), start, end


def frame_targets(label, t, start, end, args):
    """Per-frame targets and weights of a clip, for the online stream: "No
    gesture" while resting before the motion, nothing (weight 0) over the first
    part of the motion, which cannot be told yet, the gesture from
    --onset of the motion until --hold-seconds after it ends, nothing over a
    short fade-out, then "No gesture" again."""
    y = np.full(t, NO_GESTURE, dtype=np.int64)
    wgt = np.ones(t, dtype=np.float32)
    if label == NO_GESTURE or end <= start:
        return y, wgt
    hold = int(round(args.hold_seconds * args.fps))
    fade = int(round(args.fade_seconds * args.fps))
    on = start + int(math.ceil(args.onset * (end - start)))
    on = min(on, end - 1)
    wgt[start:on] = 0
    y[on:end + hold] = label
    wgt[end + hold:end + hold + fade] = 0
    return y, wgt


def batch_tensors(clips, args):
    """Clips of different lengths -> x (B, --frames, H, W, 3) uint8 padded
    with zeros at the end, targets and weights (B, --frames), 0 on padding.
    The model is causal, so padding after a clip does not change its frames."""
    # A fixed length keeps the tensors' shapes, and so the allocator's
    # blocks, the same from step to step.
    tmax = max(max(c[1].shape[0] for c in clips), args.frames)
    h, w = clips[0][1].shape[1:3]
    x = np.zeros((len(clips), tmax, h, w, 3), dtype=np.uint8)
    y = np.full((len(clips), tmax), NO_GESTURE, dtype=np.int64)
    wgt = np.zeros((len(clips), tmax), dtype=np.float32)
    for i, (label, frames, start, end) in enumerate(clips):
        t = frames.shape[0]
        x[i, :t] = frames
        y[i, :t], wgt[i, :t] = frame_targets(label, t, start, end, args)
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(wgt)


class ClipStream:
    """Runs the generator and fills a queue of clips from a reader thread."""

    def __init__(self, cmd, maxsize=256):
        log("generator: " + " ".join(cmd))
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=REPO, bufsize=0)
        self.q = queue.Queue(maxsize=maxsize)
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                c = read_clip(self.proc.stdout)
                if c is None:
                    break
                self.q.put(c)
        except Exception as e:  # noqa: BLE001 - reported by get
            self.error = e
        self.q.put(None)

    def get(self):
        c = self.q.get()
        if c is None:
            raise RuntimeError("generator stream ended: %s (exit %s)" % (self.error, self.proc.poll()))
        return c

    def close(self):
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def heldout_set(args):
    """The fixed held-out clips (classes balanced), read once."""
    s = ClipStream(synth_command(args, args.heldout_seed, count=args.heldout_clips, balanced=True))
    clips = [s.get() for _ in range(args.heldout_clips)]
    s.close()
    return clips


# --------------------------------------------------------------------------
# Augmentation and normalisation

_MEAN = torch.tensor(MEAN).view(1, 1, 3, 1, 1)
_STD = torch.tensor(STD).view(1, 1, 3, 1, 1)


def to_float(u8):
    """(B, T, H, W, 3) uint8 -> (B, T, 3, H, W) float in [0, 1]."""
    return u8.permute(0, 1, 4, 2, 3).float().div_(255)


def normalise(x):
    return (x - _MEAN) / _STD


def centre_crop(x, size):
    h, w = x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top:top + size, left:left + size]


def augment(x, size, gen):
    """Per clip, the same for all its frames: scale jitter with a crop near the
    centre, then brightness, contrast and colour. No flips: they would swap
    left and right."""
    b, t, c, h, w = x.shape
    out = torch.empty(b, t, c, size, size)
    for i in range(b):
        r = torch.rand(8, generator=gen).tolist()
        side = int(round(min(h, w) * (0.78 + 0.22 * r[0])))
        side = max(min(side, min(h, w)), 8)
        # The crop's centre stays within a few pixels of the frame's.
        jit = max(1, int(0.04 * min(h, w)))
        cy = (h - side) // 2 + int(round((2 * r[1] - 1) * jit))
        cx = (w - side) // 2 + int(round((2 * r[2] - 1) * jit))
        cy, cx = max(0, min(h - side, cy)), max(0, min(w - side, cx))
        crop = x[i, :, :, cy:cy + side, cx:cx + side]
        if side != size:
            crop = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False)
        contrast = 0.75 + 0.5 * r[3]
        bright = (r[4] - 0.5) * 0.2
        colour = torch.tensor([0.94 + 0.12 * r[5], 0.94 + 0.12 * r[6], 0.94 + 0.12 * r[7]]).view(1, 3, 1, 1)
        m = crop.mean()
        out[i] = ((crop - m) * contrast + m + bright) * colour
    return out.clamp_(0, 1)


# --------------------------------------------------------------------------
# Model


def build_model(args):
    model = OnlineTSM(num_classes=len(LABELS), width=args.width)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
    # Residual branches start at zero (their last BN's scale), so each block
    # starts as the identity: steadier from scratch.
    for f in model.features[1:-1]:
        if f.use_res:
            nn.init.zeros_(f.conv[-1].weight)
    if args.no_shift:
        for f in model.features[1:-1]:
            f.shift = False
    return model


def shift_blocks(model):
    return [i for i, f in enumerate(model.features[1:-1]) if f.shift]


def param_groups(model, wd):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def lr_at(args, progress, step):
    if step < args.warmup:
        return args.lr * (0.01 + 0.99 * step / args.warmup)
    return args.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def smoothed(logits, window=WINDOW):
    """The engine's smoothing of (B, T, classes) logits: per frame the mean of
    the last `window` frames' logits (of all frames so far at the start)."""
    c = torch.cumsum(logits, 1)
    s = torch.cat([c[:, :window], c[:, window:] - c[:, :-window]], 1)
    n = torch.arange(1, logits.shape[1] + 1, dtype=logits.dtype).clamp(max=window)
    return s / n.view(1, -1, 1)


def shown_label(logits, window=WINDOW):
    """The label a user sees on a clip, as the engine's smoothing shows it:
    per frame the argmax of the smoothed logits of one clip (T, classes); the
    clip's label is the first gesture shown, or "No gesture"."""
    for q in smoothed(logits[None], window)[0].argmax(1).tolist():
        if q != NO_GESTURE:
            return q
    return NO_GESTURE


def shown_weights(clips, tmax, args):
    """For shown_loss: each clip's label (B,), its frames (B, tmax: 1 on the
    clip's frames, 0 on padding) and the frames on which the smoothed output
    must show its gesture (B, tmax): from the motion's end for --hold-seconds,
    or the clip's last frame when the motion runs to its end; none for No
    gesture."""
    labels = torch.tensor([c[0] for c in clips], dtype=torch.long)
    valid = torch.zeros(len(clips), tmax)
    show = torch.zeros(len(clips), tmax)
    hold = int(round(args.hold_seconds * args.fps))
    for i, (label, frames, start, end) in enumerate(clips):
        t = frames.shape[0]
        valid[i, :t] = 1
        if label != NO_GESTURE and end > start:
            lo = min(end, t - 1)
            show[i, lo:max(min(end + hold, t), lo + 1)] = 1
    return labels, valid, show


def shown_loss(logits, labels, valid, show, window=WINDOW):
    """The loss of the label a user sees, on the smoothed logits of (B, T,
    classes) clips: "wrong", -log of the probability of No gesture or the
    clip's own label, on every frame (a clip must never show another
    gesture), and "miss", the cross entropy of the clip's label on the frames
    `show` marks (a gesture must be shown as it completes). Returns both."""
    logp = F.log_softmax(smoothed(logits, window), -1)
    rows = torch.arange(len(labels))
    allowed = torch.zeros(len(labels), logp.shape[2], dtype=torch.bool)
    allowed[:, NO_GESTURE] = True
    allowed[rows, labels] = True
    ok = logp.masked_fill(~allowed[:, None, :], float("-inf")).logsumexp(2)
    wrong = -(ok * valid).sum() / valid.sum().clamp(min=1)
    own = logp[rows, :, labels]
    miss = -(own * show).sum() / show.sum().clamp(min=1)
    return wrong, miss


def training_loss(logits, y, wgt, clips, args):
    """A step's loss on (B, T, classes) logits: the per-frame cross entropy
    over the weighted frames, plus, with --shown-weight, the shown-label
    loss (its "wrong" term weighed by --shown-wrong). Returns the loss and
    the shown-label terms (wrong, miss), or None without them."""
    per = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
    loss = (per * wgt.flatten()).sum() / wgt.sum().clamp(min=1)
    if args.shown_weight <= 0:
        return loss, None
    wrong, miss = shown_loss(logits, *shown_weights(clips, logits.shape[1], args))
    return loss + args.shown_weight * (args.shown_wrong * wrong + miss), (wrong, miss)


@torch.no_grad()
def evaluate(model, clips, args):
    """Held-out: accuracy over the weighted frames, the label a user sees per
    clip (shown_label), and that one's confusion matrix."""
    was = model.training
    model.eval()
    right = total = 0.0
    shown = []
    for i in range(0, len(clips), 16):
        part = clips[i:i + 16]
        x, y, wgt = batch_tensors(part, args)
        x = normalise(centre_crop(to_float(x), args.size))
        logits = forward_clip(model, x)
        right += ((logits.argmax(2) == y).float() * wgt).sum().item()
        total += wgt.sum().item()
        for b, c in enumerate(part):
            shown.append(shown_label(logits[b, :c[1].shape[0]]))
    labels = [c[0] for c in clips]
    conf = torch.zeros(len(LABELS), len(LABELS), dtype=torch.long)
    for t, q in zip(labels, shown):
        conf[t, q] += 1
    model.train(was)
    clip_acc = sum(int(t == q) for t, q in zip(labels, shown)) / len(labels)
    return clip_acc, right / max(total, 1), conf


def format_confusion(conf):
    short = ["SwL", "SwR", "SwU", "SwD", "ZIn", "ZOut", "TCW", "TCCW", "None"]
    lines = ["      " + " ".join("%5s" % s for s in short)]
    for i, row in enumerate(conf.tolist()):
        lines.append("%5s " % short[i] + " ".join("%5d" % v for v in row))
    return "\n".join(lines)


# --------------------------------------------------------------------------
# safetensors, by hand


def write_safetensors(path, state, metadata, half=False):
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs, offset = [], 0
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        if t.dtype == torch.int64:
            dtype, arr = "I64", t.numpy().astype("<i8")
        elif half:
            dtype, arr = "F16", t.to(torch.float16).numpy().astype("<f2")
        else:
            dtype, arr = "F32", t.to(torch.float32).numpy().astype("<f4")
        raw = arr.tobytes()
        header[key] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def read_safetensors(path):
    """Reads back what write_safetensors wrote: ({key: tensor}, metadata)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    types = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    out = {}
    for k, v in header.items():
        a, b = v["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=np.dtype(types[v["dtype"]]).newbyteorder("<"))
        out[k] = torch.from_numpy(arr.astype(arr.dtype.newbyteorder("="))).reshape(v["shape"])
    return out, meta


def load_export(model, state):
    """Loads an export's tensors (read_safetensors) into model, each in the
    dtype of the model's own tensor (float16 exports train in float32)."""
    own = model.state_dict()
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})


def export(model, args, step, acc, name="model.safetensors"):
    """Writes the model to --out/name with the metadata the Go loader reads;
    returns the path."""
    meta = {
        "format": "livetsm",
        "arch": "mobilenetv2_tsm_online",
        "width": args.width,
        "input_size": args.size,
        "fps": args.fps,
        "mean": json.dumps(MEAN),
        "std": json.dumps(STD),
        "labels": json.dumps(LABELS),
        "shift_blocks": json.dumps(shift_blocks(model)),
        "frames": args.frames,
        "steps": step,
        "heldout_accuracy": "%.4f" % acc if acc is not None else "",
    }
    path = os.path.join(args.out, name)
    write_safetensors(path, model.state_dict(), meta, half=args.half)
    return path


# --------------------------------------------------------------------------


# Flags that a resumed run may change: how fast it runs and what it writes,
# not what it learns from.
RESUME_FREE = {"threads", "synth_bin", "synth_workers", "ckpt_minutes", "eval_every", "channels_last", "half",
               "init"}
# Flags never taken from the checkpoint: they say which run and what to do.
NOT_RESUMED = ("out", "resume", "selftest")


def resolve_defaults(args):
    """Turn the flags whose default is computed from others into values:
    --lr 0 (the optimiser's usual rate) and --min-frames 0 (--frames)."""
    if args.lr == 0:
        args.lr = 2e-3 if args.opt == "adamw" else 0.05
    if args.min_frames <= 0:
        args.min_frames = args.frames


def resume_args(args, saved, given):
    """Make args the checkpoint's settings for --resume: a flag left off the
    command line takes its saved value (a run resumed with only --out --resume
    goes on as it began); a flag of the recipe (not in RESUME_FREE) given with
    another value than the saved one is refused. args leaves with its
    computed defaults resolved. Returns an error message, or ""."""
    if saved:
        # A flag added after the checkpoint was written began at its default,
        # which keeps what runs did before it (--size-skew 1, say).
        saved = {**vars(parser().parse_args([])), **saved}
    resumed = {k: v for k, v in saved.items() if k not in NOT_RESUMED and hasattr(args, k)}
    for k, v in resumed.items():
        if k not in given:
            setattr(args, k, v)
    # A flag given as its "computed default" (--lr 0, --min-frames 0) is
    # compared by the value it stands for, as the checkpoint holds that one.
    resolve_defaults(args)
    changed = ["--%s %s (the run began with %s)" % (k.replace("_", "-"), given[k], v)
               for k, v in sorted(resumed.items())
               if k in given and k not in RESUME_FREE and getattr(args, k) != v]
    if changed:
        return "--resume continues a run with its checkpoint's recipe; these differ: " + ", ".join(changed)
    return ""


def save_checkpoint(args, model, opt, step, elapsed, best, gen):
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
             "best": best, "gen": gen.get_state(), "args": vars(args)}
    path = os.path.join(args.out, "ckpt.pt")
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


PHOTO_DIRS = ["/usr/share/backgrounds", "/usr/share/wallpapers"]
PHOTO_PACKAGES = ["gnome-backgrounds", "mate-backgrounds", "lomiri-wallpapers", "plasma-workspace-wallpapers"]


def ensure_photos(args):
    """--photos auto reads Debian's wallpaper packages: install them when no
    photograph is there yet (apt-get, as root or through sudo). The
    photographs are never committed; scikit-image's and OpenCV's sample
    images are kept for evaluation and never used here."""
    if args.photos != "auto":
        return
    exts = (".jpg", ".jpeg", ".png", ".webp")
    for d in PHOTO_DIRS:
        for _, _, files in os.walk(d):
            if any(f.lower().endswith(exts) for f in files):
                return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    log("installing photographs: " + " ".join(PHOTO_PACKAGES))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + PHOTO_PACKAGES,
                   check=True, env=env)


def ensure_synth_bin(args):
    if args.synth_bin:
        return
    args.synth_bin = os.path.join(os.path.abspath(args.out), "livetsm")
    log("building the generator: go build -o %s ./cmd/livetsm" % args.synth_bin)
    subprocess.run(["go", "build", "-o", args.synth_bin, "./cmd/livetsm"], cwd=REPO, check=True)


def selftest(args):
    """Clip forward == online stepping; safetensors round trip."""
    from tsm_reference import randomize
    model = randomize(OnlineTSM(len(LABELS), args.width), torch.Generator().manual_seed(0))
    x = torch.randn(2, args.frames, 3, args.size, args.size)
    with torch.no_grad():
        clip = forward_clip(model, x)
        worst = 0.0
        for b in range(2):
            bufs = model.init_buffers(args.size)
            for t in range(args.frames):
                logits, bufs = model(x[b, t:t + 1], bufs)
                worst = max(worst, (logits[0] - clip[b, t]).abs().max().item())
    log("selftest: clip forward vs online stepping, max |diff| = %.3g" % worst)
    assert worst < 1e-3, worst
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "selftest.safetensors")
    write_safetensors(path, model.state_dict(), {"labels": json.dumps(LABELS)}, half=args.half)
    back, meta = read_safetensors(path)
    sd = model.state_dict()
    assert set(back) == set(sd)
    for k in sd:
        tol = 1e-2 * (1 + sd[k].abs().max().item()) if args.half else 0
        assert (back[k].to(sd[k].dtype) - sd[k]).abs().max().item() <= tol, k
    assert json.loads(meta["labels"]) == LABELS
    log("selftest: safetensors round trip ok (%s)" % path)


def parser():
    """The command line's parser."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/default", help="directory for ckpt.pt, model.safetensors, train.log")
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--size", type=int, default=112, help="model input side (the generator renders 256*size/224)")
    p.add_argument("--frames", type=int, default=8, help="frames per training clip (T)")
    p.add_argument("--fps", type=float, default=15, help="frame rate the generator times the motion for")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=2400, help="planned steps (the schedule's length)")
    p.add_argument("--minutes", type=float, default=0, help="time budget in minutes (0: none); the schedule ends with it")
    p.add_argument("--opt", choices=["adamw", "sgd"], default="adamw")
    p.add_argument("--lr", type=float, default=0, help="peak learning rate (default 2e-3 AdamW, 0.05 SGD)")
    p.add_argument("--wd", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100, help="warm-up steps")
    p.add_argument("--clip-grad", type=float, default=40)
    p.add_argument("--min-frames", type=int, default=0, help="clip lengths are drawn from [min-frames, frames] (default: frames)")
    p.add_argument("--onset", type=float, default=0.5, help="fraction of the motion after which frames are labelled with the gesture")
    p.add_argument("--hold-seconds", type=float, default=0.4, help="the gesture's label lasts this long after the motion")
    p.add_argument("--fade-seconds", type=float, default=0.27, help="then frames are unlabelled this long before No gesture")
    p.add_argument("--shown-weight", type=float, default=0,
                   help="weight of the shown-label loss (shown_loss) added to the per-frame loss; 0: off")
    p.add_argument("--shown-wrong", type=float, default=1,
                   help="weight of the shown loss's \"wrong\" term (another gesture shown) against its \"miss\" term")
    p.add_argument("--photos", default="auto", help="generator --photos: auto (Debian wallpaper packages), dirs, or '' for none")
    p.add_argument("--size-skew", type=float, default=1,
                   help="generator --size-skew for the training stream only (>1: more small hands); held-out clips keep 1")
    p.add_argument("--size-max", type=float, default=None,
                   help="generator --size-max (largest palm radius at rest, a fraction of the shorter side) for the training stream only; default and held-out clips: the generator's (0.16)")
    p.add_argument("--synth-workers", type=int, default=1, help="generator goroutines")
    p.add_argument("--init", default="", help="warm start from this model.safetensors (same width)")
    p.add_argument("--no-shift", action="store_true", help="ablation: no temporal shift, frame-by-frame model")
    p.add_argument("--half", action="store_true", help="export F16 weights")
    p.add_argument("--seed", type=int, default=1, help="training stream seed")
    p.add_argument("--heldout-seed", type=int, default=1000003)
    p.add_argument("--heldout-clips", type=int, default=270)
    p.add_argument("--eval-every", type=int, default=200, help="held-out evaluation every N steps (0: only at the end)")
    p.add_argument("--ckpt-minutes", type=float, default=5)
    p.add_argument("--resume", action="store_true", help="continue from --out/ckpt.pt with the recipe saved in it")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                   help="train in the NHWC memory format (faster on CPU)")
    p.add_argument("--synth-bin", default="", help="livetsm binary (default: go build into --out)")
    p.add_argument("--selftest", action="store_true", help="check clip forward vs online and the export, then exit")
    return p


def given_flags(argv):
    """The flags that argv sets, by destination, without the defaults."""
    p = parser()
    unset = object()
    p.set_defaults(**{k: unset for k in vars(p.parse_args([]))})
    return {k: v for k, v in vars(p.parse_args(argv)).items() if v is not unset}


def main():
    p = parser()
    args = p.parse_args()
    ck = None
    ckpt_path = os.path.join(args.out, "ckpt.pt")
    if args.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        err = resume_args(args, ck.get("args", {}), given_flags(sys.argv[1:]))
        if err:
            p.error(err)
    resolve_defaults(args)

    global LOG
    os.makedirs(args.out, exist_ok=True)
    # SIGTERM (kill PID) ends the run like Ctrl-C: final evaluation, checkpoint, export.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    LOG = open(os.path.join(args.out, "train.log"), "a")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.selftest:
        selftest(args)
        return
    log("args: " + json.dumps(vars(args)))
    ensure_synth_bin(args)
    ensure_photos(args)

    model = build_model(args)
    if args.channels_last:
        # NHWC: PyTorch's CPU convolutions (oneDNN) run this net about 1.5x
        # faster so; the state dict is written back in the usual layout.
        model = model.to(memory_format=torch.channels_last)
    opt = (torch.optim.AdamW(param_groups(model, args.wd), lr=args.lr) if args.opt == "adamw"
           else torch.optim.SGD(param_groups(model, args.wd), lr=args.lr, momentum=0.9, nesterov=True))
    gen = torch.Generator().manual_seed(args.seed)
    step, elapsed, best = 0, 0.0, None
    if ck is not None:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, elapsed, best = ck["step"], ck["elapsed"], ck["best"]
        gen.set_state(ck["gen"])
        log("resumed at step %d (%.1f min)" % (step, elapsed / 60))
    elif args.resume:
        log("no %s: starting afresh" % ckpt_path)
    if args.init and step == 0:
        sd, meta = read_safetensors(args.init)
        load_export(model, sd)
        log("warm start from %s (%s steps, held-out %s)" % (args.init, meta.get("steps"), meta.get("heldout_accuracy") or "not measured"))
    log("model: width %g, %d params, shift blocks %s" % (
        args.width, sum(p.numel() for p in model.parameters()), shift_blocks(model)))

    heldout = heldout_set(args)
    log("held-out: %d clips, seed %d" % (len(heldout), args.heldout_seed))
    # A new stream seed per start, so a resumed run sees new clips, and never
    # the held-out seed.
    seed = 2 + args.seed * 1009 + step
    if seed == args.heldout_seed:
        seed += 1
    stream = ClipStream(synth_command(args, seed, training=True), maxsize=8 * args.batch)
    budget = args.minutes * 60
    start = time.time() - elapsed
    last_ckpt = time.time()
    last_acc = best
    loss_avg, acc_avg, t_step, c_step = None, None, None, None
    first_step = step
    model.train()
    try:
        while True:
            elapsed = time.time() - start
            progress = step / args.steps
            if budget > 0:
                progress = max(progress, elapsed / budget)
            if progress >= 1:
                break
            t0, c0 = time.time(), time.process_time()
            clips = [stream.get() for _ in range(args.batch)]
            x, y, wgt = batch_tensors(clips, args)
            x = normalise(augment(to_float(x), args.size, gen))
            lr = lr_at(args, progress, step)
            for g in opt.param_groups:
                g["lr"] = lr
            logits = forward_clip(model, x)
            loss, terms = training_loss(logits, y, wgt, clips, args)
            shown = ""
            if terms is not None:
                shown = " (shown: wrong %.4f miss %.4f)" % (terms[0].item(), terms[1].item())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
            opt.step()
            step += 1
            acc = (((logits.argmax(2) == y).float() * wgt).sum() / wgt.sum().clamp(min=1)).item()
            dt, dc = time.time() - t0, time.process_time() - c0
            ema = lambda a, v: v if a is None else 0.9 * a + 0.1 * v  # noqa: E731
            loss_avg, acc_avg = ema(loss_avg, loss.item()), ema(acc_avg, acc)
            if step == first_step + 2:
                # A start's first step waits for the generator to come up:
                # not a step's time, so the average begins after it.
                t_step = c_step = None
            t_step, c_step = ema(t_step, dt), ema(c_step, dc)
            if step <= 5 or step % 10 == 0:
                # cpu: this process's CPU seconds per step (all threads), a
                # measure that holds when others share the cores.
                log("step %d loss %.4f%s (avg %.4f) acc avg %.3f lr %.2e gnorm %.2f %.2fs/step (cpu %.2fs) queue %d elapsed %.1f min" % (
                    step, loss.item(), shown, loss_avg, acc_avg, lr, float(gnorm), t_step, c_step, stream.q.qsize(),
                    (time.time() - start) / 60))
            if args.eval_every and step % args.eval_every == 0:
                a, al, conf = evaluate(model, heldout, args)
                last_acc = a
                best = a if best is None else max(best, a)
                log("held-out step %d: shown-label accuracy %.4f (weighted frames %.4f)\n%s" % (step, a, al, format_confusion(conf)))
                # Each evaluated step is kept as its own export: a run's
                # held-out peak may come before its end, and model.safetensors
                # is overwritten by the next checkpoint.
                log("kept: %s" % export(model, args, step, a, "model-step%d.safetensors" % step))
            if time.time() - last_ckpt >= args.ckpt_minutes * 60:
                save_checkpoint(args, model, opt, step, time.time() - start, best, gen)
                log("checkpoint at step %d: %s" % (step, export(model, args, step, last_acc)))
                last_ckpt = time.time()
    except KeyboardInterrupt:
        log("interrupted at step %d" % step)
    finally:
        stream.close()
    elapsed = time.time() - start
    a, al, conf = evaluate(model, heldout, args)
    log("final held-out step %d: shown-label accuracy %.4f (weighted frames %.4f)\n%s" % (step, a, al, format_confusion(conf)))
    save_checkpoint(args, model, opt, step, elapsed, a if best is None else max(best, a), gen)
    log("done: %d steps in %.1f min; %s" % (step, elapsed / 60, export(model, args, step, a)))


if __name__ == "__main__":
    main()
