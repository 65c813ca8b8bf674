"""The residual colorization CNN of the SRM review ("Residual CNN model"), prediction at 1/4 resolution.

Layer table (SRM review, ``width=64``; channels scale with ``width``; every conv is 3x3):

    block  branch    convs: channels/stride/dilation          shortcut              output
    stem   -         64                                         -                     H
    1      residual  128, 256/2                                 conv 256/2            H/2
    2      residual  256, 256                                   identity              H/2
    3      residual  512/2, 512 d2, 256 d2                      conv 256/2            H/4
    4      residual  512 d2, 512 d2                             conv 512              H/4
    5      plain     256, 512 d2, 512                           -                     H/4
    head   1x1 to out_channels                                                        H/4

About 16.6M parameters with Q = 313 outputs, half the plain Zhang CNN's. The review's table has
conv5's parameter column out of order with its channel column (1179.6k, 2359.2k, 1179.6k for
256, 512, 512 channels); this follows the channels, which give the same total. Its "D = 1" means
dilation 2 (its own padding column says so), as in Zhang's conv5 and conv6.

    python -m colorlab fit --model.net colorlab.models.ResidualCNN --model.net.width 32
"""

from __future__ import annotations

import torch
from torch import nn

from colorlab.errors import ColorlabError
from colorlab.models.layers import check_input, zero_head

ConvSpec = tuple[int, int, int]  # (out channels, stride, dilation) of one 3x3 conv


def _conv(in_channels: int, spec: ConvSpec, bias: bool = True) -> nn.Conv2d:
    out_channels, stride, dilation = spec
    return nn.Conv2d(
        in_channels, out_channels, 3, stride=stride, padding=dilation, dilation=dilation, bias=bias
    )


def _branch(in_channels: int, specs: list[ConvSpec]) -> nn.Sequential:
    """3x3 convs with ReLU between them; the last is followed by BatchNorm only (the review's BN&S)."""
    layers: list[nn.Module] = []
    for i, spec in enumerate(specs):
        if layers:
            layers.append(nn.ReLU(inplace=True))
        last = i == len(specs) - 1
        layers.append(_conv(in_channels, spec, bias=not last))  # BatchNorm's shift replaces the last bias
        in_channels = spec[0]
    layers.append(nn.BatchNorm2d(in_channels))
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    """``relu(branch(x) + shortcut(x))``, the shortcut a BatchNormed 3x3 conv where the shape changes.

    Args:
        in_channels: input channels.
        specs: (out channels, stride, dilation) of each conv of the residual branch.
        shortcut_stride: stride of the shortcut conv (the product of the branch's strides).
    """

    def __init__(self, in_channels: int, specs: list[ConvSpec], shortcut_stride: int = 1) -> None:
        super().__init__()
        self.branch = _branch(in_channels, specs)
        out_channels = specs[-1][0]
        if in_channels == out_channels and shortcut_stride == 1:
            self.shortcut: nn.Module = nn.Identity()
        else:  # the review's "branch1": one conv, since the block changes channels or resolution
            self.shortcut = _branch(in_channels, [(out_channels, shortcut_stride, 1)])
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.branch(x) + self.shortcut(x))


class ResidualCNN(nn.Module):
    """SRM review's residual colorization CNN: Zhang's contract with ResNet-style shortcut connections.

    Same input/output contract as ``ZhangCNN`` (raw outputs at 1/4 resolution) with a shallower stack:
    16 convs instead of 22, dilations 2 in blocks 3-5 for receptive field, shortcuts that let the
    gradient skip the branches, no pooling (downsampling by stride-2 convs in blocks 1 and 3).

    Args:
        out_channels: output channels: 2 (ab) for regression, Q for classification.
        width: channels of the stem conv (the review: 64); blocks use 2x, 4x and 8x this.
    """

    stride = 4
    multiple = 4  # two stride-2 convs
    supports = ("regression", "classification")

    def __init__(self, out_channels: int, width: int = 64) -> None:
        super().__init__()
        if out_channels < 1 or width < 1:
            raise ColorlabError(f"out_channels and width must be >= 1, got {out_channels} and {width}")
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1),  # conv0: (B, w, H, W)
            nn.ReLU(inplace=True),
            ResidualBlock(w, [(2 * w, 1, 1), (4 * w, 2, 1)], shortcut_stride=2),  # (B, 4w, H/2, W/2)
            ResidualBlock(4 * w, [(4 * w, 1, 1), (4 * w, 1, 1)]),
            ResidualBlock(4 * w, [(8 * w, 2, 1), (8 * w, 1, 2), (4 * w, 1, 2)], shortcut_stride=2),  # H/4
            ResidualBlock(4 * w, [(8 * w, 1, 2), (8 * w, 1, 2)]),  # (B, 8w, H/4, W/4)
            _branch(8 * w, [(4 * w, 1, 1), (8 * w, 1, 2), (8 * w, 1, 1)]),  # conv5: no shortcut
            nn.ReLU(inplace=True),
        )
        self.head = zero_head(8 * w, out_channels)  # a fresh net predicts a constant

    def forward(self, x_l: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L/100 in [0, 1], H and W multiples of 4 -> (B, out_channels, H/4, W/4) raw outputs."""
        check_input(x_l, self.multiple)
        return self.head(self.features(x_l))
