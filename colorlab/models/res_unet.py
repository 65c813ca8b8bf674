"""colorlab's compute-lean colorizer: a residual encoder down to H/16 and a U-Net decoder back to H/4.

Colour is low-frequency, so the net spends its compute on context, not on pixels: the stem halves the
resolution at once, no conv runs at the input's full size, and the prediction (ab or bin logits) is made
at 1/4 of it (upsampled bilinearly, as for Zhang et al.'s net). On Tiny ImageNet's validation split the
ab of the truth itself, area-downsampled to 1/4 and upsampled back, is off by only 0.013 L1 (ab/128),
a sixth of a constant's error.

Layout (``width=32``; ``blocks`` basic residual blocks per stage; conv = 3x3 conv + BatchNorm [+ ReLU]):

    stage    resolution  channels  contents
    stem     H/2         32        conv stride 2
    1        H/2         32        blocks
    2        H/4         64        blocks, the first strided (1x1 strided shortcut)
    3        H/8         128       blocks, the first strided
    4        H/16        256       blocks, the first strided
    up 3     H/8         128       x2 bilinear, 1x1 conv, + stage 3, conv
    up 2     H/4         64        x2 bilinear, 1x1 conv, + stage 2, conv
    head     H/4         out       1x1 conv

About 3.0M parameters and 0.16 GMAC per 64x64 image with 2 outputs, none of it above H/2 (the Stanford
ResNetRegressor: 0.96M parameters, 0.17 GMAC, a third of it at H/2 and H; one training step of a
32-image batch took 0.34 CPU-s against its 0.43, on one thread).

The head starts at zero (``layers.zero_head``, as every catalogue net with a 1x1 head): the first
prediction is grey or uniform over the bins, not noise.

    python -m colorlab fit --config experiments/tinyimagenet_res_unet.yaml --data.root /path/to/tiny-imagenet-200
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from colorlab.errors import ColorlabError
from colorlab.models.layers import check_input, zero_head


def _conv_bn(in_channels: int, out_channels: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(
            in_channels, out_channels, 3, stride=stride, padding=1, bias=False
        ),  # BN's shift is the bias
        nn.BatchNorm2d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """ResNet basic block: ``relu(conv_bn(relu(conv_bn(x))) + shortcut(x))``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: stride of the first conv (2 halves H and W); the shortcut is then a strided 1x1 conv.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            _conv_bn(in_channels, out_channels, stride), _conv_bn(out_channels, out_channels, relu=False)
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.branch(x) + self.shortcut(x))


class _Up(nn.Module):
    """x2 bilinear upsampling, 1x1 conv to the skip's channels, add the skip, one conv_bn."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(in_channels, out_channels, 1)
        self.conv = _conv_bn(out_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(self.reduce(x) + skip)


class ResUNet(nn.Module):
    """Residual encoder (H/2 to H/16) + additive-skip decoder to H/4; raw outputs at 1/4 resolution.

    Args:
        out_channels: output channels: 2 (ab) for regression, Q for classification.
        width: channels of the stem and stage 1; stages 2, 3, 4 use 2x, 4x and 8x this.
        blocks: basic residual blocks per encoder stage.
    """

    stride = 4
    multiple = 16  # four stride-2 steps: stem and the first block of stages 2-4
    supports = ("regression", "classification")

    def __init__(self, out_channels: int, width: int = 32, blocks: int = 2) -> None:
        super().__init__()
        if out_channels < 1 or width < 1 or blocks < 1:
            raise ColorlabError(
                f"out_channels, width and blocks must be >= 1, got {out_channels}, {width}, {blocks}"
            )
        channels = [width, 2 * width, 4 * width, 8 * width]  # stages 1-4 at H/2, H/4, H/8, H/16
        self.stem = _conv_bn(1, width, stride=2)  # (B, w, H/2, W/2)
        self.stages = nn.ModuleList(
            nn.Sequential(
                *(
                    BasicBlock(c_in if i == 0 else c, c, stride=2 if (i == 0 and k > 0) else 1)
                    for i in range(blocks)
                )
            )
            for k, (c_in, c) in enumerate(zip([width, *channels[:-1]], channels))
        )
        self.up = nn.ModuleList([_Up(channels[3], channels[2]), _Up(channels[2], channels[1])])
        self.head = zero_head(channels[1], out_channels)

    def forward(self, x_l: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L/100 in [0, 1], H and W multiples of 16 -> (B, out_channels, H/4, W/4) raw outputs."""
        check_input(x_l, self.multiple)
        x = self.stem(x_l)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)  # (B, w, H/2), (B, 2w, H/4), (B, 4w, H/8), (B, 8w, H/16)
        x = self.up[0](x, features[2])  # (B, 4w, H/8, W/8)
        x = self.up[1](x, features[1])  # (B, 2w, H/4, W/4)
        return self.head(x)
