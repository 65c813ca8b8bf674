"""Data pipeline: images/s until a training-ready (L, ab) batch exists on the device, colorlab against the
pipeline the seed reports used; and the Kaggle NPY module's memory-mapped throughput and peak memory.

- colorlab: ``TinyImageNetDataModule`` (workers decode, flip and stack uint8) + ``color.batch_to_lab`` and
  ``color.normalize`` on the device, as ``LitColorizer`` runs them.
- seed-style: ``torchvision.datasets.ImageFolder`` + RandomHorizontalFlip + per-image
  ``skimage.color.rgb2lab`` to float32 (L/100, ab/128) tensors in the workers.
Same files (real Tiny ImageNet JPEGs from the folder the ``TINY_IMAGENET`` environment variable names, else
generated 64x64 JPEGs in the same layout), batch size, shuffling and worker count; the device here is the CPU.

Run: .venv/bin/python benchmarks/data_pipeline.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import color as skcolor
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from colorlab import color
from colorlab.data import TinyImageNetDataModule

sys.path.insert(0, str(Path(__file__).parent))
from common import TINY_IMAGENET

BATCH = 64
BATCHES = 40  # timed batches per pipeline and worker count, after one warm-up batch
WORKERS = (0, 1)


class SeedLab:
    """The seed reports' transform: PIL image -> per-image skimage Lab -> float32 (L/100, ab/128) tensors."""

    def __call__(self, image: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
        lab = torch.from_numpy(skcolor.rgb2lab(np.asarray(image)).astype(np.float32)).permute(2, 0, 1)
        return lab[:1] / 100.0, lab[1:] / 128.0


def generated_tiny_imagenet(folder: Path, n: int = 3000) -> Path:
    """Tiny ImageNet's layout with ``n`` generated 64x64 JPEGs (procedural scenes) in 10 classes."""
    from colorlab.data.procedural import ProceduralScenes

    scenes = ProceduralScenes(n, seed=0, size=64)
    for i in range(n):
        path = folder / "train" / f"n{i % 10:08d}" / "images" / f"img_{i}.JPEG"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(scenes[i]["rgb"].permute(1, 2, 0).numpy()).save(path, quality=90)
    (folder / "val" / "images").mkdir(parents=True)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / "val" / "images" / "val_0.JPEG")
    (folder / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn00000000\t0\t0\t63\t63\n")
    return folder


def rate(batches, to_training_ready) -> float:
    """Images/s over ``BATCHES`` batches after one warm-up (worker start-up and page cache outside it)."""
    it = iter(batches)
    to_training_ready(next(it))
    start, n = time.perf_counter(), 0
    for _ in range(BATCHES):
        n += to_training_ready(next(it))
    return n / (time.perf_counter() - start)


def colorlab_rate(root: Path, workers: int) -> float:
    dm = TinyImageNetDataModule(str(root), batch_size=BATCH, num_workers=workers)
    dm.setup("fit")

    def ready(batch: dict) -> int:
        x_l, _ = color.normalize(color.batch_to_lab(batch))
        return x_l.shape[0]

    return rate(dm.train_dataloader(), ready)


def seed_rate(root: Path, workers: int) -> float:
    folder = datasets.ImageFolder(str(root / "train"), transform=transforms.Compose([transforms.RandomHorizontalFlip(), SeedLab()]))
    loader = DataLoader(folder, batch_size=BATCH, shuffle=True, num_workers=workers, persistent_workers=workers > 0)
    return rate(loader, lambda batch: batch[0][0].shape[0])


NPY_PROBE = """
import sys, time, torch
from colorlab.data import KaggleNpyDataModule
torch.set_num_threads(1)
def status(key):
    with open("/proc/self/status") as s:
        return next(int(line.split()[1]) for line in s if line.startswith(key)) / 1024  # MB
dm = KaggleNpyDataModule(sys.argv[1], batch_size=32, num_workers=0, val_fraction=0.05)
dm.setup("fit")
it = iter(dm.train_dataloader())
next(it)
anon = status("RssAnon")
start = time.perf_counter()
n = sum(len(next(it)["lab8"]) for _ in range(int(sys.argv[2])))
print(n / (time.perf_counter() - start), status("VmHWM"), status("RssAnon") - anon, status("RssFile"))
"""


def write_npy_set(folder: Path, n: int, side: int = 224) -> Path:
    """The Kaggle NPY layout with ``n`` random images (OpenCV 8-bit Lab)."""
    rng = np.random.default_rng(0)
    (folder / "l").mkdir(parents=True)
    (folder / "ab" / "ab").mkdir(parents=True)
    l_all = np.lib.format.open_memmap(folder / "l" / "gray_scale.npy", "w+", np.uint8, (n, side, side))
    ab = np.lib.format.open_memmap(folder / "ab" / "ab" / "ab1.npy", "w+", np.uint8, (n, side, side, 2))
    for start in range(0, n, 256):
        stop = min(n, start + 256)
        l_all[start:stop] = rng.integers(0, 256, (stop - start, side, side), dtype=np.uint8)
        ab[start:stop] = rng.integers(100, 156, (stop - start, side, side, 2), dtype=np.uint8)
    l_all.flush(), ab.flush()
    return folder


def npy_figures(tmp: Path) -> dict:
    """Throughput and memory reading the same 8 batches of 32 from a small and a 4x larger set: peak RSS, the
    private (anonymous) memory the reading added, and the file pages mapped (page cache the kernel can drop)."""
    figures = {}
    for n in (500, 2000):
        root = write_npy_set(tmp / f"npy_{n}", n)
        out = subprocess.run([sys.executable, "-c", NPY_PROBE, str(root), "8"], capture_output=True, text=True, check=True)
        images_per_s, peak_mb, anon_mb, file_pages_mb = map(float, out.stdout.split())
        figures[f"images_{n}"] = {"images_per_s": round(images_per_s), "peak_rss_mb": round(peak_mb, 1),
                                  "private_mb_added_by_reading": round(anon_mb, 1),
                                  "file_pages_mapped_mb": round(file_pages_mb, 1),
                                  "files_mb": round(n * 224 * 224 * 3 / 2**20)}
    return figures


def run() -> dict:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core per process: the main process and each worker get one
    try:
        with tempfile.TemporaryDirectory() as tmp:
            real = TINY_IMAGENET.is_dir()
            root = TINY_IMAGENET if real else generated_tiny_imagenet(Path(tmp) / "tiny")
            pipelines = {}
            for workers in WORKERS:
                ours, seed = colorlab_rate(root, workers), seed_rate(root, workers)
                pipelines[f"workers_{workers}"] = {"colorlab_images_per_s": round(ours),
                                                   "seed_images_per_s": round(seed), "speedup": round(ours / seed, 2)}
            npy = npy_figures(Path(tmp))
    finally:
        torch.set_num_threads(threads)
    best = max(p["speedup"] for p in pipelines.values())
    return {
        "data_pipeline_speedup": best,
        "data_pipeline": {
            "data": "Tiny ImageNet train JPEGs (real)" if real else "generated 64x64 JPEGs (Tiny ImageNet absent)",
            "batch": BATCH, "timed_batches": BATCHES, "torch_threads_per_process": 1, **pipelines,
        },
        "npy_memory_mapped": {**npy, "private_memory_growth_mb": round(
            npy["images_2000"]["private_mb_added_by_reading"] - npy["images_500"]["private_mb_added_by_reading"], 1)},
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
