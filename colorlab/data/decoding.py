"""Decoding image files to upright 8-bit RGB PIL images, and the shorter-side resize.

One item's decoding (no colour maths)::

    file -> PIL decode (JPEG: ``draft`` = DCT-domain downscale when the file is >= 2x the target)
         -> EXIF orientation -> RGB (see ``to_rgb``) -> resize shorter side
"""

from __future__ import annotations

import os
import struct

import numpy as np
import torch
from PIL import Image, ImageOps

DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError)
"""What PIL raises for corrupt, truncated, zero-byte, missing or non-image files."""


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit RGB.

    - ``1``, ``L``, ``CMYK``, ``YCbCr``, ``HSV``: PIL's conversion (grey is replicated to 3 channels; CMYK
      JPEGs with Adobe's inverted encoding are un-inverted by PIL's decoder; ICC profiles are ignored).
    - ``P``: through RGBA when the palette has a transparent entry, else straight to RGB.
    - ``RGBA``, ``LA``, ``PA`` and pre-multiplied modes: composited over white. A transparent pixel's
      stored colour is arbitrary (often black), so dropping alpha would paint cut-outs with it; white is
      what a viewer shows and the background of product shots such as the fruit sets.
    - ``I;16*`` and ``I`` (16-bit grey, e.g. 16-bit PNG/TIFF): scaled by 255/65535, not clipped.
      ``F`` (float grey) is taken as [0, 1].
    16-bit RGB files are reduced to 8 bits per channel by PIL on open.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode.startswith("I") or mode == "F":
        grey = np.asarray(image, dtype=np.float64)
        scale = 255.0 if mode == "F" else 255.0 / 65535.0
        return Image.fromarray(np.clip(np.rint(grey * scale), 0, 255).astype(np.uint8)).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
        canvas.alpha_composite(image.convert("RGBA"))
        return canvas.convert("RGB")
    return image.convert("RGB")


def open_rgb(source: str | os.PathLike | object, min_side: int | None = None) -> Image.Image:
    """Decode an image file (path or binary file object) to an upright 8-bit RGB PIL image.

    Args:
        source: path or binary file object.
        min_side: shorter side the caller will resize to. A JPEG at least twice as large in both
            dimensions is decoded at 1/2, 1/4 or 1/8 scale (PIL ``draft``), never below ``min_side``:
            4-16x less decoding work for a 256 px Places image used at 64 px.

    Raises:
        One of ``DECODE_ERRORS`` for a file that is not a readable image.
    """
    with Image.open(source) as image:
        if min_side is not None and image.format == "JPEG":
            image.draft(image.mode, (min_side, min_side))
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        return to_rgb(image)


def resize_shorter(image: Image.Image, side: int, upscale: bool = True) -> Image.Image:
    """Resize (bilinear, antialiased) so the shorter side is ``side`` px, keeping the aspect ratio.

    With ``upscale=False`` an image already smaller than ``side`` is returned as is.
    """
    width, height = image.size
    shorter = min(width, height)
    if shorter == side or (shorter < side and not upscale):
        return image
    scale = side / shorter
    size = (max(side, round(width * scale)), max(side, round(height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR)


def chroma_spread(rgb: np.ndarray) -> float:
    """Mean over pixels of ``max(R, G, B) - min(R, G, B)``, 8-bit units in [0, 255].

    A cheap colourfulness proxy for the near-grayscale filter (not colour maths for the model): 0 for
    any grey image, about 1-3 for a grey photo saved as a colour JPEG, 20+ for ordinary colour photos.

    Args:
        rgb: (H, W, 3) uint8.
    """
    return float((rgb.max(axis=2) - rgb.min(axis=2)).mean())


def batch_chroma_spread(rgb: torch.Tensor) -> torch.Tensor:
    """``chroma_spread`` of every image of a uint8 batch (B, 3, H, W), on the batch's device: (B,) float32."""
    if rgb.dtype != torch.uint8 or rgb.ndim != 4 or rgb.shape[1] != 3:
        raise TypeError(f"rgb must be a uint8 (B, 3, H, W) batch, got {rgb.dtype} {tuple(rgb.shape)}")
    return (rgb.amax(dim=1) - rgb.amin(dim=1)).float().mean(dim=(1, 2))
