"""Reference offline TSM models and test-time sampling in PyTorch/numpy, written from
the description of mmaction2's ResNetTSM, MobileNetV2TSM, TSMHead and SampleFrames
(not mmaction2's code), in mmaction2's checkpoint key layout:

  backbone.conv1.conv.weight, backbone.conv1.bn.*          ResNet stem: 7x7/2 conv, BN, ReLU,
                                                           then 3x3/2 max pool (padding 1)
  backbone.layerS.B.conv{1,2,3}.{conv,bn}.*                bottleneck: 1x1, 3x3 (stride here,
                                                           'pytorch' style), 1x1 (x4 channels)
  backbone.layerS.B.conv1.conv.net.weight                  the shifted 1x1 conv ('blockres')
  backbone.layerS.0.downsample.{conv,bn}.*                 1x1 conv (+ stride) on the shortcut
  cls_head.fc_cls.{weight,bias}                            TSMHead's linear layer

  MobileNetV2TSM: backbone.conv1.*, backbone.layerL.B.conv.I.{conv,bn}.* (I = 0..2, or 0..1
  when the expansion is 1), backbone.layerL.B.conv.0.net.{conv,bn}.* where shifted,
  backbone.conv2.* (1x1 to 1280), cls_head.fc_cls.*

The temporal shift (shift_div 8): within each group of num_segments consecutive frames,
channels [0, C/8) take the NEXT segment's values, [C/8, 2C/8) the PREVIOUS segment's,
zeros at the group's ends; the rest are unchanged. ResNet: every bottleneck's residual
branch shifts (every other one, i % 2 == 0 within each stage, when layer3 has >= 23
blocks, i.e. ResNet-101). MobileNetV2: every inverted residual with an expansion and a
shortcut shifts the input of its first 1x1 conv. The head averages each frame's fc
output over the segments (AvgConsensus); views are combined by averaging softmaxes.

Run with Debian's /usr/bin/python3.
"""
import collections
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


def temporal_shift(x, num_segments, shift_div=8):
    """x: (V*S, C, H, W) -> the bi-directional shift within each group of S frames
    (written with cat, not slice assignment, so that it exports to ONNX)."""
    n, c, h, w = x.shape
    x = x.reshape(n // num_segments, num_segments, c, h, w)
    fold = c // shift_div
    nxt = x[:, :, :fold]  # channels [0, fold): from the next segment
    prv = x[:, :, fold:2 * fold]  # channels [fold, 2 fold): from the previous segment
    nxt = torch.cat((nxt[:, 1:], torch.zeros_like(nxt[:, :1])), 1)
    prv = torch.cat((torch.zeros_like(prv[:, :1]), prv[:, :-1]), 1)
    out = torch.cat((nxt, prv, x[:, :, 2 * fold:]), 2)
    return out.reshape(n, c, h, w)


class Shifted(nn.Module):
    """A module whose input is shifted first; the wrapped module is `.net` (key layout)."""

    def __init__(self, net, num_segments):
        super().__init__()
        self.net = net
        self.num_segments = num_segments

    def forward(self, x):
        return self.net(temporal_shift(x, self.num_segments))


class ConvBN(nn.Module):
    """conv + bn (+ activation): the `.conv` / `.bn` key layout of mmcv's ConvModule."""

    def __init__(self, cin, cout, k, stride=1, groups=1, act=None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        if self.act == "relu":
            x = F.relu(x)
        elif self.act == "relu6":
            x = F.relu6(x)
        return x


class Bottleneck(nn.Module):
    def __init__(self, cin, planes, stride, downsample, shift, num_segments):
        super().__init__()
        self.conv1 = ConvBN(cin, planes, 1, act="relu")
        if shift:
            self.conv1.conv = Shifted(self.conv1.conv, num_segments)
        self.conv2 = ConvBN(planes, planes, 3, stride, act="relu")
        self.conv3 = ConvBN(planes, planes * 4, 1)
        self.downsample = ConvBN(cin, planes * 4, 1, stride) if downsample else None

    def forward(self, x):
        out = self.conv3(self.conv2(self.conv1(x)))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + identity)


class ResNetTSMBackbone(nn.Module):
    def __init__(self, depth=50, base=64, num_segments=8):
        super().__init__()
        self.conv1 = ConvBN(3, base, 7, 2, act="relu")
        blocks = DEPTHS[depth]
        n_round = 2 if blocks[2] >= 23 else 1
        cin = base
        for s, n in enumerate(blocks):
            planes = base * 2 ** s
            layer = []
            for i in range(n):
                stride = (1 if s == 0 else 2) if i == 0 else 1
                down = i == 0 and (stride != 1 or cin != planes * 4)
                layer.append(Bottleneck(cin, planes, stride, down, i % n_round == 0, num_segments))
                cin = planes * 4
            self.add_module("layer%d" % (s + 1), nn.Sequential(*layer))
        self.out_channels = cin

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 3, 2, 1)
        for s in range(4):
            x = getattr(self, "layer%d" % (s + 1))(x)
        return x


def make_divisible(value, divisor=8, min_ratio=0.9):
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < min_ratio * value:
        new += divisor
    return new


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t, num_segments):
        super().__init__()
        self.use_res = stride == 1 and cin == cout
        hid = int(round(cin * t))
        layers = []
        if t != 1:
            layers.append(ConvBN(cin, hid, 1, act="relu6"))
        layers += [ConvBN(hid, hid, 3, stride, groups=hid, act="relu6"), ConvBN(hid, cout, 1)]
        if len(layers) == 3 and self.use_res:
            layers[0] = Shifted(layers[0], num_segments)
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2TSMBackbone(nn.Module):
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, widen_factor=1.0, num_segments=8):
        super().__init__()
        cin = make_divisible(32 * widen_factor)
        self.conv1 = ConvBN(3, cin, 3, 2, act="relu6")
        for li, (t, c, n, s) in enumerate(self.SETTINGS):
            cout = make_divisible(c * widen_factor)
            blocks = []
            for i in range(n):
                blocks.append(InvertedResidual(cin, cout, s if i == 0 else 1, t, num_segments))
                cin = cout
            self.add_module("layer%d" % (li + 1), nn.Sequential(*blocks))
        last = int(1280 * widen_factor) if widen_factor > 1.0 else 1280
        self.conv2 = ConvBN(cin, last, 1, act="relu6")
        self.out_channels = last

    def forward(self, x):
        x = self.conv1(x)
        for li in range(7):
            x = getattr(self, "layer%d" % (li + 1))(x)
        return self.conv2(x)


class Head(nn.Module):
    def __init__(self, cin, num_classes):
        super().__init__()
        self.fc_cls = nn.Linear(cin, num_classes)


class Recognizer(nn.Module):
    """backbone + TSMHead. forward: (V*S, 3, H, W) normalised frames -> (V, classes)
    consensus logits (the mean over each view's S segments of the per-frame fc output)."""

    def __init__(self, backbone, num_classes, num_segments=8):
        super().__init__()
        self.backbone = backbone
        self.cls_head = Head(backbone.out_channels, num_classes)
        self.num_segments = num_segments

    def forward(self, x):
        f = self.backbone(x).mean(dim=(2, 3))
        logits = self.cls_head.fc_cls(f)
        return logits.reshape(-1, self.num_segments, logits.shape[-1]).mean(dim=1)


def resnet_tsm(depth=50, base=64, num_classes=400, num_segments=8):
    return Recognizer(ResNetTSMBackbone(depth, base, num_segments), num_classes, num_segments)


def mobilenetv2_tsm(widen_factor=1.0, num_classes=400, num_segments=8):
    return Recognizer(MobileNetV2TSMBackbone(widen_factor, num_segments), num_classes, num_segments)


def randomize(model, gen):
    """Random weights that keep activations O(1) through a deep net, and random BN stats."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(1.0 / fan_in))
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + 0.5 * torch.rand(c, generator=gen))
                m.bias.copy_(0.1 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
                m.num_batches_tracked.fill_(7)
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(1.0 / m.in_features))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
    return model.eval()


def save_mmaction(model, path, meta_extra=None):
    """torch.save as mmcv/mmengine do: meta (with numpy values), state_dict, optimizer."""
    meta = {
        "mmaction_version": "1.2.0",
        "epoch": 50,
        "iter": np.int64(12345),
        "hook_msgs": {"best_score": np.float64(0.7312), "last_ckpt": "work_dirs/epoch_50.pth"},
        "mean_array": np.array([123.675, 116.28, 103.53]),
        "env_info": "sys.platform: linux\nPython: 3.8",
    }
    meta.update(meta_extra or {})
    sd = collections.OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    torch.save({"meta": meta, "state_dict": sd,
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.01, "momentum": 0.9}]}}, path)


def normalize(frames_u8):
    """(T, H, W, 3) uint8 RGB -> (T, 3, H, W) float32, (x - mean) / std in 0-255 units."""
    x = torch.from_numpy(np.ascontiguousarray(frames_u8)).float().permute(0, 3, 1, 2)
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


def sample_frames(total, clip_len=1, frame_interval=1, num_clips=8, test_mode=True,
                  twice_sample=False, out_of_bound="loop", start_index=0):
    """SampleFrames' test-mode indices (mmaction2 1.x formula, without target_fps)."""
    assert test_mode, "train mode is random"
    assert total > 0, "no frames"
    if clip_len == 1:
        avg = total / float(num_clips)
        base = np.arange(num_clips) * avg
        offsets = base + avg / 2.0
        if twice_sample:
            offsets = np.concatenate([offsets, base])
    else:
        ori = (clip_len - 1) * frame_interval + 1
        max_offset = max(total - ori, 0)
        n = num_clips * 2 if twice_sample else num_clips
        if n > 1:
            if num_clips == 1:
                raise ZeroDivisionError("twice_sample with num_clips=1 divides by zero in mmaction2")
            between = max_offset / float(num_clips - 1)
            offsets = np.round(np.arange(n) * between)
        else:
            offsets = np.array([max_offset // 2])
    inds = offsets[:, None] + np.arange(clip_len)[None, :] * frame_interval
    if out_of_bound == "loop":
        inds = np.mod(inds, total)
    else:
        safe = inds < total
        last = np.max(safe * inds, axis=1)
        inds = safe * inds + ((1 - safe).T * last).T
    return (np.concatenate(inds) + start_index).astype(np.int32).tolist()
