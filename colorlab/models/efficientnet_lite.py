"""EfficientNet-Lite0 to Lite4 feature encoders in plain PyTorch: the modules, tensor names, initialisation scheme
and outputs of ``timm.create_model("tf_efficientnet_liteN", features_only=True)``.

colorlab builds its Lite encoders here (``colorlab.pretrained.create_model``), so that running a zoo model never
imports timm, which imports torchvision: on one CPU core that is 2.5-3 s of start-up, more than half of
``colorize``'s 5-second budget for a photo. timm stays the reference: ImageNet weights are mapped onto its
key layout (the same as this one's), every other encoder is timm's, and ``tests/test_efficientnet_lite.py``
checks names, shapes, initialisation and outputs against timm's build.

Layout (Lite0; Lite1-4 scale the channels and the middle stages' depth as TensorFlow's reference does):

    conv_stem 3x3/2 (32) -> bn1 -> blocks.0 depthwise-separable (16, 1/2)
    blocks.1-6 inverted residuals: 24 (1/4), 40 (1/8), 80 (1/16), 112 (1/16), 192 (1/32), 320 (1/32)
    features: the outputs of blocks.0, 1, 2, 4 and 6 (1/2, 1/4, 1/8, 1/16, 1/32)

ReLU6 activations, BatchNorm with TensorFlow's epsilon 1e-3, TensorFlow's "SAME" padding for strided convs.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# name -> (channel multiplier, depth multiplier)
VARIANTS = {
    f"tf_efficientnet_lite{i}": multipliers
    for i, multipliers in enumerate([(1.0, 1.0), (1.0, 1.1), (1.1, 1.2), (1.2, 1.4), (1.4, 1.8)])
}
# the seven stages: (block, repeats, kernel, stride, expansion, channels)
STAGES = (
    ("ds", 1, 3, 1, 1, 16),
    ("ir", 2, 3, 2, 6, 24),
    ("ir", 2, 5, 2, 6, 40),
    ("ir", 3, 3, 2, 6, 80),
    ("ir", 3, 5, 1, 6, 112),
    ("ir", 4, 5, 2, 6, 192),
    ("ir", 1, 3, 1, 6, 320),
)
FEATURE_STAGES = (0, 1, 2, 4, 6)  # the stages whose outputs are the features
STEM_CHANNELS = 32
BN_EPS = 1e-3  # TensorFlow's default, as in the weights' training
INPUT_MEAN = INPUT_STD = (0.5, 0.5, 0.5)  # the ImageNet inputs were scaled to [-1, 1]


def make_divisible(value: float, divisor: int = 8) -> int:
    """The nearest multiple of ``divisor`` (at least ``divisor``), one step up if that loses over 10 %."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class Conv2dSame(nn.Conv2d):
    """A strided convolution with TensorFlow's "SAME" padding: the output is ceil(input / stride), the odd
    padding pixel goes right and bottom."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if min(k - s for k, s in zip(self.kernel_size, self.stride)) < 0:
            raise ValueError(f"Conv2dSame needs kernel >= stride, got {self.kernel_size} and {self.stride}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, kernel, stride in zip(x.shape[:-3:-1], self.kernel_size[::-1], self.stride[::-1]):  # W, then H
            pad = kernel - stride + (-size) % stride  # (ceil(size / stride) - 1) * stride + kernel - size
            pads += [pad // 2, pad - pad // 2]
        return super().forward(F.pad(x, pads))


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    if stride == 1:  # "SAME" is symmetric for odd kernels at stride 1
        return nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, groups=groups, bias=False)
    return Conv2dSame(in_channels, out_channels, kernel, stride, groups=groups, bias=False)


class BatchNormAct2d(nn.BatchNorm2d):
    """BatchNorm followed by ReLU6 (or nothing), one module as in timm, so that the tensor names match."""

    def __init__(self, channels: int, act: bool = True) -> None:
        super().__init__(channels, eps=BN_EPS)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(super().forward(x))


class DepthwiseSeparable(nn.Module):
    """Depthwise k x k conv, BN + ReLU6, pointwise 1x1 conv, BN; a residual when the shape is kept."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.conv_dw = _conv(in_channels, in_channels, kernel, stride, groups=in_channels)
        self.bn1 = BatchNormAct2d(in_channels)
        self.conv_pw = _conv(in_channels, out_channels, 1)
        self.bn2 = BatchNormAct2d(out_channels, act=False)
        self.has_skip = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv_pw(self.bn1(self.conv_dw(x))))
        return x + y if self.has_skip else y


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expansion, BN + ReLU6, depthwise k x k, BN + ReLU6, 1x1 projection, BN; a
    residual when the shape is kept."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        mid = make_divisible(in_channels * expansion)
        self.conv_pw = _conv(in_channels, mid, 1)
        self.bn1 = BatchNormAct2d(mid)
        self.conv_dw = _conv(mid, mid, kernel, stride, groups=mid)
        self.bn2 = BatchNormAct2d(mid)
        self.conv_pwl = _conv(mid, out_channels, 1)
        self.bn3 = BatchNormAct2d(out_channels, act=False)
        self.has_skip = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn3(self.conv_pwl(self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))))
        return x + y if self.has_skip else y


class FeatureInfo:
    """What colorlab reads of timm's ``feature_info``: per feature, its channels, reduction and module name."""

    def __init__(self, features: list[dict[str, int | str]]) -> None:
        self.features = features

    def channels(self) -> list[int]:
        return [int(f["num_chs"]) for f in self.features]

    def reduction(self) -> list[int]:
        return [int(f["reduction"]) for f in self.features]

    def module_name(self) -> list[str]:
        return [str(f["module"]) for f in self.features]


class EfficientNetLiteFeatures(nn.Module):
    """EfficientNet-Lite ``name`` as a feature encoder: (B, 3, H, W) -> its five feature maps at 1/2 to 1/32.

    Args:
        name: "tf_efficientnet_lite0" to "tf_efficientnet_lite4" (timm's names).

    Attributes:
        feature_info: channels, reductions and module names of the features (as timm's).
        pretrained_cfg: the mean and std of its ImageNet inputs (as timm's pretrained config).
    """

    def __init__(self, name: str = "tf_efficientnet_lite0") -> None:
        super().__init__()
        if name not in VARIANTS:
            raise ValueError(f"unknown EfficientNet-Lite {name!r}; one of {', '.join(VARIANTS)}")
        width, depth = VARIANTS[name]
        self.conv_stem = _conv(3, STEM_CHANNELS, 3, stride=2)
        self.bn1 = BatchNormAct2d(STEM_CHANNELS)
        stages, features, channels, reduction = [], [], STEM_CHANNELS, 2
        for i, (block, repeats, kernel, stride, expansion, out) in enumerate(STAGES):
            if 0 < i < len(STAGES) - 1:  # the first and last stages keep their depth
                repeats = math.ceil(repeats * depth)
            out = make_divisible(out * width)
            blocks = []
            for j in range(repeats):
                step = stride if j == 0 else 1
                blocks.append(DepthwiseSeparable(channels, out, kernel, step) if block == "ds"
                              else InvertedResidual(channels, out, kernel, step, expansion))  # fmt: skip
                channels = out
            stages.append(nn.Sequential(*blocks))
            reduction *= stride
            if i in FEATURE_STAGES:
                features.append({"module": f"blocks.{i}", "num_chs": out, "reduction": reduction})
        self.blocks = nn.Sequential(*stages)
        self.feature_info = FeatureInfo(features)
        self.pretrained_cfg = {"architecture": name, "mean": INPUT_MEAN, "std": INPUT_STD}
        for module in self.modules():  # TensorFlow's initialisation, as timm's efficientnet_init_weights
            if isinstance(module, nn.Conv2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
                nn.init.normal_(module.weight, 0, math.sqrt(2.0 / fan_out))
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.bn1(self.conv_stem(x))
        features = []
        for i, stage in enumerate(self.blocks):
            x = stage(x)
            if i in FEATURE_STAGES:
                features.append(x)
        return features
