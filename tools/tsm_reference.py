"""Reference online TSM MobileNetV2 in PyTorch, written from the model's description.

Key layout is the published one (features.N..., classifier.*): features.0 is the
3x3/2 stem, features.1..17 the inverted-residual blocks, features.18 the 1x1 conv
to the last channel count, classifier the linear head. Blocks 2,4,5,7,8,9,11,12,
14,15 (0-based over the 17) shift online: the residual branch sees the block input
with its first C//8 channels replaced by those of the previous frame (zeros at the
first frame); the shortcut adds the unshifted input.

Used by make_fixtures.py and by the bench harness; run with Debian's /usr/bin/python3.
"""
import math

import torch
import torch.nn as nn

SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
           (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
SHIFT_BLOCKS = (2, 4, 5, 7, 8, 9, 11, 12, 14, 15)


def make_divisible(x, by=8):
    return int(math.ceil(x * 1.0 / by) * by)


def conv_bn(inp, oup, k, stride, groups=1, act=True):
    layers = [nn.Conv2d(inp, oup, k, stride, k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(oup)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return layers


class Block(nn.Module):
    def __init__(self, inp, oup, stride, t, shift):
        super().__init__()
        self.use_res = stride == 1 and inp == oup
        self.shift = shift
        hid = inp * t
        if t == 1:
            layers = conv_bn(hid, hid, 3, stride, groups=hid) + conv_bn(hid, oup, 1, 1, act=False)
        else:
            layers = (conv_bn(inp, hid, 1, 1) + conv_bn(hid, hid, 3, stride, groups=hid)
                      + conv_bn(hid, oup, 1, 1, act=False))
        self.conv = nn.Sequential(*layers)

    def forward(self, x, buf):
        if self.shift:
            c = x.size(1) // 8
            out = x + self.conv(torch.cat((buf, x[:, c:]), dim=1))
            return out, x[:, :c]
        y = self.conv(x)
        return (x + y if self.use_res else y), None


class OnlineTSM(nn.Module):
    def __init__(self, num_classes=27, width=1.0, last_channel=1280):
        super().__init__()
        inp = 32
        last = make_divisible(last_channel * width) if width > 1.0 else last_channel
        feats = [nn.Sequential(*conv_bn(3, inp, 3, 2))]
        idx = 0
        for t, c, n, s in SETTING:
            oup = make_divisible(c * width) if t > 1 else c
            for i in range(n):
                feats.append(Block(inp, oup, s if i == 0 else 1, t, idx in SHIFT_BLOCKS))
                inp = oup
                idx += 1
        feats.append(nn.Sequential(*conv_bn(inp, last, 1, 1)))
        self.features = nn.ModuleList(feats)
        self.classifier = nn.Linear(last, num_classes)

    def init_buffers(self, size):
        """Zero shift buffers for an input of size x size."""
        bufs, h = [], size
        x = torch.zeros(1, 3, size, size)
        with torch.no_grad():
            x = self.features[0](x)
            for f in self.features[1:-1]:
                if f.shift:
                    bufs.append(torch.zeros(1, x.size(1) // 8, x.size(2), x.size(3)))
                x, _ = f(x, bufs[-1] if f.shift else None)
        return bufs

    def forward(self, x, bufs):
        """One frame (1,3,H,W) and the shift buffers -> (logits, new buffers)."""
        x = self.features[0](x)
        new, j = [], 0
        for f in self.features[1:-1]:
            if f.shift:
                x, b = f(x, bufs[j])
                new.append(b)
                j += 1
            else:
                x, _ = f(x, None)
        x = self.features[-1](x)
        x = x.mean(3).mean(2)
        return self.classifier(x), new


def randomize(model, gen):
    """Random weights and BN statistics that keep activations in a useful range."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2.0 / fan))
            elif isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=gen)))
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(1.0 / m.in_features))
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
    model.eval()
    return model


def synthetic_frame(t, size):
    """Deterministic test frame t (3,size,size), reproduced bit-for-bit by the Go tests."""
    c = torch.arange(3, dtype=torch.float64).view(3, 1, 1)
    y = torch.arange(size, dtype=torch.float64).view(1, size, 1)
    x = torch.arange(size, dtype=torch.float64).view(1, 1, size)
    v = torch.sin(0.05 * x * (c + 1) + 0.07 * y + 0.9 * t + c) * 1.5 + 0.2 * torch.cos(0.013 * x * y + t)
    return v.float()


def block_forward_clip(block, x, t):
    """Block over a clip: x is (B*T, C, H, W), frames of each clip consecutive.

    The same as stepping the T frames online through Block.forward: a shifting
    block's residual branch sees the first C//8 channels of the previous frame
    (zeros before the first), the shortcut the unshifted input.
    """
    if block.shift:
        c = x.size(1) // 8
        bt, ch, h, w = x.shape
        v = x.view(bt // t, t, ch, h, w)[:, :, :c]
        prev = torch.cat((torch.zeros_like(v[:, :1]), v[:, :-1]), dim=1).reshape(bt, c, h, w)
        return x + block.conv(torch.cat((prev, x[:, c:]), dim=1))
    y = block.conv(x)
    return x + y if block.use_res else y


def forward_clip(model, x):
    """Clips (B, T, 3, H, W) -> per-frame logits (B, T, classes), identical to
    stepping each clip's frames online from zero buffers (uni-directional shift).
    Blocks whose .shift is False (set all to False for the no-shift ablation) run
    frame by frame."""
    b, t = x.shape[:2]
    y = model.features[0](x.reshape(b * t, *x.shape[2:]))
    for f in model.features[1:-1]:
        y = block_forward_clip(f, y, t)
    y = model.features[-1](y)
    y = y.mean(3).mean(2)
    return model.classifier(y).view(b, t, -1)
