"""Any folder of images, for the user's own photos: ``experiments/folder_unet.yaml --data.root PATH``.

Every ``.jpg .jpeg .png .webp .bmp .tif .tiff`` file (any case) below ``root`` is used, sub-folders
included, hidden ones excluded. The split is seeded and stratified by sub-folder, so a folder per album or
class is split evenly; the predict set is the whole folder, items carrying their paths.
"""

from __future__ import annotations

from pathlib import Path

from colorlab.data.images import ImageFilesDataModule
from colorlab.data.layout import Layout, find_layout, list_images, stratified_split
from colorlab.errors import ColorlabError


class FolderDataModule(ImageFilesDataModule):
    """Images anywhere below ``root``, split train/val with ``seed``.

    Args:
        root: the folder of images.
        val_fraction: share of the images held out for validation (at least one image).
        image_size: side of the square images, px.
        **kwargs: ``ImageFilesDataModule`` options: resize, crop, hflip, strict, min_chroma, batch_size,
            num_workers, seed.
    """

    def __init__(self, root: str, val_fraction: float = 0.1, image_size: int = 256, **kwargs) -> None:
        super().__init__(root, image_size=image_size, **kwargs)
        if not 0 < val_fraction < 1:
            raise ColorlabError(f"val_fraction must be in (0, 1), got {val_fraction}")
        self.val_fraction = val_fraction

    def find_splits(self) -> dict[str, list[str]]:
        layout = Layout("folder", "a folder of images (searched recursively)", lambda p: True)
        _, folder = find_layout(self.root, "Folder", [layout], depth=0)
        paths = list_images(folder)
        if len(paths) < 2:
            raise ColorlabError(
                f"Folder: need at least 2 images (train and val) below {folder}, found {len(paths)} "
                f"with suffixes .jpg .jpeg .png .webp .bmp .tif .tiff"
            )
        train, val = stratified_split(
            [str(Path(p).parent) for p in paths], (1 - self.val_fraction, self.val_fraction), self.seed
        )
        return {"train": [paths[i] for i in train], "val": [paths[i] for i in val], "predict": paths}
