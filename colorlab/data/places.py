"""MIT Places365 in either of its published layouts, and Places-Extra69-style sets that must be re-split.

Layouts (``PlacesDataModule`` detects which one ``root`` holds):

- **folders** ("easy format", ``places365standard_easyformat.tar``)::

      places365_standard/train/<category>/*.jpg     val/<category>/*.jpg

- **file-lists** (the official devkit): ``places365_train_standard.txt`` or
  ``places365_train_challenge.txt`` (``/a/abbey/00000000.jpg 0`` per line) over ``data_256/`` (or
  ``data_large/``; torchvision's ``data_256_standard/`` names too), ``places365_val.txt`` over
  ``val_256/``, and, when present, ``places365_test.txt`` over ``test_256/`` as the predict set.
  The Challenge list (8M images) works the same way; at that scale prefer ``streaming``.
- **merge-and-split** (Places-Extra69 and any class-folder set with a skewed split)::

      <root>/train/<category>/*.jpg     <root>/test/<category>/*.jpg      (no val/)

  All images are merged and split 80/10/10 (train/val/test), stratified by category with ``seed``, as
  the Georgia Tech report did. The split is written once (``prepare_data``) to a JSON file and read
  back by every later run and every rank; delete the file to re-split.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from colorlab.data.images import ImageFilesDataModule
from colorlab.data.layout import Layout, LayoutError, find_layout, list_images, stratified_split
from colorlab.errors import ColorlabError

SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # train / val / test of merged sets (Georgia Tech report)


def _train_list(folder: Path, which: str) -> Path:
    return folder / f"places365_train_{which}.txt"


def _first_dir(folder: Path, names: list[str]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_dir()), None)


def _read_list(list_file: Path, image_dir: Path) -> list[str]:
    """Paths of a devkit list (``/a/abbey/00000000.jpg 0`` or ``Places365_val_00000001.jpg 165``)."""
    prefix = os.path.join(image_dir, "")
    with open(list_file) as lines:
        return [prefix + line.split(maxsplit=1)[0].lstrip("/") for line in lines if line.strip()]


class PlacesDataModule(ImageFilesDataModule):
    """Places365-Standard / -Challenge (folders or official file lists) and Places-Extra69-style sets.

    Args:
        root: the dataset folder (``places365_standard/``, the devkit folder holding the ``.txt`` lists
            and ``data_256/``, or a folder with ``train/`` and ``test/`` class folders), or the folder
            it was unpacked into.
        image_size: side of the square images, px (stored images are 256 px; 64 in the Stanford report,
            224 / 299 for the Georgia Tech fusion models).
        train_list: with the official file lists, train on the "standard" (1.8M) or "challenge" (8M)
            list.
        split_file: JSON file holding the 80/10/10 split of a merge-and-split layout; created if missing;
            None = ``<dataset folder>/colorlab_split_seed<seed>.json``.
        **kwargs: ``ImageFilesDataModule`` options: resize, crop, hflip, strict, min_chroma, batch_size,
            num_workers, seed.
    """

    def __init__(
        self,
        root: str,
        image_size: int = 64,
        train_list: Literal["standard", "challenge"] = "standard",
        split_file: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(root, image_size=image_size, **kwargs)
        if train_list not in ("standard", "challenge"):
            raise ColorlabError(f"train_list must be 'standard' or 'challenge', got {train_list!r}")
        self.train_list = train_list
        self.split_file = split_file

    def _layouts(self) -> list[Layout]:
        return [
            Layout(
                "file-lists",
                f"places365_train_{self.train_list}.txt, places365_val.txt, data_256/ (or data_large/), val_256/",
                lambda p: _train_list(p, self.train_list).is_file() and (p / "places365_val.txt").is_file(),
            ),
            Layout(
                "folders",
                "train/<category>/*.jpg and val/<category>/*.jpg (places365_standard easy format)",
                lambda p: (p / "train").is_dir() and (p / "val").is_dir(),
            ),
            Layout(
                "merge-and-split",
                "train/<category>/*.jpg and test/<category>/*.jpg, no val/ (Places-Extra69 style)",
                lambda p: (p / "train").is_dir() and (p / "test").is_dir() and not (p / "val").exists(),
            ),
        ]

    def _split_path(self, folder: Path) -> Path:
        return Path(self.split_file) if self.split_file else folder / f"colorlab_split_seed{self.seed}.json"

    def prepare_data(self) -> None:
        layout, folder = find_layout(self.root, "Places", self._layouts())
        if layout.name == "merge-and-split" and not self._split_path(folder).is_file():
            self._write_split(folder)

    def _write_split(self, folder: Path) -> None:
        """Merge train/ and test/, split by category, and write the relative paths to the split file."""
        paths = list_images(folder / "train") + list_images(folder / "test")
        if not paths:
            raise LayoutError(f"Places: no images under {folder / 'train'} or {folder / 'test'}")
        relative = [os.path.relpath(p, folder) for p in paths]
        categories = [str(Path(*Path(r).parts[1:-1])) for r in relative]  # drop split and file name
        parts = stratified_split(categories, SPLIT_FRACTIONS, self.seed)
        split = {"seed": self.seed, "fractions": SPLIT_FRACTIONS}
        split |= {name: [relative[i] for i in part] for name, part in zip(("train", "val", "test"), parts)}
        target = self._split_path(folder)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(split, indent=0))
            os.replace(partial, target)  # atomic: a reader never sees half a file
        except OSError as err:
            raise OSError(
                f"Places: cannot write the split file {target} ({err}); pass a writable split_file"
            ) from err

    def find_splits(self) -> dict[str, list[str]]:
        layout, folder = find_layout(self.root, "Places", self._layouts())
        if layout.name == "folders":
            return {"train": list_images(folder / "train"), "val": list_images(folder / "val")}
        if layout.name == "merge-and-split":
            if not self._split_path(folder).is_file():
                self._write_split(folder)  # setup() without prepare_data(), e.g. in a script
            split = json.loads(self._split_path(folder).read_text())
            return {name: [str(folder / r) for r in split[name]] for name in ("train", "val", "test")}
        size = ["256", "large"] if self.train_transform.shorter_side <= 256 else ["large", "256"]
        suffixes = [f"_{self.train_list}", ""]
        train_dir = _first_dir(folder, [f"data_{s}{x}" for x in suffixes for s in size])
        val_dir = _first_dir(folder, [f"val_{s}" for s in size])
        if train_dir is None or val_dir is None:
            raise LayoutError(
                f"Places: {folder} has the file lists but not the images: expected data_256/ (or data_large/) "
                f"and val_256/ (or val_large/) beside them; found {sorted(p.name for p in folder.iterdir())}"
            )
        splits = {
            "train": _read_list(_train_list(folder, self.train_list), train_dir),
            "val": _read_list(folder / "places365_val.txt", val_dir),
        }
        test_dir = _first_dir(folder, [f"test_{s}" for s in size])
        if test_dir is not None and (folder / "places365_test.txt").is_file():
            splits["predict"] = _read_list(folder / "places365_test.txt", test_dir)
        return splits
