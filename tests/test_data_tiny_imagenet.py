"""Tiny ImageNet: the generated layout, a mis-laid root, and the real subset beside the repo when present."""

from __future__ import annotations

from pathlib import Path

import data_fixtures as fx
import pytest
import torch

from colorlab.data import TinyImageNetDataModule
from colorlab.data.layout import LayoutError

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "tiny-imagenet-200"


def test_reads_the_annotation_list_and_test_images(tmp_path):
    root, _ = fx.make_tiny_imagenet(tmp_path)
    dm = TinyImageNetDataModule(str(root / "tiny-imagenet-200"), batch_size=2, num_workers=0)
    dm.setup("fit")
    assert [Path(dm.val_set.describe(i)).name for i in range(3)] == ["val_0.JPEG", "val_1.JPEG", "val_2.JPEG"]
    assert all("/test/images/" in dm.predict_set.describe(i) for i in range(len(dm.predict_set)))
    assert dm.train_transform.size == 64, "Tiny ImageNet's own size by default"


def test_mislaid_root_names_the_expected_layout(tmp_path):
    root, _ = fx.make_tiny_imagenet(tmp_path)
    with pytest.raises(
        LayoutError, match=r"(?s)Tiny ImageNet: no known layout.*val_annotations.txt.*holds: n01443537/"
    ):
        TinyImageNetDataModule(str(root / "tiny-imagenet-200" / "train")).setup("fit")


@pytest.mark.skipif(not REAL.is_dir(), reason=f"no real Tiny ImageNet subset at {REAL}")
def test_real_subset():
    dm = TinyImageNetDataModule(str(REAL.parent), batch_size=64, num_workers=0)
    dm.setup("fit")
    assert (len(dm.train_set), len(dm.val_set), len(dm.predict_set)) == (20_000, 10_000, 500)
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
