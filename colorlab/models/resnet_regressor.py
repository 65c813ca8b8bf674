"""The Stanford report's regression baseline: a ResNet-18 encoder and a 5-block upsampling decoder.

"The encoder portion of our model is the first 5 layers of Resnet-18, and the decoder portion comprises
of 5 convolutional blocks." Read here as ResNet-18's stem and first two stages (conv1 + BN + ReLU,
maxpool, layer1, layer2: the module's first six children, 0.68M parameters, 128 channels at H/8), the
"midlevel" encoder of L. Melas-Kyriazi's widely copied PyTorch colorization tutorial on Places, whose
5-conv decoder the report's also matches. The first five children alone (up to layer1, H/4) leave
little context, and a deeper cut needs more than 5 decoder blocks to get back to full resolution.

    python -m colorlab fit --model.net colorlab.models.ResNetRegressor --model.net.pretrained true
"""

from __future__ import annotations

import timm
import torch
from torch import nn

from colorlab.errors import ColorlabError
from colorlab.models.layers import ConvBlock, check_input, zero_head


class ResNetRegressor(nn.Module):
    """ResNet-18 (conv1..layer2, timm) encoder + 5 conv blocks with 3 x2 upsamplings + 1x1 head.

    The encoder is ``timm.create_model("resnet18", in_chans=1, features_only=True, out_indices=(2,))``:
    with ``pretrained`` timm downloads ImageNet weights and folds conv1's RGB filters into one L channel,
    so x_l is shifted and scaled by the mean of timm's per-channel normalisation first.
    Decoder (``width=128``): conv 128 at H/8, up, conv 64, conv 64 at H/4, up, conv 32 at H/2, up,
    conv 32 at H; each 3x3 + ReLU + BatchNorm, upsampling nearest-neighbour.
    About 0.96M parameters with 2 outputs (the report gives no count).

    Args:
        out_channels: output channels: 2 (ab) for regression, Q for classification.
        pretrained: start the encoder from timm's ImageNet weights (downloaded on first use).
        width: channels of the first decoder block; the others use 1/2 and 1/4 of it.
    """

    stride = 1
    multiple = 8  # conv1, maxpool and layer2 each halve H and W
    supports = ("regression", "classification")

    def __init__(self, out_channels: int, pretrained: bool = False, width: int = 128) -> None:
        super().__init__()
        if out_channels < 1 or width < 4:
            raise ColorlabError(f"out_channels must be >= 1 and width >= 4, got {out_channels} and {width}")
        # zero_init_last=False: torchvision's default (the report's likely ResNet-18); timm's zero BatchNorm
        # scales behind a zero head (layers.zero_head) would leave the encoder without gradient for two steps
        self.encoder = timm.create_model(
            "resnet18", pretrained=pretrained, in_chans=1, features_only=True, out_indices=(2,), zero_init_last=False
        )
        cfg = self.encoder.pretrained_cfg
        self.register_buffer("mean", torch.tensor(sum(cfg["mean"]) / 3), persistent=False)
        self.register_buffer("std", torch.tensor(sum(cfg["std"]) / 3), persistent=False)
        enc_channels = self.encoder.feature_info.channels()[-1]
        self.decoder = nn.Sequential(
            ConvBlock(enc_channels, width, depth=1),  # (B, w, H/8, W/8)
            nn.Upsample(scale_factor=2, mode="nearest"),
            ConvBlock(width, width // 2, depth=1),  # (B, w/2, H/4, W/4)
            ConvBlock(width // 2, width // 2, depth=1),
            nn.Upsample(scale_factor=2, mode="nearest"),
            ConvBlock(width // 2, width // 4, depth=1),  # (B, w/4, H/2, W/2)
            nn.Upsample(scale_factor=2, mode="nearest"),
            ConvBlock(width // 4, width // 4, depth=1),  # (B, w/4, H, W)
        )
        self.head = zero_head(width // 4, out_channels)  # a fresh net predicts a constant

    def forward(self, x_l: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L/100 in [0, 1], H and W multiples of 8 -> (B, out_channels, H, W) raw outputs."""
        check_input(x_l, self.multiple)
        (features,) = self.encoder((x_l - self.mean) / self.std)  # (B, 128, H/8, W/8)
        return self.head(self.decoder(features))
