"""Tiny ImageNet loader throughput on the real subset in ../shared/data (skipped when absent): 64x64
uint8 batches of 64 through TinyImageNetDataModule's train loader, with 0 and 1 worker processes.

Run: .venv/bin/python benchmarks/tiny_imagenet_loader.py   (writes benchmarks/results/tiny_imagenet_loader.json)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from colorlab.data import TinyImageNetDataModule

ROOT = Path(__file__).resolve().parents[2] / "shared/data/tiny-imagenet-200"
RESULT = Path(__file__).parent / "results" / "tiny_imagenet_loader.json"
BATCHES = 150


def images_per_second(num_workers: int) -> float:
    dm = TinyImageNetDataModule(str(ROOT), image_size=64, batch_size=64, num_workers=num_workers)
    dm.prepare_data()
    dm.setup("fit")
    loader = iter(dm.train_dataloader())
    next(loader)  # worker start-up and page cache outside the timing
    start, n = time.perf_counter(), 0
    for _ in range(BATCHES):
        n += len(next(loader)["rgb"])
    return n / (time.perf_counter() - start)


def main() -> None:
    if not ROOT.is_dir():
        print(f"skipped: {ROOT} not found")
        return
    rates = {f"workers_{w}": round(images_per_second(w)) for w in (0, 1)}
    batch_bytes = 64 * 3 * 64 * 64
    result = {**rates, "batch": 64, "image_size": 64, "batches": BATCHES,
              "uint8_batch_bytes": batch_bytes, "float32_batch_bytes": 4 * batch_bytes}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print("tiny imagenet train loader, 64 px, batch 64: "
          + ", ".join(f"{k.replace('_', ' ')}: {v} images/s" for k, v in rates.items()))


if __name__ == "__main__":
    main()
