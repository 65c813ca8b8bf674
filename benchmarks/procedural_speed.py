"""Procedural-scenes throughput: 64x64 images/s through the DataLoader path (num_workers=0, batch 64) on
one core, the way ``ScenesDataModule`` feeds training.

Run: .venv/bin/python benchmarks/procedural_speed.py
"""

from __future__ import annotations

import json
import time

import torch
from torch.utils.data import DataLoader

from colorlab.data.procedural import ProceduralScenes

IMAGE_SIZE = 64
BATCH_SIZE = 64
N_IMAGES = 16384  # 256 batches, about 2-5 s
REPEATS = 3  # report the best pass: on a shared machine the best is the least disturbed


def images_per_second(loader: DataLoader) -> tuple[float, float]:
    """(images per wall-clock second, images per CPU second of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    n = sum(len(batch["rgb"]) for batch in loader)
    return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)


def run() -> dict:
    dataset = ProceduralScenes(N_IMAGES, seed=0, size=IMAGE_SIZE)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, num_workers=0)
    next(iter(loader))  # build the texture tiles outside the timing
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core; restored after, as benchmarks/run.py runs scripts in one process
    try:
        rates = [images_per_second(loader) for _ in range(REPEATS)]
    finally:
        torch.set_num_threads(threads)
    return {"procedural_scenes": {
        "images_per_s": round(max(wall for wall, _ in rates)),
        "images_per_cpu_s": round(max(cpu for _, cpu in rates)),  # what one dedicated core would do
        "passes_images_per_s": [round(wall) for wall, _ in rates],
        "image_size": IMAGE_SIZE, "batch_size": BATCH_SIZE, "images_per_pass": N_IMAGES, "num_workers": 0,
    }}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
