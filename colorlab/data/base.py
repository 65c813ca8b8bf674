"""The batch contract every colorlab DataModule keeps, and the base class that implements the loaders.

A batch is a dict:

- ``"rgb"``: uint8 (B, 3, H, W) sRGB, or, for sources stored as 8-bit Lab (the Kaggle NPY set),
  ``"lab8"``: uint8 (B, 3, H, W) in OpenCV's encoding (L*255/100, a+128, b+128);
- optionally ``"index"``: int64 (B,) sample index, and for predict ``"path"``: list[str].

Workers only decode, crop, flip and stack uint8; the float conversion and the Lab split happen on the
device in ``LitColorizer.on_after_batch_transfer`` through ``colorlab.color.batch_to_lab``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from colorlab._private import BatchIndexLoader
from colorlab.errors import ColorlabError


def default_workers() -> int:
    """Loader workers: all cores but one, at most 8."""
    return max(0, min(8, (os.cpu_count() or 1) - 1))


class SeededShuffle(Sampler[int]):
    """A shuffle that is a function of ``(seed, epoch)`` only, so a resumed run draws the order the
    uninterrupted run drew; Lightning's ``set_epoch`` (under DDP through its sampler wrapper) sets the epoch.

    Args:
        n: dataset length.
        seed: shuffle seed.
    """

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=generator).tolist())


class EvalShards(DistributedSampler):
    """Validation / test indices split across DDP ranks without padding: rank r gets r, r + R, r + 2R, ...
    Lightning's own distributed sampler pads every rank to the same length with repeated images, which
    metrics would count twice; evaluation needs no lockstep, so unequal shards are fine (torchmetrics and
    ``sync_dist`` reduce sums and counts over all ranks). A DistributedSampler subclass, so Lightning keeps it."""

    def __init__(self, dataset: Dataset) -> None:
        super().__init__(dataset, shuffle=False, drop_last=False)
        self.num_samples = len(range(self.rank, len(dataset), self.num_replicas))  # type: ignore[arg-type]
        self.total_size = len(dataset)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.total_size, self.num_replicas))


class _SkipBatches:
    """The loader's batch sampler, less the batches a resumed loader has already served."""

    def __init__(self, loader: ResumableLoader) -> None:
        self.loader = loader

    def __iter__(self) -> Iterator[list[int]]:
        skip, self.loader._skip = self.loader._skip, 0
        return itertools.islice(iter(self.loader.batch_sampler), skip, None)

    def __len__(self) -> int:
        return len(self.loader.batch_sampler)  # type: ignore[arg-type]


class ResumableLoader(BatchIndexLoader):
    """A DataLoader Lightning can checkpoint mid-epoch: Lightning saves ``state_dict()`` (batches served this
    epoch) with each checkpoint and, resuming mid-epoch, calls ``load_state_dict``; the next pass then skips
    those batches in the (epoch-seeded) order without loading them, so ``fit --ckpt_path last`` continues
    where the run stopped."""

    _skip = 0
    _served = 0

    def index_batches(self) -> _SkipBatches:
        return _SkipBatches(self)

    def __iter__(self) -> Iterator[Any]:
        self._served = self._skip
        for batch in super().__iter__():
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"batches": self._served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        served = int(state["batches"])
        self._skip = served if served < len(self) else 0  # a finished epoch: the next one starts afresh


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
            raise ColorlabError(f"batch_size must be >= 1, got {batch_size}")
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
        """Training (``shuffle``): ``sampler`` or a ``SeededShuffle``, in a ``ResumableLoader``. Evaluation: in
        order, split across DDP ranks by ``EvalShards`` when distributed."""
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__} has no {stage} split (call setup() first?)")
        if shuffle:
            sampler = sampler or SeededShuffle(len(dataset), self.seed)  # type: ignore[arg-type]
        elif dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            sampler = EvalShards(dataset)
        return (ResumableLoader if shuffle else DataLoader)(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=shuffle and len(dataset) > self.batch_size,  # type: ignore[arg-type]
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, "train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, "val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set if self.test_set is not None else self.val_set, "test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.predict_set if self.predict_set is not None else self.val_set, "predict", False)
