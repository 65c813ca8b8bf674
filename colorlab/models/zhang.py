"""The plain CNN of Zhang, Isola and Efros, "Colorful Image Colorization" (ECCV 2016), and its reduced
variants from the Olin project and the Padova report.

Layer table (SRM review, ``width=64``; channels scale with ``width``):

    block  convs  channels  stride  dilation  output
    1      2      64        2 (last)  1       H/2
    2      2      128       2 (last)  1       H/4
    3      3      256       2 (last)  1       H/8
    4      3      512       1         1       H/8
    5      3      512       1         2       H/8
    6      3      512       1         2       H/8
    7      3      512       1         1       H/8
    8      3      256       1/2 (transposed 4x4, first)  1   H/4
    head   1x1    out_channels                              H/4

22 convs and 32.2M parameters with Q = 313 outputs. No pooling; BatchNorm after blocks 1-7.

    python -m colorlab fit --model.net colorlab.models.ZhangCNN --model.net.width 16
"""

from __future__ import annotations

import torch
from torch import nn

from colorlab.errors import ColorlabError
from colorlab.models.layers import ConvBlock, Upsample2x, check_input, zero_head


class ZhangCNN(nn.Module):
    """Zhang et al. (2016) plain colorization CNN; prediction at 1/4 of the input resolution.

    Blocks 1-3 end with a stride-2 conv (H/8), ``blocks - 4`` "middle" blocks of ``8 * width`` channels
    run at H/8 (Zhang's conv4-conv7; those strictly inside the run are dilated by 2, like conv5 and
    conv6), and the last block upsamples x2 with a learned 4x4 transposed conv before its 3x3 convs.
    A 1x1 conv maps its ``4 * width`` channels to ``out_channels``.

    Published settings (parameter counts with the head they were used with):

    - Zhang et al. (2016): defaults, ``out_channels=313``: 32.2M (the SRM review's table).
    - Olin project, regression: ``out_channels=2, width=16`` (2.0M) or ``width=32`` (8.0M).
    - Padova report, fruit net (~1M): ``out_channels=2, width=24, blocks=5, depth=2`` (1.04M): the
      inside (dilated) blocks removed and one conv dropped from each 3-conv block.
    - Padova report, animals net (~3.5M): ``out_channels=2, width=24, blocks=7, depth=3`` (3.53M): the
      removed layers put back, one dilated block fewer than Zhang.

    The Padova report's Figure 1 (its exact layer list) is not in its text; these arguments reproduce its
    description ("removed a few layers inside" Zhang's net) and its parameter counts.

    Args:
        out_channels: output channels: 2 (ab) for regression, Q for classification.
        width: channels of block 1 (Zhang: 64); later blocks use 2x, 4x and 8x this.
        blocks: conv blocks in all, at least 5; 8 is Zhang's net, fewer removes middle blocks.
        depth: 3x3 convs in blocks 3 to 8 (Zhang: 3; block 8 counts its transposed conv).
    """

    stride = 4
    multiple = 8  # three stride-2 convs
    supports = ("regression", "classification")

    def __init__(self, out_channels: int, width: int = 64, blocks: int = 8, depth: int = 3) -> None:
        super().__init__()
        if out_channels < 1 or width < 1:
            raise ColorlabError(f"out_channels and width must be >= 1, got {out_channels} and {width}")
        if blocks < 5:
            raise ColorlabError(f"blocks must be >= 5 (3 down, >= 1 middle, 1 up), got {blocks}")
        if depth < 1:
            raise ColorlabError(f"depth must be >= 1, got {depth}")
        middle = blocks - 4
        layers: list[nn.Module] = [
            ConvBlock(1, width, depth=2, stride=2),  # (B, w, H/2, W/2)
            ConvBlock(width, 2 * width, depth=2, stride=2),  # (B, 2w, H/4, W/4)
            ConvBlock(2 * width, 4 * width, depth=depth, stride=2),  # (B, 4w, H/8, W/8)
        ]
        for i in range(middle):  # (B, 8w, H/8, W/8)
            dilation = 2 if 0 < i < middle - 1 else 1
            layers.append(ConvBlock(4 * width if i == 0 else 8 * width, 8 * width, depth, dilation=dilation))
        layers.append(Upsample2x(8 * width, 4 * width))  # (B, 4w, H/4, W/4)
        if depth > 1:  # Zhang has no BatchNorm after block 8: the 1x1 head reads it directly
            layers.append(ConvBlock(4 * width, 4 * width, depth - 1, norm=False))
        self.features = nn.Sequential(*layers)
        self.head = zero_head(4 * width, out_channels)  # a fresh net predicts a constant

    def forward(self, x_l: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L/100 in [0, 1], H and W multiples of 8 -> (B, out_channels, H/4, W/4) raw outputs."""
        check_input(x_l, self.multiple)
        return self.head(self.features(x_l))
