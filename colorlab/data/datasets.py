"""Map-style image datasets and the bad-file policy.

Augmentation is a pure function of ``(seed, epoch, index)``: ``EpochSampler`` hands the dataset
``epoch * len + index``, so an item's crop and flip do not depend on the worker count, the worker that
loads it, or the order. An unreadable file (corrupt, truncated, zero bytes, not an image, missing) is
skipped with a warning naming it and replaced by another item drawn from the same seeded stream, so an
epoch never dies on one bad file; ``strict=True`` raises instead. Skips are recorded per index in a
shared-memory table, so every worker skips known-bad files without opening them and the main process can
report the final count.
"""

from __future__ import annotations

import io
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from colorlab.data.decoding import DECODE_ERRORS, chroma_spread, open_rgb, resize_shorter
from colorlab.data.transforms import Transform, item_rng
from colorlab.errors import ColorlabError

MAX_REPLACEMENTS = 64  # consecutive skipped draws before an item gives up: the data is mostly unusable


class UnreadableImageError(ColorlabError, OSError):
    """A file could not be decoded and the dataset is ``strict``."""


_OK, _UNREADABLE, _NEAR_GRAY = 0, 1, 2


class ImageDataset(Dataset, ABC):
    """A map-style dataset of images yielding the batch contract's items.

    Items: ``{key: (3, S, S) uint8, "index": int}`` (+ ``"path": str`` with ``with_paths``), ``key`` being
    ``"rgb"`` or ``"lab8"``. Keys ``>= len`` are ``epoch * len + index`` (see ``EpochSampler``).

    Args:
        n: number of items.
        transform: resize / crop / flip.
        seed: seed of the augmentation and replacement draws.
        strict: raise ``UnreadableImageError`` naming the file instead of skipping it.
        min_chroma: drop images whose ``chroma_spread`` (after resizing) is below this (8-bit units);
            None keeps all.
        with_paths: add ``"path"`` to items (predict sets).
    """

    key = "rgb"

    def __init__(
        self,
        n: int,
        transform: Transform,
        seed: int = 0,
        strict: bool = False,
        min_chroma: float | None = None,
        with_paths: bool = False,
    ) -> None:
        if n < 1:
            raise ColorlabError(f"{type(self).__name__} needs at least one image, got {n}")
        self.n = n
        self.transform = transform
        self.seed = seed
        self.strict = strict
        self.min_chroma = min_chroma
        self.with_paths = with_paths
        # one status byte per index in shared memory: workers write, every process (and the report) reads
        self._status = torch.zeros(n, dtype=torch.uint8).share_memory_()

    def __len__(self) -> int:
        return self.n

    @abstractmethod
    def decode(self, index: int, min_side: int | None) -> Image.Image:
        """The image at ``index`` as a 3-channel 8-bit PIL image, shorter side >= ``min_side`` where the
        format can decode at reduced size. Raises one of ``DECODE_ERRORS`` when unreadable."""

    @abstractmethod
    def describe(self, index: int) -> str:
        """What to call item ``index`` in messages and predict outputs (its file path)."""

    def load(self, index: int, side: int | None, upscale: bool = True) -> np.ndarray | None:
        """Decode item ``index`` and resize its shorter side to ``side`` (None: keep its size):
        (H, W, 3) uint8, or None when it is unreadable or near-grayscale (then recorded, and warned about
        once if unreadable)."""
        if self._status[index].item() != _OK:
            return None
        try:
            image = self.decode(index, side)
        except DECODE_ERRORS as err:
            if self.strict:
                raise UnreadableImageError(f"cannot read {self.describe(index)}: {err}") from err
            self._status[index] = _UNREADABLE
            warnings.warn(f"skipping unreadable image {self.describe(index)} ({err})", stacklevel=2)
            return None
        array = np.asarray(image if side is None else resize_shorter(image, side, upscale))
        if self.min_chroma is not None and chroma_spread(array) < self.min_chroma:
            self._status[index] = _NEAR_GRAY
            return None
        return array

    def __getitem__(self, key: int) -> dict:
        epoch, index = divmod(int(key), self.n)
        rng = item_rng(self.seed, epoch, index)
        for _ in range(MAX_REPLACEMENTS):
            array = self.load(index, self.transform.shorter_side)
            if array is not None:
                item = {self.key: self.transform.crop_flip(array, rng), "index": index}
                if self.with_paths:
                    item["path"] = self.describe(index)
                return item
            index = int(rng.integers(self.n))  # a seeded replacement: same choice in any worker
        raise RuntimeError(
            f"{MAX_REPLACEMENTS} draws in a row were unreadable or near-grayscale ({self.skipped_counts()}); "
            f"check the data{' or lower min_chroma' if self.min_chroma is not None else ''}"
        )

    def skipped(self) -> dict[str, list[str]]:
        """Items skipped so far (across all workers): {"unreadable": [...], "near_gray": [...]}."""
        status = self._status.numpy()
        return {
            name: [self.describe(int(i)) for i in np.flatnonzero(status == code)]
            for name, code in (("unreadable", _UNREADABLE), ("near_gray", _NEAR_GRAY))
        }

    def skipped_counts(self) -> dict[str, int]:
        status = self._status.numpy()
        return {
            "unreadable": int((status == _UNREADABLE).sum()),
            "near_gray": int((status == _NEAR_GRAY).sum()),
        }


class FileListDataset(ImageDataset):
    """Images from a list of files.

    Paths are kept as one numpy byte-string array relative to their common folder, not a Python list:
    forked workers then share its pages, where touching list items would copy them through reference
    counts (a list of 1.8M Places paths is ~200 MB, copied into every worker).

    Args:
        paths: image files.
        **kwargs: ``ImageDataset`` options (transform, seed, strict, min_chroma, with_paths).
    """

    def __init__(self, paths: Sequence[str | os.PathLike], **kwargs) -> None:
        paths = [os.fspath(p) for p in paths]
        super().__init__(len(paths), **kwargs)
        shared = os.path.commonprefix([min(paths), max(paths)])  # = the common prefix of all of them
        self.folder = shared[: shared.rfind(os.sep) + 1]  # up to the last separator, kept
        self._names = np.array([p[len(self.folder) :].encode() for p in paths])

    def path(self, index: int) -> str:
        return self.folder + self._names[index].decode()

    def describe(self, index: int) -> str:
        return self.path(index)

    def decode(self, index: int, min_side: int | None) -> Image.Image:
        with open(self.path(index), "rb") as file:  # one read: PIL parses JPEG markers in ~40 small reads
            return open_rgb(io.BytesIO(file.read()), min_side)
