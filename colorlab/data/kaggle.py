"""The Padova report's Kaggle sets: fruit (two publishers' layouts) and Animals-10.

Fruit (``FruitDataModule`` detects which layout ``root`` holds):

- **fruit-recognition** (kaggle.com/sshikamaru/fruit-recognition, the Padova report's ~16k / 5k)::

      train/train/<Fruit>/*.jpg      test/test/*.jpg  (unlabeled)

  Colorization needs no labels, so the unlabeled ``test/test`` images are the validation and predict set.
- **Fruits-360** (kaggle.com/moltean/fruits; 100x100 px)::

      Training/<Fruit>/*.jpg         Test/<Fruit>/*.jpg

Animals-10 (kaggle.com/alessiocorrado99/animals10): ``raw-img/<Italian class>/*`` (jpeg, jpg, png),
about 300 px. Classes are chosen by English or Italian name; the Padova subset is dog, chicken, horse and
cat (~12k images, 11k / 1k) resized and centre-cropped to 100 px. The split is stratified by class and
seeded, so it is the same on every run and rank.
"""

from __future__ import annotations

from pathlib import Path

from colorlab.data.images import ImageFilesDataModule
from colorlab.data.layout import Layout, find_layout, list_images, stratified_split
from colorlab.errors import ColorlabError

FRUIT_LAYOUTS = [
    Layout(
        "fruit-recognition",
        "train/train/<Fruit>/*.jpg and test/test/*.jpg",
        lambda p: (p / "train" / "train").is_dir() and (p / "test" / "test").is_dir(),
    ),
    Layout(
        "fruits-360",
        "Training/<Fruit>/*.jpg and Test/<Fruit>/*.jpg",
        lambda p: (p / "Training").is_dir() and (p / "Test").is_dir(),
    ),
]

ANIMALS = {
    "dog": "cane",
    "horse": "cavallo",
    "elephant": "elefante",
    "butterfly": "farfalla",
    "chicken": "gallina",
    "cat": "gatto",
    "cow": "mucca",
    "sheep": "pecora",
    "spider": "ragno",
    "squirrel": "scoiattolo",
}
"""Animals-10's classes: English name -> the Italian folder name under ``raw-img/``."""


class FruitDataModule(ImageFilesDataModule):
    """Kaggle fruit-recognition (train = ``train/train``, val and predict = ``test/test``) or Fruits-360
    (train = ``Training``, val = ``Test``).

    Args:
        root: the dataset folder, or the folder it was unpacked into (up to two levels above).
        image_size: side of the square images, px.
        **kwargs: ``ImageFilesDataModule`` options: resize, crop, hflip, strict, min_chroma, batch_size,
            num_workers, seed.
    """

    def __init__(self, root: str, image_size: int = 100, **kwargs) -> None:
        super().__init__(root, image_size=image_size, **kwargs)

    def find_splits(self) -> dict[str, list[str]]:
        layout, folder = find_layout(self.root, "Fruit", FRUIT_LAYOUTS)
        if layout.name == "fruit-recognition":
            return {
                "train": list_images(folder / "train" / "train"),
                "val": list_images(folder / "test" / "test"),
            }
        return {"train": list_images(folder / "Training"), "val": list_images(folder / "Test")}


class AnimalsDataModule(ImageFilesDataModule):
    """Kaggle Animals-10, a chosen subset of its classes, split train/val by class with ``seed``.

    Args:
        root: the ``raw-img`` folder or a folder above it (e.g. the unzipped ``archive/``).
        classes: classes to use, English or Italian names (dog or cane, ...); None = all ten.
        val_fraction: share of each class held out for validation (the Padova report: 1k of ~12k).
        image_size: side of the square images, px (Padova: resize, then centre crop 100).
        **kwargs: ``ImageFilesDataModule`` options: resize, crop, hflip, strict, min_chroma, batch_size,
            num_workers, seed.
    """

    def __init__(
        self,
        root: str,
        classes: list[str] | None = None,
        val_fraction: float = 0.1,
        image_size: int = 100,
        **kwargs,
    ) -> None:
        super().__init__(root, image_size=image_size, **kwargs)
        italian = {**ANIMALS, **{v: v for v in ANIMALS.values()}}
        unknown = [c for c in classes or [] if c.lower() not in italian]
        if unknown:
            raise ColorlabError(f"unknown Animals-10 classes {unknown}; choose from {sorted(italian)}")
        self.folders = sorted({italian[c.lower()] for c in classes} if classes else set(ANIMALS.values()))
        if not 0 < val_fraction < 1:
            raise ColorlabError(f"val_fraction must be in (0, 1), got {val_fraction}")
        self.val_fraction = val_fraction

    def find_splits(self) -> dict[str, list[str]]:
        layout = Layout(
            "raw-img",
            f"raw-img/<class>/* with class folders {', '.join(self.folders)}",
            lambda p: all((p / name).is_dir() for name in self.folders),
        )
        _, folder = find_layout(self.root, "Animals-10", [layout])
        paths = [p for name in self.folders for p in list_images(folder / name)]
        classes = [Path(p).parent.name for p in paths]
        train, val = stratified_split(classes, (1 - self.val_fraction, self.val_fraction), self.seed)
        return {"train": [paths[i] for i in train], "val": [paths[i] for i in val]}
