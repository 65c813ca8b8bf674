"""The Kaggle "image-colorization" NPY set (Shravankumar Shetty), the Olin report's data.

Layout, as downloaded::

    l/gray_scale.npy        (25000, 224, 224)     uint8   L * 255 / 100
    ab/ab/ab1.npy           (10000, 224, 224, 2)  uint8   a + 128, b + 128
    ab/ab/ab2.npy           (10000, 224, 224, 2)
    ab/ab/ab3.npy           ( 5000, 224, 224, 2)

That is OpenCV's 8-bit Lab encoding. Image ``g`` pairs ``L[g]`` with the ab row ``g`` of the three ab
files read end to end. The files are memory-mapped (opened lazily in each worker, never loaded whole:
4.9 GB in all) and items are the stored bytes, ``{"lab8": (3, S, S) uint8}``; ``colorlab.color``
decodes them on the device into the same (L, ab) as every RGB source.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from colorlab.data.datasets import ImageDataset
from colorlab.data.images import ImageDataModule
from colorlab.data.layout import Layout, LayoutError, find_layout
from colorlab.errors import ColorlabError

LAYOUT = Layout(
    "image-colorization",
    "l/gray_scale.npy (N, H, W) uint8 and ab/ab/ab1.npy, ab2.npy, ... (n_i, H, W, 2) uint8, sum n_i = N",
    lambda p: (p / "l" / "gray_scale.npy").is_file() and any((p / "ab" / "ab").glob("ab*.npy")),
)


class NpyLabDataset(ImageDataset):
    """Pairs of an L array and ab arrays split over several files, as 8-bit Lab items.

    Args:
        l_path: the (N, H, W) uint8 L file.
        ab_paths: the (n_i, H, W, 2) uint8 ab files in order, sum n_i = N.
        indices: which global image indices this split holds.
        **kwargs: ``ImageDataset`` options (transform, seed, with_paths).
    """

    key = "lab8"

    def __init__(self, l_path: str, ab_paths: list[str], indices: np.ndarray, **kwargs) -> None:
        super().__init__(len(indices), **kwargs)
        self.l_path, self.ab_paths, self.indices = l_path, ab_paths, np.asarray(indices)
        counts = [_map(p).shape[0] for p in ab_paths]
        self.starts = np.cumsum([0] + counts)  # ab file k holds global rows starts[k] .. starts[k+1] - 1
        self._arrays: tuple[np.ndarray, list[np.ndarray]] | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_arrays": None}  # workers map the files themselves; never pickle data

    def _open(self) -> tuple[np.ndarray, list[np.ndarray]]:
        if self._arrays is None:
            self._arrays = (
                np.load(self.l_path, mmap_mode="r"),
                [np.load(p, mmap_mode="r") for p in self.ab_paths],
            )
        return self._arrays

    def describe(self, index: int) -> str:
        return f"{self.l_path}[{self.indices[index]}]"

    def decode(self, index: int, min_side: int | None) -> Image.Image:
        l_all, ab_files = self._open()
        g = int(self.indices[index])
        k = int(np.searchsorted(self.starts, g, side="right")) - 1
        lab8 = np.concatenate([l_all[g][..., None], ab_files[k][g - self.starts[k]]], axis=-1)  # (H, W, 3)
        return Image.fromarray(lab8)  # 3 uint8 channels (mode "RGB"); resizing treats them independently


def _map(path: Path | str) -> np.ndarray:
    """Memory-map a .npy file: reads the header only."""
    return np.load(path, mmap_mode="r")


class KaggleNpyDataModule(ImageDataModule):
    """The Kaggle image-colorization NPY set, split train/val at random with ``seed``.

    Args:
        root: the folder holding ``l/`` and ``ab/``, or a folder above it.
        val_fraction: share of the images held out for validation.
        image_size: side of the square images, px (stored: 224).
        **kwargs: ``ImageDataModule`` options: resize, crop, hflip, batch_size, num_workers, seed.
    """

    def __init__(self, root: str, val_fraction: float = 0.1, image_size: int = 224, **kwargs) -> None:
        super().__init__(root, image_size=image_size, **kwargs)
        if not 0 < val_fraction < 1:
            raise ColorlabError(f"val_fraction must be in (0, 1), got {val_fraction}")
        self.val_fraction = val_fraction

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        _, folder = find_layout(self.root, "Kaggle image-colorization NPY", [LAYOUT])
        l_path = folder / "l" / "gray_scale.npy"
        ab_paths = sorted(
            (folder / "ab" / "ab").glob("ab*.npy"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0)
        )
        l_all, ab_files = _map(l_path), [_map(p) for p in ab_paths]
        n = l_all.shape[0]
        fits = l_all.ndim == 3 and all(ab.shape[1:] == (*l_all.shape[1:], 2) for ab in ab_files)
        if (
            not fits
            or sum(ab.shape[0] for ab in ab_files) != n
            or any(a.dtype != np.uint8 for a in [l_all, *ab_files])
        ):
            found = ", ".join(
                f"{p.name} {a.shape} {a.dtype}" for p, a in zip([l_path, *ab_paths], [l_all, *ab_files])
            )
            raise LayoutError(f"Kaggle NPY: expected {LAYOUT.expected}; found {found}")
        order = np.random.default_rng(self.seed).permutation(n)
        n_val = max(1, round(self.val_fraction * n))
        files = {"l_path": str(l_path), "ab_paths": [str(p) for p in ab_paths], "seed": self.seed}
        self.train_set = NpyLabDataset(
            indices=np.sort(order[n_val:]), transform=self.train_transform, **files
        )
        self.val_set = NpyLabDataset(indices=np.sort(order[:n_val]), transform=self.eval_transform, **files)
        self.predict_set = NpyLabDataset(
            indices=np.sort(order[:n_val]), transform=self.eval_transform, with_paths=True, **files
        )
