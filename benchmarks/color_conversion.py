"""Colour conversion: colorlab's batched device-side conversion of a uint8 batch (``color.batch_to_lab``)
against per-image ``skimage.color.rgb2lab`` (what the seed reports ran in their workers), on the same
images: speed and the largest difference in Lab units.

Run: .venv/bin/python benchmarks/color_conversion.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from skimage import color as skcolor

from colorlab import color

sys.path.insert(0, str(Path(__file__).parent))
from common import best_time, sample_images

BATCH = 64


def run() -> dict:
    rgb8 = sample_images(BATCH)  # (64, 3, 64, 64) uint8 real photos
    arrays = [image.permute(1, 2, 0).numpy() for image in rgb8]
    reference = np.stack([skcolor.rgb2lab(a) for a in arrays])  # (B, H, W, 3) float64
    ours = color.batch_to_lab({"rgb": rgb8}).permute(0, 2, 3, 1).double().numpy()
    t_ours = best_time(lambda: color.batch_to_lab({"rgb": rgb8}))
    t_skimage = best_time(lambda: [skcolor.rgb2lab(a).astype(np.float32) for a in arrays], repeats=3)
    error = np.abs(ours - reference)
    return {
        "lab_max_error": float(f"{error.max():.2e}"),
        "color_conversion": {
            "images": BATCH, "image_size": 64,
            "colorlab_ms": round(t_ours * 1e3, 2), "skimage_per_image_ms": round(t_skimage * 1e3, 2),
            "speedup": round(t_skimage / t_ours, 2),
            "max_error_L": float(f"{error[..., 0].max():.2e}"), "max_error_ab": float(f"{error[..., 1:].max():.2e}"),
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
