"""Tiny ImageNet (Stanford CS231N): 200 classes of 64x64 JPEGs, the Stanford report's first dataset.

Layout of ``tiny-imagenet-200.zip``, read as shipped::

    tiny-imagenet-200/
      train/<wnid>/images/<wnid>_<i>.JPEG     500 per class (100,000)
      val/images/val_<i>.JPEG                 10,000, listed in val/val_annotations.txt
      test/images/test_<i>.JPEG               10,000 unlabeled: the predict set

About 0.3 % of the images are single-channel grayscale; they are converted to RGB (grey), or dropped
from training with ``min_chroma``.
"""

from __future__ import annotations

from colorlab.data.images import ImageFilesDataModule
from colorlab.data.layout import Layout, LayoutError, find_layout, list_images
from colorlab.errors import ColorlabError

LAYOUT = Layout(
    "tiny-imagenet-200",
    "train/<wnid>/images/*.JPEG and val/images/*.JPEG listed in val/val_annotations.txt",
    lambda p: (p / "train").is_dir() and (p / "val" / "val_annotations.txt").is_file(),
)


class TinyImageNetDataModule(ImageFilesDataModule):
    """Tiny ImageNet: train on ``train/*/images``, validate on ``val/images``, predict ``test/images``.

    Args:
        root: the ``tiny-imagenet-200`` folder, or the folder it was unzipped into.
        image_size: side of the square images, px (the stored size is 64; the Stanford report trains at 64).
        per_class: train on the first N images of each class, in sorted file-name order (``per_class: 100``
            gives the same 20,000 images on every copy of the official download); None takes all.
        **kwargs: ``ImageFilesDataModule`` options: resize, crop, hflip, strict, min_chroma, batch_size,
            num_workers, seed.
    """

    def __init__(self, root: str, image_size: int = 64, per_class: int | None = None, **kwargs) -> None:
        super().__init__(root, image_size=image_size, **kwargs)
        if per_class is not None and per_class < 1:
            raise ColorlabError(f"per_class must be >= 1 or None, got {per_class}")
        self.per_class = per_class

    def find_splits(self) -> dict[str, list[str]]:
        _, folder = find_layout(self.root, "Tiny ImageNet", [LAYOUT])
        train = []
        for wnid in sorted((folder / "train").iterdir()):
            images = list_images(wnid / "images")
            if self.per_class is not None and len(images) < self.per_class:
                raise LayoutError(
                    f"Tiny ImageNet: per_class={self.per_class}, but {wnid.name} holds {len(images)} training images"
                )
            train += images[: self.per_class]
        val_dir = folder / "val" / "images"
        with open(folder / "val" / "val_annotations.txt") as lines:
            val = [str(val_dir / line.split("\t", 1)[0]) for line in lines if line.strip()]
        test_dir = folder / "test" / "images"
        return {"train": train, "val": val, "predict": list_images(test_dir) if test_dir.is_dir() else []}
