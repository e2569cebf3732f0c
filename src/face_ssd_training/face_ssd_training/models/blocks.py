"""Building blocks shared by every backbone and head (all stride-2 convs are 3x3 with padding 1,
so a feature map of an input of size S at stride s has size ceil(S / s))."""
import torch
from torch import nn


def conv_bn(cin, cout, stride=1, kernel=3, relu=True):
    """Conv(kernel, stride, 'same' padding) + BatchNorm (+ ReLU). [B, cin, H, W] -> [B, cout, H/s, W/s]."""
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def conv_dw(cin, cout, stride=1):
    """MobileNet-V1 depthwise-separable block: dw3x3+BN+ReLU, pw1x1+BN+ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
        nn.Conv2d(cin, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def separable_conv(cin, cout, kernel=3, stride=1, relu6=False):
    """SSD-Lite head / extra conv: dw conv (+ReLU) then pointwise conv with bias (linear output)."""
    act = nn.ReLU6(inplace=True) if relu6 else nn.ReLU(inplace=True)
    return nn.Sequential(
        nn.Conv2d(cin, cin, kernel, stride, kernel // 2, groups=cin),
        act,
        nn.Conv2d(cin, cout, 1))


class ResidualDW(nn.Module):
    """Residual depthwise-separable block that starts as the identity: ``x + BN(pw(ReLU(BN(dw(x)))))``,
    the last BatchNorm's scale set to 0, so adding it to a trained network changes nothing until it learns
    (the way to grow a trained model's capacity). [B, c, H, W] -> [B, c, H, W]."""

    def __init__(self, channels):
        super(ResidualDW, self).__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, groups=channels, bias=False), nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True), nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels))
        nn.init.zeros_(self.conv[-1].weight)

    def forward(self, x):
        return torch.relu(x + self.conv(x))


class InvertedResidual(nn.Module):
    """MobileNet-V2 block: 1x1 expand (ReLU6), 3x3 dw (ReLU6), 1x1 linear project; residual when shapes match."""

    def __init__(self, cin, cout, stride, expand_ratio):
        super(InvertedResidual, self).__init__()
        hidden = int(round(cin * expand_ratio))
        self.use_res = stride == 1 and cin == cout
        layers = []
        if expand_ratio != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
                   nn.ReLU6(inplace=True),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class ReceptiveFieldBlock(nn.Module):
    """RFB-style block: parallel branches with growing kernels and dilations, concatenated,
    fused by a 1x1 conv and added to a (projected) shortcut.

    Branch k reduces channels with a 1x1 conv, widens its receptive field with a 3x3 (or 1x3/3x1)
    conv, then samples with a 3x3 conv of dilation ``dilations[k]``. [B, cin, H, W] -> [B, cout, H/s, W/s].
    """

    def __init__(self, cin, cout, stride=1, dilations=(1, 2, 3), reduction=8, scale=1.0):
        super(ReceptiveFieldBlock, self).__init__()
        mid = max(cin // reduction, 8)
        self.scale = scale
        branches = []
        for k, d in enumerate(dilations):
            # 1x1 reduce, k+1 3x3 convs (the last one strided), then a dilated 3x3 sampler
            layers = [conv_bn(cin, mid, 1, kernel=1, relu=False)]
            c = mid
            for j in range(k + 1):
                layers.append(conv_bn(c, 2 * mid, stride if j == k else 1, kernel=3))
                c = 2 * mid
            layers.append(nn.Sequential(nn.Conv2d(c, 2 * mid, 3, 1, d, dilation=d, bias=False),
                                        nn.BatchNorm2d(2 * mid)))
            branches.append(nn.Sequential(*layers))
        self.branches = nn.ModuleList(branches)
        self.fuse = conv_bn(2 * mid * len(dilations), cout, 1, kernel=1, relu=False)
        self.shortcut = conv_bn(cin, cout, stride, kernel=1, relu=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.fuse(torch.cat([b(x) for b in self.branches], dim=1))
        return self.relu(y * self.scale + self.shortcut(x))
