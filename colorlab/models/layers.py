"""Blocks shared by several networks in the catalogue."""

from __future__ import annotations

import torch
from torch import nn

from colorlab.errors import ColorlabError


def check_input(x_l: torch.Tensor, multiple: int) -> None:
    """Raise ValueError, naming what came, unless x_l is (B, 1, H, W) with H, W multiples of ``multiple``."""
    if not isinstance(x_l, torch.Tensor):
        raise TypeError(f"x_l must be a torch.Tensor, got {type(x_l).__name__}")
    if x_l.ndim != 4 or x_l.shape[1] != 1:
        raise ColorlabError(f"x_l must have shape (B, 1, H, W), got {tuple(x_l.shape)}")
    h, w = x_l.shape[-2:]
    if h % multiple or w % multiple:
        raise ColorlabError(f"x_l's H and W must be multiples of {multiple}, got {h}x{w}")


class ConvBlock(nn.Sequential):
    """One conv group in the style of Zhang et al. (2016): ``depth`` 3x3 conv + ReLU, then BatchNorm.

    Zhang's network has no pooling: a block that downsamples does it with ``stride`` on its last conv.
    Padding equals the dilation, so a stride-1 block keeps H and W.

    Args:
        in_channels: input channels.
        out_channels: channels of every conv in the block.
        depth: number of 3x3 convs.
        dilation: dilation of every conv.
        stride: stride of the last conv (2 halves H and W).
        norm: end with BatchNorm (Zhang normalises between groups, not inside them).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        depth: int = 2,
        dilation: int = 1,
        stride: int = 1,
        norm: bool = True,
    ) -> None:
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [
                nn.Conv2d(
                    in_channels if i == 0 else out_channels,
                    out_channels,
                    kernel_size=3,
                    stride=stride if i == depth - 1 else 1,
                    padding=dilation,
                    dilation=dilation,
                ),
                nn.ReLU(inplace=True),
            ]
        if norm:
            layers.append(nn.BatchNorm2d(out_channels))
        super().__init__(*layers)


class Upsample2x(nn.Sequential):
    """Learned x2 upsampling: 4x4 transposed conv, stride 2, then ReLU (Zhang et al. 2016, conv8_1).

    Args:
        in_channels: input channels.
        out_channels: output channels.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1),
            nn.ReLU(inplace=True),
        )


def zero_head(in_channels: int, out_channels: int) -> nn.Conv2d:
    """The 1x1 output conv of a net, weights and bias at 0: a fresh net predicts a constant, grey ab
    (regression) or uniform bins (classification), not noise.

    Behind a BatchNorm, PyTorch's default init puts out ab/128 with a standard deviation of 0.36-0.57
    (ResUNet, UNet, ResNetRegressor on Tiny ImageNet) where the targets' is 0.12: ab L1 0.26-0.46 against
    grey's 0.084, and the first steps of a short budget go to unlearning it (docs/results.md).
    The layers before the head get their gradient from the second step on.
    """
    head = nn.Conv2d(in_channels, out_channels, kernel_size=1)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    return head


def strided_encoder(width: int) -> list[nn.Module]:
    """The 6-conv encoder shared by the Padova autoencoder and the Deep-Koalarization fusion net:
    (B, 1, H, W) -> (B, 8 * width, H/8, W/8), three stride-2 convs, ReLU, no normalisation."""
    w = width
    return [
        ConvBlock(1, w, depth=1, stride=2, norm=False),  # (B, w, H/2, W/2)
        ConvBlock(w, 2 * w, depth=1, norm=False),
        ConvBlock(2 * w, 2 * w, depth=1, stride=2, norm=False),  # (B, 2w, H/4, W/4)
        ConvBlock(2 * w, 4 * w, depth=1, norm=False),
        ConvBlock(4 * w, 4 * w, depth=1, stride=2, norm=False),  # (B, 4w, H/8, W/8)
        ConvBlock(4 * w, 8 * w, depth=1, norm=False),
    ]
