"""Soft-encoding speed: colorlab's windowed exact k-NN (7x7 grid cells around each pixel) against the full
search over all Q bins, side by side in one run, on a batch of 32 64x64 real-colour targets; both must
give the same neighbours.

Run: .venv/bin/python benchmarks/soft_encode.py   (writes benchmarks/results/soft_encode.json)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from colorlab import color
from colorlab.data import ScenesDataModule

RESULT = Path(__file__).parent / "results" / "soft_encode.json"
REPEATS = 5


def full_search(ab: torch.Tensor, k: int = color.SOFT_K, chunk: int = 16384) -> torch.Tensor:
    """The straightforward method: distances from every pixel to every bin, then top-k."""
    bins = color.ab_bins()
    points = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    return torch.cat([(p[:, None] - bins[None]).pow(2).sum(-1).topk(k, 1, largest=False)[1] for p in points.split(chunk)])


def best_time(fn, *args) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    dm = ScenesDataModule(train_size=32, batch_size=32)
    dm.setup("fit")
    ab = color.batch_to_lab(next(iter(dm.train_dataloader())))[:, 1:]  # (32, 2, 64, 64)
    color.soft_encode(ab)  # build the tables outside the timing
    windowed_idx = color.soft_encode(ab)[0].permute(0, 2, 3, 1).reshape(-1, color.SOFT_K)
    same = torch.equal(windowed_idx.sort(1)[0], full_search(ab).sort(1)[0])
    t_window, t_full = best_time(color.soft_encode, ab), best_time(full_search, ab)
    result = {
        "pixels": ab.shape[0] * ab.shape[2] * ab.shape[3],
        "q": color.ab_bins().shape[0],
        "k": color.SOFT_K,
        "windowed_s": round(t_window, 4),
        "full_search_s": round(t_full, 4),
        "speedup": round(t_full / t_window, 2),
        "same_neighbours": same,
        "threads": torch.get_num_threads(),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"soft-encoding {result['pixels']} pixels: windowed {t_window * 1e3:.0f} ms, full search "
          f"{t_full * 1e3:.0f} ms ({result['speedup']}x), same neighbours: {same}")


if __name__ == "__main__":
    main()
