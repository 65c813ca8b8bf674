"""The batch contract every colorlab DataModule keeps, and the base class that implements the loaders.

A batch is a dict:

- ``"rgb"``: uint8 (B, 3, H, W) sRGB, or, for sources stored as 8-bit Lab (the Kaggle NPY set),
  ``"lab8"``: uint8 (B, 3, H, W) in OpenCV's encoding (L*255/100, a+128, b+128);
- optionally ``"index"``: int64 (B,) sample index, and for predict ``"path"``: list[str].

Workers only decode, crop, flip and stack uint8; the float conversion and the Lab split happen on the
device in ``LitColorizer.on_after_batch_transfer`` through ``colorlab.color.batch_to_lab``.
"""

from __future__ import annotations

import os

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Sampler


def default_workers() -> int:
    """Loader workers: all cores but one, at most 8."""
    return max(0, min(8, (os.cpu_count() or 1) - 1))


class ColorDataModule(L.LightningDataModule):
    """Base DataModule: subclasses fill ``train_set``, ``val_set`` (and optionally ``test_set``,
    ``predict_set``) in ``setup``; this class builds the loaders.

    Args:
        batch_size: images per batch.
        num_workers: loader worker processes; None = all cores but one, at most 8.
        seed: seed for splits, shuffling and augmentation.
    """

    def __init__(self, batch_size: int = 32, num_workers: int | None = None, seed: int = 0) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.num_workers = default_workers() if num_workers is None else num_workers
        self.seed = seed
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.predict_set: Dataset | None = None

    def _loader(
        self, dataset: Dataset | None, stage: str, shuffle: bool, sampler: Sampler | None = None
    ) -> DataLoader:
        """``sampler``, if given, replaces the seeded shuffle (e.g. one telling the dataset the epoch)."""
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__} has no {stage} split (call setup() first?)")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle and sampler is None,
            sampler=sampler,
            drop_last=shuffle and len(dataset) > self.batch_size,  # type: ignore[arg-type]
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            generator=torch.Generator().manual_seed(self.seed) if shuffle and sampler is None else None,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, "train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, "val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set if self.test_set is not None else self.val_set, "test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.predict_set if self.predict_set is not None else self.val_set, "predict", False)
