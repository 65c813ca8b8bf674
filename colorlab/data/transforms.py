"""The uint8 transforms: resize the shorter side, crop a square, flip; and the per-item generator that makes
augmentation a pure function of ``(seed, epoch, index)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image

from colorlab.data.decoding import resize_shorter
from colorlab.errors import ColorlabError

Crop = Literal["center", "random"]


@dataclass(frozen=True)
class Transform:
    """Resize shorter side, crop a square, optionally flip; on uint8 arrays.

    Args:
        size: side of the output square, px.
        resize: shorter side before cropping, px (>= size); None = ``size``.
        crop: "center", or "random" (offsets drawn from the item's generator).
        hflip: flip horizontally with p = 0.5 (drawn from the item's generator).
    """

    size: int
    resize: int | None = None
    crop: Crop = "center"
    hflip: bool = False

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ColorlabError(f"image_size must be >= 1, got {self.size}")
        if self.resize is not None and self.resize < self.size:
            raise ColorlabError(f"resize must be >= image_size ({self.size}), got {self.resize}")
        if self.crop not in ("center", "random"):
            raise ColorlabError(f"crop must be 'center' or 'random', got {self.crop!r}")

    @property
    def shorter_side(self) -> int:
        return self.size if self.resize is None else self.resize

    def crop_flip(self, array: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """(H, W, 3) uint8 with min(H, W) >= size -> (3, size, size) uint8 tensor."""
        height, width = array.shape[:2]
        s = self.size
        if self.crop == "random":
            top, left = int(rng.integers(height - s + 1)), int(rng.integers(width - s + 1))
        else:
            top, left = (height - s) // 2, (width - s) // 2
        array = array[top : top + s, left : left + s]
        if self.hflip and rng.random() < 0.5:
            array = array[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))  # (3, S, S)

    def __call__(self, image: Image.Image, rng: np.random.Generator) -> torch.Tensor:
        """PIL image (any size) -> (3, size, size) uint8 tensor."""
        return self.crop_flip(np.asarray(resize_shorter(image, self.shorter_side)), rng)


def item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator behind an item's augmentation and replacement draws."""
    return np.random.default_rng((seed, epoch, index))
