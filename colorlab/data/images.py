"""The base DataModules of every dataset that yields pictures: ``ImageDataModule`` (location, transforms,
epoch-aware shuffle) and ``ImageFilesDataModule`` (files per split, bad-file reporting).

The machinery lives in files named for each concern: ``decoding`` (file -> upright RGB), ``transforms``
(uint8 resize / crop / flip), ``samplers`` (``EpochSampler``), ``datasets`` (``ImageDataset``, the bad-file
policy) and ``layout`` (listing, splits, layout detection).
"""

from __future__ import annotations

import warnings
from abc import abstractmethod

from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader

from colorlab.data.base import ColorDataModule
from colorlab.data.datasets import FileListDataset, ImageDataset
from colorlab.data.layout import LayoutError
from colorlab.data.samplers import EpochSampler
from colorlab.data.transforms import Crop, Transform
from colorlab.errors import ColorlabError


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
            raise ColorlabError(f"min_chroma must be in [0, 255] (8-bit RGB spread), got {min_chroma}")
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
