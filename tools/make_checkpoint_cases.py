#!/usr/bin/python3
"""Generate the checkpoint reader's test files in onlinetsm/internal/ckpt/testdata/.

Run by hand (not in CI) with Debian's PyTorch:

    /usr/bin/python3 tools/make_checkpoint_cases.py

It writes small PyTorch checkpoints in the zip (PyTorch >= 1.6) and legacy
(_use_new_zipfile_serialization=False) formats, a safetensors file written by
hand (the safetensors package is not needed), hostile files that must be
rejected (bad_*), and expected.json with the exact float32 values every good
file must yield.
"""

import io
import json
import os
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onlinetsm", "internal", "ckpt", "testdata")


def f32list(t):
    """Values of t as the float32 numbers the Go reader must produce."""
    a = t.detach().cpu()
    if a.dtype == torch.bfloat16:
        a = a.float()
    a = a.contiguous().numpy().astype(np.float32).reshape(-1)
    return [float(x) for x in a]


def expect(sd, strip_module=True):
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            continue
        if strip_module and k.startswith("module."):
            k = k[len("module."):]
        out[k] = {"shape": list(v.shape), "data": f32list(v)}
    return out


def base_state_dict():
    torch.manual_seed(0)
    sd = OrderedDict()
    sd["features.0.0.weight"] = torch.randn(4, 3, 3, 3)
    sd["features.0.1.weight"] = torch.rand(4) + 0.5
    sd["features.0.1.bias"] = torch.randn(4)
    sd["features.0.1.running_mean"] = torch.randn(4)
    sd["features.0.1.running_var"] = torch.rand(4) + 0.1
    sd["features.0.1.num_batches_tracked"] = torch.tensor(12345, dtype=torch.int64)
    sd["classifier.weight"] = torch.randn(5, 4)
    sd["classifier.bias"] = torch.randn(5)
    sd["half"] = torch.tensor([0.5, -1.25, 65504.0, 6e-8, 1e-4, -0.0], dtype=torch.float16)
    sd["double"] = torch.tensor([[1.0 / 3.0, -2.5e-40], [1e20, 3.141592653589793]], dtype=torch.float64)
    sd["long"] = torch.tensor([0, -5, 2 ** 31 + 1, 2 ** 40 + 3], dtype=torch.int64)
    return sd


def views_state_dict():
    sd = OrderedDict()
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.5
    sd["base"] = base
    sd["transposed"] = base.t()                      # strides (1, 6), shares base's storage
    sd["sliced"] = base[1:3, ::2]                    # storage offset 6, strides (12, 2)
    sd["flat_tail"] = base.view(-1)[20:]             # offset 20, shares storage
    sd["expanded"] = torch.arange(3, dtype=torch.float32).expand(2, 3)  # stride 0
    sd["param"] = torch.nn.Parameter(torch.tensor([1.5, -2.0, 3.25]))
    sd["scalar"] = torch.tensor(7.5)
    sd["empty"] = torch.zeros(0, 3)
    return sd


def save(name, obj, legacy):
    path = os.path.join(OUT, name)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


# --- hand-made hostile files ------------------------------------------------

MAGIC = 0x1950A86A20F9469CFC6C


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


class EvalEvil:
    def __reduce__(self):
        return (eval, ("print('pwned')",))


class FakeTensor:
    """Pickles as torch._utils._rebuild_tensor_v2(storage, off, size, stride, False, OrderedDict())."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride)

    def __reduce__(self):
        s, o, size, stride = self.args
        return (torch._utils._rebuild_tensor_v2, (s, o, size, stride, False, OrderedDict()))


class FakeStorage:
    def __init__(self, cls, key, numel, legacy, view=None):
        self.cls, self.key, self.numel, self.legacy, self.view = cls, key, numel, legacy, view


class PidPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            if obj.legacy:
                return ("storage", obj.cls, obj.key, "cpu", obj.numel, obj.view)
            return ("storage", obj.cls, obj.key, "cpu", obj.numel)
        return None


def dumps(obj):
    f = io.BytesIO()
    PidPickler(f, protocol=2).dump(obj)
    return f.getvalue()


def legacy_file(main_pickle, keys, raw):
    f = io.BytesIO()
    pickle.dump(MAGIC, f, protocol=2)
    pickle.dump(1001, f, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, f, protocol=2)
    f.write(main_pickle)
    pickle.dump(keys, f, protocol=2)
    f.write(raw)
    return f.getvalue()


def zip_file(records):
    f = io.BytesIO()
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
        for name, data in records:
            z.writestr(name, data)
    return f.getvalue()


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def make_bad():
    # A __reduce__ payload calling os.system (pickled as posix.system), in both torch layouts.
    evil = pickle.dumps(OrderedDict(w=Evil()), protocol=2)
    write("bad_zip_os_system.pt", zip_file([("archive/data.pkl", evil), ("archive/version", b"3\n")]))
    write("bad_legacy_os_system.pt", legacy_file(evil, [], b""))
    # builtins.eval inside a state_dict wrapper.
    ev = pickle.dumps({"state_dict": OrderedDict(w=EvalEvil()), "epoch": 1}, protocol=2)
    write("bad_zip_eval.pt", zip_file([("archive/data.pkl", ev)]))
    # A GLOBAL naming os.system written out by hand: c os\nsystem\n (S'echo pwned'\ntR.
    raw = b"\x80\x02cos\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."
    write("bad_legacy_raw_os_system.pt", legacy_file(raw, [], b""))

    # Huge claimed storage sizes.
    big = FakeStorage(torch.FloatStorage, "0", 10 ** 12, True)
    p = dumps(OrderedDict(w=FakeTensor(big, 0, (10 ** 6, 10 ** 6), (10 ** 6, 1))))
    write("bad_legacy_huge_storage.pt", legacy_file(p, ["0"], struct.pack("<q", 10 ** 12)))
    big = FakeStorage(torch.FloatStorage, "0", 10 ** 12, False)
    p = dumps(OrderedDict(w=FakeTensor(big, 0, (10 ** 6, 10 ** 6), (10 ** 6, 1))))
    write("bad_zip_huge_storage.pt", zip_file([("archive/data.pkl", p), ("archive/data/0", b"\0" * 4)]))
    # A 1-element storage viewed as a 10^6 x 10^6 broadcast (stride 0): too many output elements.
    one = FakeStorage(torch.FloatStorage, "0", 1, False)
    p = dumps(OrderedDict(w=FakeTensor(one, 0, (10 ** 6, 10 ** 6), (0, 0))))
    write("bad_zip_huge_broadcast.pt", zip_file([("archive/data.pkl", p), ("archive/data/0", b"\0" * 4)]))
    # A view reaching past the end of its storage.
    four = FakeStorage(torch.FloatStorage, "0", 4, False)
    p = dumps(OrderedDict(w=FakeTensor(four, 2, (2, 2), (2, 1))))
    write("bad_zip_stride_oob.pt", zip_file([("archive/data.pkl", p), ("archive/data/0", b"\0" * 16)]))
    # A storage record that is missing.
    write("bad_zip_missing_record.pt", zip_file([("archive/data.pkl", p)]))
    # Legacy storage whose raw data is cut short.
    four = FakeStorage(torch.FloatStorage, "0", 4, True)
    p = dumps(OrderedDict(w=FakeTensor(four, 0, (4,), (1,))))
    write("bad_legacy_short_storage.pt", legacy_file(p, ["0"], struct.pack("<q", 4) + b"\0" * 10))
    # A zip archive without data.pkl.
    write("bad_zip_no_datapkl.pt", zip_file([("archive/version", b"3\n"), ("archive/data/0", b"\0" * 16)]))

    # Real torch.save files that hold no usable state dict, or a bad one.
    t = torch.ones(2)
    save("bad_dup_prefix.pt", OrderedDict([("module.w", t), ("w", t * 2)]), False)
    save("bad_legacy_dup_prefix.pt", OrderedDict([("w", t), ("module.w", t * 2)]), True)
    save("bad_no_tensors.pt", {"epoch": 3, "arch": "mobilenetv2"}, False)
    save("bad_state_dict_not_dict.pt", {"state_dict": [t], "epoch": 3}, True)
    save("bad_single_tensor.pt", t, False)
    save("bad_complex.pt", OrderedDict(c=torch.zeros(2, dtype=torch.complex64)), False)


def safetensors_file(tensors, metadata):
    """Write a safetensors file by hand: 8-byte LE header length, JSON header, data."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs = []
    off = 0
    for name, (dtype, t) in tensors.items():
        if dtype == "BF16":
            b = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
        else:
            b = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def main():
    if sys.byteorder != "little":
        sys.exit("run on a little-endian machine")
    os.makedirs(OUT, exist_ok=True)
    expected = {}

    sd = base_state_dict()
    for legacy in (False, True):
        tag = "legacy" if legacy else "zip"
        fmt = "pytorch-legacy" if legacy else "pytorch-zip"
        save(f"{tag}_bare.pt", sd, legacy)
        expected[f"{tag}_bare.pt"] = {"format": fmt, "tensors": expect(sd)}

        # The layout of the published TSM checkpoints: DataParallel keys in a dict
        # with training state next to them, including an optimizer holding tensors.
        msd = OrderedDict(("module." + k, v) for k, v in sd.items())
        params = [torch.nn.Parameter(torch.randn(3)), torch.nn.Parameter(torch.randn(2, 2))]
        opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
        sum((p * p).sum() for p in params).backward()
        opt.step()
        wrapped = {"epoch": 3, "arch": "mobilenetv2", "state_dict": msd,
                   "best_prec1": 91.5, "optimizer": opt.state_dict()}
        save(f"{tag}_wrapped.pth.tar", wrapped, legacy)
        expected[f"{tag}_wrapped.pth.tar"] = {"format": fmt, "tensors": expect(msd)}

        vsd = views_state_dict()
        save(f"{tag}_views.pt", vsd, legacy)
        expected[f"{tag}_views.pt"] = {"format": fmt, "tensors": expect(vsd)}

    # A "state_dict" entry wins over tensors stored next to it.
    wins = {"state_dict": OrderedDict(a=torch.tensor([1.0, 2.0])), "b": torch.tensor([3.0]), "epoch": 1}
    save("zip_state_dict_wins.pt", wins, False)
    expected["zip_state_dict_wins.pt"] = {"format": "pytorch-zip", "tensors": expect(wins["state_dict"])}

    # Old (PyTorch < 0.4) legacy files could hold storage views: persistent ids with
    # view metadata (view_key, offset, size). Root: 6 doubles; view: elements 2..4;
    # tensor: elements 1..2 of the view.
    root = FakeStorage(torch.DoubleStorage, "r", 6, True)
    view = FakeStorage(torch.DoubleStorage, "r", 6, True, ("v", 2, 3))
    p = dumps(OrderedDict([("whole", FakeTensor(root, 0, (2, 3), (3, 1))), ("part", FakeTensor(view, 1, (2,), (1,)))]))
    raw = struct.pack("<q", 6) + np.arange(6, dtype=np.float64).tobytes() * 1
    write("legacy_storage_view.pt", legacy_file(p, ["r"], raw))
    expected["legacy_storage_view.pt"] = {"format": "pytorch-legacy", "tensors": {
        "whole": {"shape": [2, 3], "data": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]},
        "part": {"shape": [2], "data": [3.0, 4.0]}}}

    st = OrderedDict()
    st["f32"] = ("F32", torch.tensor([[1.0, -2.0, 0.1], [3.5, 1e-30, -7.0]]))
    st["f16"] = ("F16", torch.tensor([0.5, -1.25, 65504.0, 6e-8], dtype=torch.float16))
    st["bf16"] = ("BF16", torch.tensor([1.0, -3.140625, 1e30]))
    st["f64"] = ("F64", torch.tensor([1.0 / 3.0, 2.0 ** -130], dtype=torch.float64))
    st["module.i64"] = ("I64", torch.tensor([12345, -2 ** 40 - 1], dtype=torch.int64))
    st["i32"] = ("I32", torch.tensor([[7], [-8]], dtype=torch.int32))
    st["scalar"] = ("F32", torch.tensor(2.25))
    meta = {"format": "pt", "arch": "mobilenetv2", "num_classes": "27"}
    write("tensors.safetensors", safetensors_file(st, meta))
    est = OrderedDict()
    for k, (dt, t) in st.items():
        est[k] = t.to(torch.bfloat16) if dt == "BF16" else t
    expected["tensors.safetensors"] = {"format": "safetensors", "meta": meta, "tensors": expect(est)}

    # float32 -> float16 rounding as numpy does it, for ckptFloat32ToHalf.
    vals = np.array([0.0, -0.0, 1.0, 0.1, -0.3333333, 65504.0, 65519.99, 65520.0, 1e6, 6e-8, 5.9604645e-8,
                     2.9802322e-8, 2.9802326e-8, 1e-10, 1.00048828125, 1.00146484375, 0.000061035156,
                     0.00006097555, 3.0517578e-05, -123.456, 2049.0, 2051.0], dtype=np.float32)
    halves = vals.astype(np.float16)
    expected["_float16_rounding"] = {"in": [float(v) for v in vals],
                                     "bits": [int(h) for h in halves.view(np.uint16)]}

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    make_bad()


if __name__ == "__main__":
    main()
