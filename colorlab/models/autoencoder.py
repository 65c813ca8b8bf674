"""The convolutional autoencoder of the Padova report (13 convs: 6 encoder, 7 decoder, tanh output).

The report takes it from a Towards Data Science article that follows Emil Wallner's "beta" colorizer
("Colorizing B&W Photos with Neural Networks", 2017); at ``width=64`` the layers are

    encoder  64/2  128  128/2  256  256/2  512                      (B, 512, H/8, W/8)
    decoder  512  256  128  up  64  up  32  up  16  out_channels    (B, out, H, W)

(``/2``: stride 2; ``up``: x2 nearest-neighbour upsampling), about 6.2M parameters with 2 outputs, the
report's "~6M". Wallner upsamples the tanh output itself, which paints 2x2 blocks; here the last
upsampling comes before the last two convs, so every output pixel has its own prediction (same
parameter count).

    python -m colorlab fit --model.net colorlab.models.Autoencoder --model.net.width 26
"""

from __future__ import annotations

import torch
from torch import nn

from colorlab.errors import ColorlabError
from colorlab.models.layers import ConvBlock, check_input, strided_encoder


class Autoencoder(nn.Module):
    """Padova report's autoencoder: 6 conv encoder to H/8, 7 conv decoder back to H, optional tanh.

    Every conv is 3x3 + ReLU (no normalisation, as in the original), except the output conv, which ends
    in tanh when ``tanh`` is set: regression targets ab/128 lie in about [-1, 1].

    Sizes with ``out_channels=2``: ``width=64`` (default) 6.2M, the report's ~6M net; ``width=26`` 1.03M,
    the size of the report's first, smaller autoencoder (~1M).

    Args:
        out_channels: output channels: 2 (ab) for regression, Q for classification (needs ``tanh=False``).
        width: channels of the first conv; the others are multiples (1/4x to 8x) of it; at least 4.
        tanh: squash the outputs into (-1, 1) for ab/128 regression; turn off for classification logits.
    """

    stride = 1
    multiple = 8  # three stride-2 convs

    def __init__(self, out_channels: int, width: int = 64, tanh: bool = True) -> None:
        super().__init__()
        if out_channels < 1 or width < 4:
            raise ColorlabError(f"out_channels must be >= 1 and width >= 4, got {out_channels} and {width}")
        self.supports = ("regression",) if tanh else ("regression", "classification")
        w = width
        self.encoder = nn.Sequential(
            *strided_encoder(w),  # (B, 8w, H/8, W/8)
        )
        self.decoder = nn.Sequential(
            ConvBlock(8 * w, 8 * w, depth=1, norm=False),
            ConvBlock(8 * w, 4 * w, depth=1, norm=False),
            ConvBlock(4 * w, 2 * w, depth=1, norm=False),
            nn.Upsample(scale_factor=2, mode="nearest"),  # (B, 2w, H/4, W/4)
            ConvBlock(2 * w, w, depth=1, norm=False),
            nn.Upsample(scale_factor=2, mode="nearest"),  # (B, w, H/2, W/2)
            ConvBlock(w, w // 2, depth=1, norm=False),
            nn.Upsample(scale_factor=2, mode="nearest"),  # (B, w/2, H, W)
            ConvBlock(w // 2, w // 4, depth=1, norm=False),
            nn.Conv2d(w // 4, out_channels, kernel_size=3, padding=1),
        )
        self.out = nn.Tanh() if tanh else nn.Identity()

    def forward(self, x_l: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L/100 in [0, 1], H and W multiples of 8 -> (B, out_channels, H, W)."""
        check_input(x_l, self.multiple)
        return self.out(self.decoder(self.encoder(x_l)))
