"""The epoch-aware seeded shuffle every image DataModule trains with."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    """A seeded shuffle that tells the dataset the epoch: yields ``epoch * n + index``.

    Datasets here take ``divmod(key, n)`` to get ``(epoch, index)`` and seed the item's augmentation with
    ``(seed, epoch, index)``, so augmentation is identical for any worker count, and persistent workers
    (which never see the main process's state) still get a fresh draw every epoch. The epoch advances on
    each pass; Lightning's ``set_epoch`` (also forwarded under DDP by ``DistributedSamplerWrapper``, which
    then shards this order across ranks) sets it explicitly, so a resumed run continues the sequence.

    Args:
        n: dataset length.
        seed: shuffle seed; epoch ``e``'s order is a function of ``(seed, e)`` only.
    """

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n = n
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        order = np.random.default_rng((self.seed, epoch)).permutation(self.n) + epoch * self.n
        for start in range(0, self.n, 65536):  # python ints a block at a time, not n at once
            yield from order[start : start + 65536].tolist()
