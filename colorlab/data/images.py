"""Image-file machinery shared by every DataModule that reads pictures: decoding, the uint8 transforms,
the bad-file policy, deterministic augmentation, splits, layout detection, and ``ImageDataModule``.

Pipeline of one item (all uint8, no colour maths)::

    file -> PIL decode (JPEG: ``draft`` = DCT-domain downscale when the file is >= 2x the target)
         -> EXIF orientation -> RGB (see ``to_rgb``) -> resize shorter side -> [near-gray filter]
         -> centre / random crop -> [horizontal flip] -> (3, S, S) uint8 tensor

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
import math
import os
import struct
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset, Sampler

from colorlab.data.base import ColorDataModule

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
"""File suffixes (any case) that the folder scans pick up."""

DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError)
"""What PIL raises for corrupt, truncated, zero-byte, missing or non-image files."""

MAX_REPLACEMENTS = 64  # consecutive skipped draws before an item gives up: the data is mostly unusable

Crop = Literal["center", "random"]


class LayoutError(FileNotFoundError):
    """``root`` does not hold the layout a DataModule reads; the message says what was expected and found."""


class UnreadableImageError(OSError):
    """A file could not be decoded and the dataset is ``strict``."""


# --------------------------------------------------------------------------------------------
# decoding


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit RGB.

    - ``1``, ``L``, ``CMYK``, ``YCbCr``, ``HSV``: PIL's conversion (grey is replicated to 3 channels; CMYK
      JPEGs with Adobe's inverted encoding are un-inverted by PIL's decoder; ICC profiles are ignored).
    - ``P``: through RGBA when the palette has a transparent entry, else straight to RGB.
    - ``RGBA``, ``LA``, ``PA`` and pre-multiplied modes: composited over white. A transparent pixel's
      stored colour is arbitrary (often black), so dropping alpha would paint cut-outs with it; white is
      what a viewer shows and the background of product shots such as the fruit sets.
    - ``I;16*`` and ``I`` (16-bit grey, e.g. 16-bit PNG/TIFF): scaled by 255/65535, not clipped.
      ``F`` (float grey) is taken as [0, 1].
    16-bit RGB files are reduced to 8 bits per channel by PIL on open.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode.startswith("I") or mode == "F":
        grey = np.asarray(image, dtype=np.float64)
        scale = 255.0 if mode == "F" else 255.0 / 65535.0
        return Image.fromarray(np.clip(np.rint(grey * scale), 0, 255).astype(np.uint8)).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
        canvas.alpha_composite(image.convert("RGBA"))
        return canvas.convert("RGB")
    return image.convert("RGB")


def open_rgb(source: str | os.PathLike | object, min_side: int | None = None) -> Image.Image:
    """Decode an image file (path or binary file object) to an upright 8-bit RGB PIL image.

    Args:
        source: path or binary file object.
        min_side: shorter side the caller will resize to. A JPEG at least twice as large in both
            dimensions is decoded at 1/2, 1/4 or 1/8 scale (PIL ``draft``), never below ``min_side``:
            4-16x less decoding work for a 256 px Places image used at 64 px.

    Raises:
        One of ``DECODE_ERRORS`` for a file that is not a readable image.
    """
    with Image.open(source) as image:
        if min_side is not None and image.format == "JPEG":
            image.draft(image.mode, (min_side, min_side))
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        return to_rgb(image)


def resize_shorter(image: Image.Image, side: int, upscale: bool = True) -> Image.Image:
    """Resize (bilinear, antialiased) so the shorter side is ``side`` px, keeping the aspect ratio.

    With ``upscale=False`` an image already smaller than ``side`` is returned as is.
    """
    width, height = image.size
    shorter = min(width, height)
    if shorter == side or (shorter < side and not upscale):
        return image
    scale = side / shorter
    size = (max(side, round(width * scale)), max(side, round(height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR)


def chroma_spread(rgb: np.ndarray) -> float:
    """Mean over pixels of ``max(R, G, B) - min(R, G, B)``, 8-bit units in [0, 255].

    A cheap colourfulness proxy for the near-grayscale filter (not colour maths for the model): 0 for
    any grey image, about 1-3 for a grey photo saved as a colour JPEG, 20+ for ordinary colour photos.

    Args:
        rgb: (H, W, 3) uint8.
    """
    return float((rgb.max(axis=2) - rgb.min(axis=2)).mean())


# --------------------------------------------------------------------------------------------
# transforms


@dataclass(frozen=True)
class Transform:
    """Resize shorter side, crop a square, optionally flip; on uint8 arrays.

    Args:
        size: side of the output square, px.
        resize: shorter side before cropping, px (>= size); None = ``size``.
        crop: "center", or "random" (offsets drawn from the item's generator).
        hflip: flip horizontally with p = 0.5 (drawn from the item's generator).
    """

    size: int
    resize: int | None = None
    crop: Crop = "center"
    hflip: bool = False

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"image_size must be >= 1, got {self.size}")
        if self.resize is not None and self.resize < self.size:
            raise ValueError(f"resize must be >= image_size ({self.size}), got {self.resize}")
        if self.crop not in ("center", "random"):
            raise ValueError(f"crop must be 'center' or 'random', got {self.crop!r}")

    @property
    def shorter_side(self) -> int:
        return self.size if self.resize is None else self.resize

    def crop_flip(self, array: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """(H, W, 3) uint8 with min(H, W) >= size -> (3, size, size) uint8 tensor."""
        height, width = array.shape[:2]
        s = self.size
        if self.crop == "random":
            top, left = int(rng.integers(height - s + 1)), int(rng.integers(width - s + 1))
        else:
            top, left = (height - s) // 2, (width - s) // 2
        array = array[top : top + s, left : left + s]
        if self.hflip and rng.random() < 0.5:
            array = array[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))  # (3, S, S)

    def __call__(self, image: Image.Image, rng: np.random.Generator) -> torch.Tensor:
        """PIL image (any size) -> (3, size, size) uint8 tensor."""
        return self.crop_flip(np.asarray(resize_shorter(image, self.shorter_side)), rng)


def item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator behind an item's augmentation and replacement draws."""
    return np.random.default_rng((seed, epoch, index))


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


# --------------------------------------------------------------------------------------------
# datasets

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
            raise ValueError(f"{type(self).__name__} needs at least one image, got {n}")
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


# --------------------------------------------------------------------------------------------
# listing, splitting, layout detection


def list_images(folder: str | os.PathLike) -> list[str]:
    """Sorted paths of the image files (``IMAGE_EXTENSIONS``, any case) in ``folder`` and its sub-folders;
    hidden files and folders are skipped. Sorting makes the list, hence every split, identical on every rank."""
    found = []
    for parent, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [
            os.path.join(parent, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS) and f[0] != "."
        ]
    return sorted(found)


def stratified_split(groups: Sequence[str], fractions: Sequence[float], seed: int) -> list[list[int]]:
    """Split item indices into parts with the given fractions, every group (class) split alike.

    Held-out parts (all but the first) take ``ceil(f * N)`` items in total, so a non-zero fraction is
    never empty; within a group their share is ``f * n_group`` rounded up or down (running rounding
    across groups in sorted order). The first part takes the rest. Members are shuffled with ``seed``.

    Args:
        groups: the group label of each item.
        fractions: one per part, summing to 1, e.g. (0.8, 0.1, 0.1).
        seed: shuffle seed.

    Returns:
        One sorted index list per part.
    """
    if not math.isclose(sum(fractions), 1.0) or min(fractions) < 0:
        raise ValueError(f"fractions must be >= 0 and sum to 1, got {tuple(fractions)}")
    members: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        members.setdefault(group, []).append(i)
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in fractions]
    seen = 0
    for group in sorted(members):
        items = [members[group][j] for j in rng.permutation(len(members[group]))]
        before, seen = seen, seen + len(items)
        start = 0
        for part, fraction in list(enumerate(fractions))[1:]:
            take = math.ceil(fraction * seen - 1e-9) - math.ceil(fraction * before - 1e-9)
            take = min(take, len(items) - start)
            parts[part] += items[start : start + take]
            start += take
        parts[0] += items[start:]
    return [sorted(p) for p in parts]


@dataclass(frozen=True)
class Layout:
    """One way a publisher lays a dataset out on disk.

    Args:
        name: short name, e.g. "file-lists".
        expected: what the layout looks like, for error messages.
        matches: does a folder hold this layout?
    """

    name: str
    expected: str
    matches: Callable[[Path], bool]


def _listing(folder: Path, most: int = 12) -> str:
    try:
        entries = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(folder))
    except OSError as err:
        return f"unreadable ({err})"
    if not entries:
        return "nothing (empty folder)"
    more = f" ... (+{len(entries) - most} more)" if len(entries) > most else ""
    return ", ".join(entries[:most]) + more


def find_layout(
    root: str | os.PathLike, dataset: str, layouts: Sequence[Layout], depth: int = 2
) -> tuple[Layout, Path]:
    """The first of ``layouts`` found at ``root`` or up to ``depth`` folder levels below it (so ``root``
    may be the dataset folder or the folder it was unpacked into), breadth first, in sorted order.

    Raises:
        LayoutError: naming the expected layouts and what ``root`` holds.
    """
    root = Path(root).expanduser()
    expected = "\n".join(f"  - {layout.name}: {layout.expected}" for layout in layouts)
    if not root.is_dir():
        what = "is a file" if root.exists() else "does not exist"
        raise LayoutError(f"{dataset}: root {root} {what}; expected a folder holding one of:\n{expected}")
    level = [root]
    for _ in range(depth + 1):
        for folder in level:
            for layout in layouts:
                if layout.matches(folder):
                    return layout, folder
        level = [
            Path(e.path)
            for f in level
            for e in sorted(os.scandir(f), key=lambda e: e.name)
            if e.is_dir() and not e.name.startswith(".")
        ]
    raise LayoutError(
        f"{dataset}: no known layout at or up to {depth} levels below {root}. Expected one of:\n{expected}\n"
        f"{root} holds: {_listing(root)}"
    )


# --------------------------------------------------------------------------------------------
# DataModules


class ImageDataModule(ColorDataModule):
    """Base of the DataModules that yield images: the location, the transforms and the epoch-aware shuffle.

    Training crops are centred or random and optionally flipped; validation, test and predict images are
    always centre-cropped and never flipped.

    Args:
        root: where the dataset lies, in its publisher's layout (see the subclass).
        image_size: side of the square images in a batch, px.
        resize: shorter side each image is resized to before cropping, px (>= image_size);
            None = image_size (the largest centred square, scaled).
        crop: training crop, "center" or "random".
        hflip: flip training images horizontally with p = 0.5.
        **kwargs: ``ColorDataModule`` options: batch_size, num_workers, seed.
    """

    def __init__(
        self,
        root: str,
        image_size: int = 256,
        resize: int | None = None,
        crop: Crop = "center",
        hflip: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.root = root
        self.train_transform = Transform(image_size, resize, crop, hflip)
        self.eval_transform = Transform(image_size, resize, "center", False)

    def train_dataloader(self) -> DataLoader:
        if self.train_set is None:
            return super().train_dataloader()  # raises: no train split
        return self._loader(
            self.train_set, "train", shuffle=True, sampler=EpochSampler(len(self.train_set), self.seed)
        )


class ImageFilesDataModule(ImageDataModule):
    """Base of the DataModules that read image files: a subclass says which files form which split
    (``find_splits``); this class builds the datasets, skips bad files and reports what it skipped.

    ``len(train_set)`` counts every listed file: unreadable ones are found when first loaded, replaced in
    the batch, warned about once each (naming the file) and counted; the totals are reported at
    ``teardown`` and by ``skipped()``.

    Args:
        root: where the dataset lies, in its publisher's layout (see the subclass).
        strict: stop with an error naming the file at the first unreadable image instead of skipping it.
        min_chroma: drop near-grayscale *training* images whose mean RGB spread ``max - min`` (8-bit
            units, see ``chroma_spread``) is below this; e.g. 4 removes grey photos stored as colour
            JPEGs. None keeps every image. Validation and test sets are never filtered.
        **kwargs: ``ImageDataModule`` options: image_size, resize, crop, hflip, batch_size, num_workers, seed.
    """

    def __init__(self, root: str, strict: bool = False, min_chroma: float | None = None, **kwargs) -> None:
        super().__init__(root, **kwargs)
        if min_chroma is not None and not 0 <= min_chroma <= 255:
            raise ValueError(f"min_chroma must be in [0, 255] (8-bit RGB spread), got {min_chroma}")
        self.strict = strict
        self.min_chroma = min_chroma

    @abstractmethod
    def find_splits(self) -> dict[str, list[str]]:
        """Locate the data under ``self.root`` and return the image files of each split: keys "train" and
        "val", optionally "test" and "predict" (predict items carry their path; without "predict" the test
        split, else the validation split, is predicted). Raises ``LayoutError`` when ``root`` is wrong."""

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return  # already set up for another stage
        splits = self.find_splits()
        for split in ("train", "val"):
            if not splits.get(split):
                raise LayoutError(f"{type(self).__name__}: found no {split} images under {self.root}")
        common = {"seed": self.seed, "strict": self.strict}
        self.train_set = FileListDataset(
            splits["train"], transform=self.train_transform, min_chroma=self.min_chroma, **common
        )
        self.val_set = FileListDataset(splits["val"], transform=self.eval_transform, **common)
        if splits.get("test"):
            self.test_set = FileListDataset(splits["test"], transform=self.eval_transform, **common)
        predict = splits.get("predict") or splits.get("test") or splits["val"]
        self.predict_set = FileListDataset(predict, transform=self.eval_transform, with_paths=True, **common)

    def skipped(self) -> dict[str, dict[str, list[str]]]:
        """Per split, the files skipped so far: {"train": {"unreadable": [...], "near_gray": [...]}, ...}."""
        named = {
            "train": self.train_set,
            "val": self.val_set,
            "test": self.test_set,
            "predict": self.predict_set,
        }
        return {split: ds.skipped() for split, ds in named.items() if isinstance(ds, ImageDataset)}

    def teardown(self, stage: str | None = None) -> None:
        for split, skipped in self.skipped().items():
            if skipped["unreadable"]:
                names = skipped["unreadable"]
                shown = ", ".join(names[:5]) + (f" ... (+{len(names) - 5} more)" if len(names) > 5 else "")
                warnings.warn(
                    f"{type(self).__name__}: skipped {len(names)} unreadable {split} file(s): {shown}"
                )
            if skipped["near_gray"]:
                rank_zero_info(
                    f"{type(self).__name__}: dropped {len(skipped['near_gray'])} near-grayscale {split} "
                    f"image(s) (chroma spread < {self.min_chroma})"
                )
