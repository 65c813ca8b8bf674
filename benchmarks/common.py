"""What the benchmark scripts share: best-of-n timing, the machine description, sample data.

Every ratio is measured in one process run, both sides on the same machine at the same time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from colorlab.machine import cpu_model

REPO = Path(__file__).resolve().parents[1]
# real JPEGs for the data benchmarks: a tiny-imagenet-200 folder (else generated images in the same layout)
TINY_IMAGENET = Path(os.environ.get("TINY_IMAGENET", REPO.parent / "shared" / "data" / "tiny-imagenet-200"))


def best_time(fn: Callable[[], object], repeats: int = 5) -> float:
    """Seconds of the fastest of ``repeats`` calls: on a shared machine the fastest is the least disturbed."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def machine() -> dict:
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model(),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "load_average_1min": round(os.getloadavg()[0], 2),  # other work on the machine while it ran
    }


def sample_images(n: int = 8) -> torch.Tensor:
    """(n, 3, 64, 64) uint8 real photos: Tiny ImageNet when present, else procedural scenes."""
    if TINY_IMAGENET.is_dir():
        from PIL import Image

        files = sorted(TINY_IMAGENET.glob("train/*/images/*.JPEG"))
        files = files[:: max(1, len(files) // n)][:n]  # spread over the classes
        arrays = [np.array(Image.open(f).convert("RGB")) for f in files]
        return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    from colorlab.data.procedural import ProceduralScenes

    scenes = ProceduralScenes(n, seed=0, size=64)
    return torch.stack([scenes[i]["rgb"] for i in range(n)])
