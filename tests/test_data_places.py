"""Places365: layout detection (easy format, devkit lists standard / challenge, merge-and-split) and the
Places-Extra69 stratified 80/10/10 split written to disk and reused."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import data_fixtures as fx
import pytest

from colorlab.data import PlacesDataModule
from colorlab.data.layout import LayoutError


def _setup(root, **kwargs) -> PlacesDataModule:
    dm = PlacesDataModule(str(root), num_workers=0, **kwargs)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def _names(dataset) -> list[str]:
    return [dataset.describe(i) for i in range(len(dataset))]


def test_devkit_lists_resolve_under_their_image_folders(tmp_path):
    root, sizes = fx.make_places_lists(tmp_path)
    dm = _setup(root)
    assert (
        all("/data_256/" in p for p in _names(dm.train_set)) and "/b/bakery/shop/" in _names(dm.train_set)[-1]
    )
    assert all("/val_256/Places365_val_" in p for p in _names(dm.val_set))
    assert all("/test_256/" in p for p in _names(dm.predict_set))
    challenge = _setup(root, train_list="challenge")
    assert len(challenge.train_set) > len(dm.train_set) == sizes["train"]


def test_images_missing_beside_the_lists(tmp_path):
    fx.make_places_lists(tmp_path)
    (tmp_path / "data_256").rename(tmp_path / "elsewhere")
    with pytest.raises(LayoutError, match="file lists but not the images: expected data_256/"):
        _setup(tmp_path)


def test_merge_and_split_is_stratified_written_once_and_reused(tmp_path):
    root, sizes = fx.make_places_extra(tmp_path)
    dm = _setup(root, seed=7)
    split_file = Path(root) / "colorlab_split_seed7.json"
    written = json.loads(split_file.read_text())
    assert {k: len(written[k]) for k in ("train", "val", "test")} == sizes
    assert not set(written["train"]) & set(written["val"]) and not set(written["val"]) & set(written["test"])
    for part in ("val", "test"):  # every category held out in proportion (36, 18, 10 images)
        counts = collections.Counter(p.split("/")[1] for p in written[part])
        assert counts == {"category0": 4, "category1": 2, "category2": 1}, counts
    assert any(p.startswith("test/") for p in written["train"]), "the publisher's test images are merged in"
    written["val"], written["test"] = written["test"], written["val"]  # every later run reads the file back
    split_file.write_text(json.dumps(written))
    again = _setup(root, seed=7)
    assert _names(again.val_set) == _names(dm.test_set)
    other = tmp_path / "splits" / "mine.json"
    _setup(root, seed=8, split_file=str(other))
    assert other.is_file() and json.loads(other.read_text())["val"] != written["test"]


def test_mislaid_root_lists_the_layouts(tmp_path):
    root, _ = fx.make_places_folders(tmp_path)
    with pytest.raises(LayoutError, match=r"(?s)file-lists:.*folders:.*merge-and-split:.*holds: abbey/"):
        _setup(root / "places365_standard" / "train")
