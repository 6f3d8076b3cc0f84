"""Tests of the tools that make and ship the default model (make test-tools).

    /usr/bin/python3 -m unittest discover -s tools -p 'test_*.py'

They need Debian's python3-torch. LIVETSM_BIN names a built livetsm for the
test of the generator's stream format (make test-tools builds one); without it
that test fails rather than skips.
"""
import argparse
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import average_models  # noqa: E402
import ship_model  # noqa: E402
import train  # noqa: E402
import widen_model  # noqa: E402
from tsm_reference import OnlineTSM, forward_clip, randomize, synthetic_frame  # noqa: E402

NONE = train.NO_GESTURE


def targets_args(**kw):
    a = dict(onset=0.5, hold_seconds=0.4, fade_seconds=0.27, fps=15)
    a.update(kw)
    return argparse.Namespace(**a)


class FrameTargets(unittest.TestCase):
    def test_table(self):
        # hold 0.4 s and fade 0.27 s at 15 fps are 6 and 4 frames.
        cases = [
            ("no gesture", NONE, 24, 5, 11, {}, [NONE] * 24, [1] * 24),
            ("no motion", 0, 10, 0, 0, {}, [NONE] * 10, [1] * 10),
            ("gesture", 2, 24, 5, 11, {},
             [NONE] * 8 + [2] * 9 + [NONE] * 7,
             [1] * 5 + [0] * 3 + [1] * 9 + [0] * 4 + [1] * 3),
            ("onset 0: labelled from the motion's start", 3, 24, 5, 11, {"onset": 0},
             [NONE] * 5 + [3] * 12 + [NONE] * 7,
             [1] * 17 + [0] * 4 + [1] * 3),
            ("onset 1: still the motion's last frame", 3, 24, 5, 11, {"onset": 1},
             [NONE] * 10 + [3] * 7 + [NONE] * 7,
             [1] * 5 + [0] * 5 + [1] * 7 + [0] * 4 + [1] * 3),
            ("hold past the clip's end", 6, 16, 8, 14, {},
             [NONE] * 11 + [6] * 5,
             [1] * 8 + [0] * 3 + [1] * 5),
        ]
        for name, label, t, start, end, kw, want_y, want_w in cases:
            with self.subTest(name):
                y, w = train.frame_targets(label, t, start, end, targets_args(**kw))
                self.assertEqual(y.tolist(), want_y)
                self.assertEqual(w.tolist(), want_w)

    def test_batch_pads_without_weight(self):
        args = targets_args(frames=8)
        clips = [(1, np.full((6, 4, 4, 3), 7, np.uint8), 1, 3), (NONE, np.zeros((8, 4, 4, 3), np.uint8), 0, 0)]
        x, y, w = train.batch_tensors(clips, args)
        self.assertEqual(tuple(x.shape), (2, 8, 4, 4, 3))
        self.assertEqual(x[0, 6:].abs().sum().item(), 0)
        self.assertEqual(w[0, 6:].tolist(), [0, 0])
        self.assertEqual(w[1].tolist(), [1] * 8)


class Resume(unittest.TestCase):
    SAVED = dict(vars(train.parser().parse_args(
        ["--out", "/runs/a", "--frames", "24", "--min-frames", "16", "--size", "160", "--lr", "5e-4",
         "--seed", "37", "--half", "--threads", "1"])))

    def saved(self, change=()):
        """The checkpoint's settings: SAVED with change, or none for None."""
        return {} if change is None else {**self.SAVED, **dict(change)}

    def test_given_flags(self):
        got = train.given_flags(["--out", "r", "--resume", "--frames", "24", "--no-channels-last"])
        self.assertEqual(got, {"out": "r", "resume": True, "frames": 24, "channels_last": False})

    def test_table(self):
        cases = [
            # (argv, error substrings or None, expected args)
            (["--out", "r", "--resume"], None,
             dict(out="r", frames=24, min_frames=16, size=160, lr=5e-4, seed=37, half=True, threads=1)),
            (["--out", "r", "--resume", "--threads", "2", "--no-channels-last", "--eval-every", "50"], None,
             dict(frames=24, seed=37, threads=2, half=True, channels_last=False, eval_every=50)),
            (["--out", "r", "--resume", "--frames", "24", "--lr", "5e-4"], None, dict(frames=24, lr=5e-4)),
            (["--out", "r", "--resume", "--frames", "8"], ["--frames 8", "began with 24"], None),
            (["--out", "r", "--resume", "--lr", "1e-3", "--seed", "1"], ["--lr 0.001", "--seed 1"], None),
            # "0" stands for a computed value and is compared as that value.
            (["--out", "r", "--resume", "--lr", "0"], ["--lr 0.0 (the run began with 0.0005)"], None),
            (["--out", "r", "--resume", "--min-frames", "0"], ["--min-frames 0 (the run began with 16)"], None),
            (["--out", "r", "--resume", "--min-frames", "0"], None, dict(min_frames=24), dict(min_frames=24)),
            (["--out", "r", "--resume", "--lr", "0", "--opt", "sgd"], None, dict(lr=0.05), dict(lr=0.05, opt="sgd")),
            # A checkpoint without saved settings (older runs) leaves the command line as it is.
            (["--out", "r", "--resume", "--lr", "0"], None, dict(lr=2e-3, frames=8), None),
        ]
        for argv, errs, want, *saved in cases:
            with self.subTest(argv=argv):
                args = train.parser().parse_args(argv)
                err = train.resume_args(args, self.saved(*saved), train.given_flags(argv))
                train.resolve_defaults(args)
                if errs:
                    for e in errs:
                        self.assertIn(e, err)
                    continue
                self.assertEqual(err, "")
                for k, v in want.items():
                    self.assertEqual(getattr(args, k), v, k)

    def test_flag_newer_than_checkpoint(self):
        saved = {k: v for k, v in self.SAVED.items() if k != "size_skew"}
        for argv, err in [(["--out", "r", "--resume"], ""),
                          (["--out", "r", "--resume", "--size-skew", "1"], ""),
                          (["--out", "r", "--resume", "--size-skew", "1.6"], "--size-skew 1.6 (the run began with 1)")]:
            with self.subTest(argv=argv):
                args = train.parser().parse_args(argv)
                got = train.resume_args(args, saved, train.given_flags(argv))
                if err:
                    self.assertIn(err, got)
                    continue
                self.assertEqual(got, "")
                self.assertEqual(args.size_skew, 1)


class ShownLabel(unittest.TestCase):
    def logits(self, per_frame):
        """One-hot-ish logits: frame i favours class per_frame[i] by 1."""
        x = torch.zeros(len(per_frame), len(train.LABELS))
        x[:, NONE] = 0.5
        for i, c in enumerate(per_frame):
            x[i, c] += 1
        return x

    def test_table(self):
        cases = [
            ("rest", [NONE] * 20, NONE),
            ("a gesture from the first frame", [4] * 20, 4),
            # One frame of a gesture among rest is averaged away over 12 frames.
            ("a blip", [NONE] * 10 + [2] + [NONE] * 9, NONE),
            # The window's average flips once 10 of its 12 frames favour the gesture.
            ("a gesture after rest", [NONE] * 12 + [1] * 10, 1),
            ("too short to flip", [NONE] * 12 + [1] * 8, NONE),
            ("the first gesture shown wins", [NONE] * 12 + [1] * 12 + [5] * 12, 1),
        ]
        for name, frames, want in cases:
            with self.subTest(name):
                self.assertEqual(train.shown_label(self.logits(frames)), want)

    def test_window(self):
        # Rest then 6 gesture frames: a 12-frame window has not flipped yet
        # (No gesture 12, the gesture 6), a 4-frame one has (2 against 4).
        frames = [NONE] * 12 + [3] * 6
        self.assertEqual(train.shown_label(self.logits(frames), window=12), NONE)
        self.assertEqual(train.shown_label(self.logits(frames), window=4), 3)


class ShownLoss(unittest.TestCase):
    def test_smoothed_is_the_window_mean(self):
        x = torch.randn(2, 20, len(train.LABELS), generator=torch.Generator().manual_seed(3))
        for window in (1, 4, 12):
            got = train.smoothed(x, window)
            for t in range(20):
                want = x[:, max(0, t - window + 1):t + 1].mean(1)
                torch.testing.assert_close(got[:, t], want, msg="window %d frame %d" % (window, t))

    def test_weights(self):
        args = targets_args()
        t = np.zeros((1, 4, 4, 3), np.uint8)
        clips = [(NONE, t.repeat(24, 0), 5, 11), (2, t.repeat(24, 0), 5, 11),
                 (3, t.repeat(16, 0), 8, 14), (4, t.repeat(16, 0), 9, 16), (5, t.repeat(20, 0), 4, 4)]
        labels, valid, show = train.shown_weights(clips, 24, args)
        self.assertEqual(labels.tolist(), [NONE, 2, 3, 4, 5])
        self.assertEqual(valid.sum(1).tolist(), [24, 24, 16, 16, 20])
        # hold 0.4 s at 15 fps: 6 frames from the motion's end, cut at the
        # clip's end; a motion to the clip's end shows on its last frame; none
        # for No gesture or a clip without motion.
        want = [[], list(range(11, 17)), [14, 15], [15], []]
        for i, w in enumerate(want):
            self.assertEqual(show[i].nonzero().flatten().tolist(), w, "clip %d" % i)

    def test_loss(self):
        c = len(train.LABELS)

        def clip(favour):
            """Logits of a 16-frame clip: frame i favours class favour[i] by 4."""
            x = torch.zeros(16, c)
            for i, q in enumerate(favour):
                x[i, q] = 4
            return x

        # The motion is frames 6-8: the gesture must show on frames 9-14.
        rest = [NONE] * 3
        cases = [
            # name, label, per-frame favourites, wrong high, miss high
            ("rest then the gesture", 1, rest + [1] * 13, False, False),
            ("rest then another gesture", 1, rest + [2] * 13, True, True),
            ("only rest", 1, [NONE] * 16, False, True),
            ("No gesture at rest", NONE, [NONE] * 16, False, False),
            ("No gesture shown as a gesture", NONE, rest + [3] * 13, True, False),
        ]
        args = targets_args()
        for name, label, favour, wrong_high, miss_high in cases:
            with self.subTest(name):
                x = clip(favour)[None].requires_grad_()
                clips = [(label, np.zeros((16, 1, 1, 3), np.uint8), 6, 9)]
                wrong, miss = train.shown_loss(x, *train.shown_weights(clips, 16, args))
                self.assertEqual(wrong.item() > 1, wrong_high, "wrong %.3f" % wrong.item())
                self.assertEqual(miss.item() > 1, miss_high, "miss %.3f" % miss.item())
                (wrong + miss).backward()
                self.assertTrue(torch.isfinite(x.grad).all())

    def test_training_loss_weights(self):
        # Both clips (a gesture, No gesture) show gesture 3 from frame 9:
        # both shown-label terms are large, so each weight moves the loss.
        x = torch.randn(2, 16, len(train.LABELS), generator=torch.Generator().manual_seed(5))
        x[:, 9:, 3] += 12
        t = np.zeros((16, 1, 1, 3), np.uint8)
        clips = [(1, t, 6, 9), (NONE, t, 6, 9)]
        y, wgt = torch.from_numpy(np.full((2, 16), NONE)), torch.ones(2, 16)
        base, terms = train.training_loss(x, y, wgt, clips, targets_args(shown_weight=0, shown_wrong=1))
        self.assertIsNone(terms)
        torch.testing.assert_close(base, torch.nn.functional.cross_entropy(x.flatten(0, 1), y.flatten()))
        wrong, miss = train.shown_loss(x, *train.shown_weights(clips, 16, targets_args()))
        self.assertGreater(wrong.item(), 1)
        for weight, wrong_w in [(1, 1), (0.5, 1), (1, 3), (2, 0)]:
            with self.subTest(shown_weight=weight, shown_wrong=wrong_w):
                args = targets_args(shown_weight=weight, shown_wrong=wrong_w)
                loss, (w, m) = train.training_loss(x, y, wgt, clips, args)
                torch.testing.assert_close((w, m), (wrong, miss))
                torch.testing.assert_close(loss, base + weight * (wrong_w * wrong + miss))


def small_state(seed, width=0.5):
    model = randomize(OnlineTSM(num_classes=len(train.LABELS), width=width), torch.Generator().manual_seed(seed))
    return model.state_dict()


class Safetensors(unittest.TestCase):
    def test_round_trip(self):
        state = small_state(1)
        meta = {"labels": json.dumps(train.LABELS), "width": 0.5}
        with tempfile.TemporaryDirectory() as d:
            for half, tol in ((False, 0.0), (True, 2e-3)):
                with self.subTest(half=half):
                    path = os.path.join(d, "m.safetensors")
                    train.write_safetensors(path, state, meta, half=half)
                    back, m = train.read_safetensors(path)
                    self.assertEqual(m, {"labels": meta["labels"], "width": "0.5"})
                    self.assertEqual(sorted(back), sorted(state))
                    for k, t in state.items():
                        b = back[k]
                        self.assertEqual(tuple(b.shape), tuple(t.shape), k)
                        if t.dtype == torch.int64:
                            self.assertEqual(b.dtype, torch.int64, k)
                            self.assertTrue(torch.equal(b, t), k)
                        else:
                            self.assertEqual(b.dtype, torch.float16 if half else torch.float32, k)
                            err = (b.float() - t).abs().max().item()
                            self.assertLessEqual(err, tol * (1 + t.abs().max().item()), k)
                    with open(path, "rb") as f:
                        n = struct.unpack("<Q", f.read(8))[0]
                    self.assertEqual((8 + n) % 8, 0, "data must start 8-aligned")


class Average(unittest.TestCase):
    def write(self, d, name, state, **meta):
        m = {"format": "livetsm", "arch": "mobilenetv2_tsm_online", "width": "0.5", "input_size": "112",
             "labels": json.dumps(train.LABELS), "shift_blocks": "[2, 4]", "steps": name}
        m.update(meta)
        path = os.path.join(d, name + ".safetensors")
        train.write_safetensors(path, state, m)
        return path

    def test_mean(self):
        a, b = small_state(1), small_state(2)
        b = {k: (v + 10 if not v.is_floating_point() else v) for k, v in b.items()}
        with tempfile.TemporaryDirectory() as d:
            out, meta, half = average_models.average([self.write(d, "a", a), self.write(d, "b", b)])
        self.assertFalse(half)
        self.assertEqual(meta["steps"], "average of a, b")
        self.assertEqual(meta["heldout_accuracy"], "")
        for k in a:
            if a[k].is_floating_point():
                self.assertTrue(torch.allclose(out[k], (a[k] + b[k]) / 2, atol=1e-6), k)
            else:
                self.assertTrue(torch.equal(out[k], torch.maximum(a[k], b[k])), k)

    def test_refuses(self):
        a = small_state(1)
        wider = small_state(2, width=0.75)
        fewer = {k: v for k, v in a.items() if not k.startswith("classifier")}
        cases = [
            ("metadata", lambda d: self.write(d, "b", a, shift_blocks="[2]"), "shift_blocks"),
            ("names", lambda d: self.write(d, "b", fewer), "names differ"),
            ("shapes", lambda d: self.write(d, "b", {k: wider.get(k, v) for k, v in a.items()}), "shape"),
        ]
        for name, other, msg in cases:
            with self.subTest(name), tempfile.TemporaryDirectory() as d:
                with self.assertRaisesRegex(ValueError, msg):
                    average_models.average([self.write(d, "a", a), other(d)])


class Widen(unittest.TestCase):
    def test_same_function(self):
        old = small_state(3)
        old_model, model, movers = widen_model.widen(old, 0.5, 0.75)
        widen_model.check(old_model, model, movers, size=64, frames=3)  # raises on a difference
        x = torch.randn(1, 3, 3, 64, 64, generator=torch.Generator().manual_seed(5))
        old_model.eval()
        model.eval()
        with torch.no_grad():
            a, b = forward_clip(old_model, x), forward_clip(model, x)
        self.assertLess((a - b).abs().max().item(), 1e-4 * a.abs().max().item())
        self.assertGreater(sum(p.numel() for p in model.parameters()),
                           sum(p.numel() for p in old_model.parameters()))


class SelfTest(unittest.TestCase):
    def test_clip_forward_is_online_stepping(self):
        with tempfile.TemporaryDirectory() as d:
            train.selftest(argparse.Namespace(width=0.5, frames=4, size=64, out=d, half=True))
            self.assertTrue(os.path.exists(os.path.join(d, "selftest.safetensors")))


class Parity(unittest.TestCase):
    def test_fixture_of_an_export(self):
        state = small_state(4)
        meta = {"labels": json.dumps(train.LABELS), "width": "0.5", "input_size": "64", "shift_blocks": "[2, 4, 5]"}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.safetensors")
            train.write_safetensors(path, state, meta, half=True)
            fx = ship_model.parity(path, frames=3)
            with open(path, "rb") as f:
                self.assertEqual(fx["sha256"], hashlib.sha256(f.read()).hexdigest())
            back, _ = train.read_safetensors(path)
        self.assertEqual((fx["size"], fx["frames"], len(fx["logits"])), (64, 3, 3))
        # The same logits from the clip path (forward_clip), with the shift
        # blocks of the metadata and the float16 weights.
        model = OnlineTSM(num_classes=len(train.LABELS), width=0.5)
        for i, block in enumerate(model.features[1:-1]):
            block.shift = i in (2, 4, 5)
        train.load_export(model, back)
        model.eval()
        with torch.no_grad():
            clip = forward_clip(model, torch.stack([synthetic_frame(t, 64) for t in range(3)]).unsqueeze(0))[0]
        got = torch.tensor(fx["logits"])
        self.assertLess((got - clip).abs().max().item(), 1e-4 * clip.abs().max().item())


class StreamFormat(unittest.TestCase):
    def test_go_generator(self):
        binary = os.environ.get("LIVETSM_BIN")
        self.assertTrue(binary, "LIVETSM_BIN must name a built livetsm (make test-tools sets it)")
        out = subprocess.run([binary, "synth", "--stream", "--size", "32", "--frames", "10", "--min-frames", "6",
                              "--count", "9", "--balanced", "--seed", "7"],
                             check=True, capture_output=True).stdout
        f = io.BytesIO(out)
        labels = []
        while True:
            clip = train.read_clip(f)
            if clip is None:
                break
            label, frames, start, end = clip
            labels.append(label)
            self.assertEqual(frames.shape[1:], (32, 32, 3))
            self.assertTrue(6 <= frames.shape[0] <= 10, frames.shape)
            if label == NONE:
                self.assertEqual((start, end), (0, 0))
            else:
                self.assertTrue(0 <= start < end <= frames.shape[0], (start, end))
        self.assertEqual(sorted(labels), list(range(len(train.LABELS))))

    def test_hand_sizes_only_in_training_stream(self):
        for flag, value in [("--size-skew", "1.6"), ("--size-max", "0.25")]:
            for argv, want in [([], None), ([flag, value], value)]:
                with self.subTest(argv=argv, flag=flag):
                    args = train.parser().parse_args(["--synth-bin", "livetsm"] + argv)
                    cmd = train.synth_command(args, 1, training=True)
                    got = cmd[cmd.index(flag) + 1] if flag in cmd else None
                    self.assertEqual(got, want)
                    self.assertNotIn(flag, train.synth_command(args, 2, count=9, balanced=True))

    def test_bad_input(self):
        hdr = train.MAGIC + bytes([1, 0]) + struct.pack("<HHHHH", 2, 4, 4, 0, 1)
        cases = [("bad magic", b"XXXX" + hdr[4:], "bad magic"), ("truncated", hdr + b"\0" * 10, "truncated")]
        for name, data, msg in cases:
            with self.subTest(name), self.assertRaisesRegex(RuntimeError, msg):
                train.read_clip(io.BytesIO(data))
        self.assertIsNone(train.read_clip(io.BytesIO(b"")))


if __name__ == "__main__":
    unittest.main()
