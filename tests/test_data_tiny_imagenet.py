"""Tiny ImageNet: the generated layout, a mis-laid root, and the real subset beside the repo when present."""

from __future__ import annotations

from pathlib import Path

import data_fixtures as fx
import pytest
import torch

from colorlab.data import TinyImageNetDataModule
from colorlab.data.layout import LayoutError


def test_reads_the_annotation_list_and_test_images(tmp_path):
    root, _ = fx.make_tiny_imagenet(tmp_path)
    dm = TinyImageNetDataModule(str(root / "tiny-imagenet-200"), batch_size=2, num_workers=0)
    dm.setup("fit")
    assert [Path(dm.val_set.describe(i)).name for i in range(3)] == ["val_0.JPEG", "val_1.JPEG", "val_2.JPEG"]
    assert all("/test/images/" in dm.predict_set.describe(i) for i in range(len(dm.predict_set)))
    assert dm.train_transform.size == 64, "Tiny ImageNet's own size by default"


def test_per_class_takes_the_first_files_by_name(tmp_path):
    root, _ = fx.make_tiny_imagenet(tmp_path)
    full = TinyImageNetDataModule(str(root), num_workers=0)
    full.setup("fit")
    names = [full.train_set.describe(i) for i in range(len(full.train_set))]
    per_class = {}
    for name in names:
        per_class.setdefault(Path(name).parent.parent.name, []).append(name)
    n = min(len(v) for v in per_class.values()) - 1
    assert n >= 1, "the fixture needs two or more images per class"
    dm = TinyImageNetDataModule(str(root), per_class=n, num_workers=0)
    dm.setup("fit")
    kept = [dm.train_set.describe(i) for i in range(len(dm.train_set))]
    assert kept == [p for wnid in sorted(per_class) for p in sorted(per_class[wnid])[:n]]
    with pytest.raises(LayoutError, match="per_class=999"):
        bad = TinyImageNetDataModule(str(root), per_class=999, num_workers=0)
        bad.setup("fit")
    with pytest.raises(ValueError, match="per_class"):
        TinyImageNetDataModule(str(root), per_class=0)


def test_mislaid_root_names_the_expected_layout(tmp_path):
    root, _ = fx.make_tiny_imagenet(tmp_path)
    with pytest.raises(
        LayoutError, match=r"(?s)Tiny ImageNet: no known layout.*val_annotations.txt.*holds: n01443537/"
    ):
        TinyImageNetDataModule(str(root / "tiny-imagenet-200" / "train")).setup("fit")


def test_real_subset(shared_tiny_imagenet):
    if shared_tiny_imagenet is None:
        pytest.skip("no real Tiny ImageNet beside the repository (conftest.SHARED_DATA)")
    real = shared_tiny_imagenet
    dm = TinyImageNetDataModule(str(real.parent), batch_size=64, num_workers=0)
    dm.setup("fit")
    classes = sorted(p.name for p in (real / "train").iterdir())
    assert len(classes) == 200 and len(dm.val_set) == 10_000 and len(dm.predict_set) > 0
    assert len(dm.train_set) % 200 == 0, "a copy holds the same number of images per class"
    subset = TinyImageNetDataModule(str(real.parent), per_class=100, num_workers=0)
    subset.setup("fit")
    assert len(subset.train_set) == 20_000
    first = [Path(subset.train_set.describe(i)).name for i in range(100)]
    assert first == sorted(f"{classes[0]}_{i}.JPEG" for i in range(500))[:100], "the first 100 by file name"
    batch = next(iter(dm.train_dataloader()))
    fx.check_batch(batch, 64)
    gray = [i for i in range(len(dm.val_set)) if i < 400 and _is_gray(dm.val_set.describe(i))]
    assert gray, "the real subset holds single-channel JPEGs"
    item = dm.val_set[gray[0]]["rgb"]
    assert torch.equal(item[0], item[1]) and torch.equal(item[1], item[2]), "grey converts to R = G = B"


def _is_gray(path: str) -> bool:
    from PIL import Image

    with Image.open(path) as image:
        return image.mode == "L"
