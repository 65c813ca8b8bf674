"""Kaggle fruit (fruit-recognition and Fruits-360 layouts) and Animals-10 (class choice by English or
Italian name, seeded stratified split, resize then centre crop)."""

from __future__ import annotations

import data_fixtures as fx
import numpy as np
import pytest
import torch
from PIL import Image

from colorlab.data import AnimalsDataModule, FruitDataModule
from colorlab.data.layout import LayoutError


def _names(dataset) -> list[str]:
    return [dataset.describe(i) for i in range(len(dataset))]


def test_fruit_layouts_detected(tmp_path):
    recognition, _ = fx.make_fruit_recognition(tmp_path / "a")
    dm = FruitDataModule(str(recognition), num_workers=0)
    dm.setup("fit")
    assert all("/train/train/" in p for p in _names(dm.train_set))
    assert all("/test/test/" in p for p in _names(dm.val_set)), "the unlabeled test set validates"
    fruits360, _ = fx.make_fruits360(tmp_path / "b")
    dm = FruitDataModule(str(fruits360), num_workers=0)
    dm.setup("fit")
    assert all("/Training/" in p for p in _names(dm.train_set)) and all(
        "/Test/" in p for p in _names(dm.val_set)
    )
    with pytest.raises(LayoutError, match=r"(?s)fruit-recognition: train/train.*fruits-360: Training"):
        FruitDataModule(str(fruits360 / "fruits-360_dataset" / "fruits-360" / "Test")).setup("fit")


def test_animals_classes_by_english_or_italian_name(tmp_path):
    root, sizes = fx.make_animals10(tmp_path)
    english = AnimalsDataModule(str(root), classes=["dog", "chicken", "horse", "cat"], num_workers=0)
    italian = AnimalsDataModule(
        str(root / "raw-img"), classes=["cane", "Gallina", "cavallo", "gatto"], num_workers=0
    )
    for dm in (english, italian):
        dm.setup("fit")
    assert _names(english.train_set) == _names(italian.train_set) and _names(english.val_set) == _names(
        italian.val_set
    )
    classes = {p.split("/raw-img/")[1].split("/")[0] for p in _names(english.train_set)}
    assert classes == {"cane", "gallina", "cavallo", "gatto"}
    assert any(p.endswith(".png") for p in _names(english.train_set)), "png files are read too"
    everything = AnimalsDataModule(str(root), num_workers=0)
    everything.setup("fit")
    assert len(everything.train_set) + len(everything.val_set) == 104
    reseeded = AnimalsDataModule(str(root), classes=["dog", "chicken", "horse", "cat"], seed=1, num_workers=0)
    reseeded.setup("fit")
    assert _names(reseeded.val_set) != _names(english.val_set) and len(reseeded.val_set) == sizes["val"]


def test_animals_padova_resize_then_centre_crop(tmp_path):
    root, _ = fx.make_animals10(tmp_path)
    dm = AnimalsDataModule(str(root), classes=["cat"], num_workers=0, hflip=False)  # 100 px by default
    dm.setup("fit")
    item = dm.val_set[0]["rgb"]
    with Image.open(dm.val_set.describe(0)) as image:  # 40 x 30 -> 133 x 100 -> centre 100 x 100
        expected = np.asarray(image.convert("RGB").resize((133, 100), Image.Resampling.BILINEAR))[:, 16:116]
    assert torch.equal(item, torch.from_numpy(expected.transpose(2, 0, 1).copy()))


def test_animals_unknown_class(tmp_path):
    with pytest.raises(ValueError, match=r"unknown Animals-10 classes \['unicorn'\]; choose from"):
        AnimalsDataModule(str(tmp_path), classes=["dog", "unicorn"])
