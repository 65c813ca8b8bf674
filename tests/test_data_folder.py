"""Any folder of images: recursive, every supported suffix, hidden files and non-images ignored."""

from __future__ import annotations

from pathlib import Path

import data_fixtures as fx
import pytest

from colorlab.data import FolderDataModule


def test_recursive_every_suffix_hidden_ignored(tmp_path):
    root, sizes = fx.make_folder(tmp_path)
    dm = FolderDataModule(str(root), num_workers=0, image_size=16)
    dm.setup("fit")
    listed = {
        Path(dm.predict_set.describe(i)).relative_to(root).as_posix() for i in range(len(dm.predict_set))
    }
    assert len(listed) == sizes["predict"]
    assert {Path(p).suffix for p in listed} == {".jpg", ".JPEG", ".png", ".webp", ".bmp", ".tif", ".tiff"}
    assert "garden/2024/img0_0.jpg" in listed and not any(p.startswith(".") or "/." in p for p in listed)
    train = {dm.train_set.describe(i) for i in range(len(dm.train_set))}
    assert not train & {dm.val_set.describe(i) for i in range(len(dm.val_set))}


def test_too_few_images(tmp_path):
    fx.write_image(tmp_path / "only.png")
    with pytest.raises(ValueError, match="need at least 2 images"):
        FolderDataModule(str(tmp_path)).setup("fit")
