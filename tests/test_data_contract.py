"""Every file-reading DataModule, on a fixture in its publisher's exact layout: setup -> split sizes ->
one batch per loader in the batch contract, with 0 and 2 workers; bad files never reach a batch."""

from __future__ import annotations

import functools
import warnings

import data_fixtures as fx
import pytest
import torch

from colorlab.data import (
    AnimalsDataModule,
    FolderDataModule,
    FruitDataModule,
    KaggleNpyDataModule,
    PlacesDataModule,
    TinyImageNetDataModule,
)

SIZE = 16

CASES = {
    "tiny-imagenet": (TinyImageNetDataModule, fx.make_tiny_imagenet),
    "places-folders": (PlacesDataModule, fx.make_places_folders),
    "places-lists": (PlacesDataModule, fx.make_places_lists),
    "places-challenge": (
        functools.partial(PlacesDataModule, train_list="challenge"),
        functools.partial(fx.make_places_lists, challenge=True),
    ),
    "places-extra69": (PlacesDataModule, fx.make_places_extra),
    "fruit-recognition": (FruitDataModule, fx.make_fruit_recognition),
    "fruits-360": (FruitDataModule, fx.make_fruits360),
    "animals-10": (
        functools.partial(AnimalsDataModule, classes=["dog", "chicken", "horse", "cat"]),
        fx.make_animals10,
    ),
    "folder": (FolderDataModule, fx.make_folder),
}


def _setup(case: str, tmp_path, **kwargs):
    make_dm, make_data = CASES[case]
    root, sizes = make_data(tmp_path)
    dm = make_dm(root=str(root), image_size=SIZE, **{"batch_size": 4, "seed": 0, **kwargs})
    dm.prepare_data()
    dm.setup("fit")
    return dm, sizes


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("case", sorted(CASES))
def test_batches_in_contract(case, num_workers, tmp_path):
    dm, sizes = _setup(case, tmp_path, num_workers=num_workers, crop="random")
    found = {"train": dm.train_set, "val": dm.val_set, "test": dm.test_set, "predict": dm.predict_set}
    assert {split: len(found[split]) for split in sizes} == sizes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skipped fixture files, checked below
        for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
            fx.check_batch(next(iter(loader)), SIZE)
        predicted = next(iter(dm.predict_dataloader()))
    fx.check_batch(predicted, SIZE)
    assert all(isinstance(p, str) and p.startswith(str(tmp_path)) for p in predicted["path"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_files_skipped_named_and_counted(case, tmp_path):
    dm, _ = _setup(case, tmp_path, num_workers=0, batch_size=1)  # batch 1: drop_last drops nothing
    datasets = [dm.train_set, dm.val_set]  # a split layout may hold a special file out for validation
    with pytest.warns(UserWarning, match="skipping unreadable image") as caught:
        seen = [
            ds.describe(i)
            for ds, loader in zip(datasets, (dm.train_dataloader(), dm.val_dataloader()))
            for batch in loader
            for i in batch["index"].tolist()
        ]
    bad = [p for split in ("train", "val") for p in dm.skipped()[split]["unreadable"]]
    assert len(bad) == 2 and all(any(kind in p for p in bad) for kind in fx.UNREADABLE)
    assert all(any(p in str(w.message) for w in caught) for p in bad), "each skipped file is named"
    assert not set(seen) & set(bad), "a bad file reached a batch"
    assert any("gray" in p for p in seen) and any("rgba" in p for p in seen), "converted, not skipped"
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable|skipped 2 unreadable"):
        dm.teardown("fit")


def test_strict_names_the_file(tmp_path):
    dm, _ = _setup("tiny-imagenet", tmp_path, num_workers=0, strict=True)
    corrupt = next(i for i in range(len(dm.train_set)) if "corrupt" in dm.train_set.describe(i))
    with pytest.raises(OSError, match=r"n01443537_corrupt\.JPEG"):
        dm.train_set[corrupt]


def test_min_chroma_drops_gray_training_images_only(tmp_path):
    dm, _ = _setup("fruit-recognition", tmp_path, num_workers=0, min_chroma=4.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seen = [i for batch in dm.train_dataloader() for i in batch["index"].tolist()]
    skipped = dm.skipped()["train"]
    assert [p.rsplit("/", 1)[-1] for p in skipped["near_gray"]] == ["Apple Braeburn_gray.jpg"]
    assert not {dm.train_set.describe(i) for i in seen} & set(skipped["near_gray"])
    assert dm.val_set.min_chroma is None


@pytest.mark.filterwarnings("ignore:skipping unreadable image")
def test_augmentation_independent_of_workers(tmp_path):
    """Crops and flips are a function of (seed, epoch, index): 0 and 2 workers give identical epochs,
    and the next epoch draws new ones."""
    epochs = {}
    for workers in (0, 2):
        dm, _ = _setup("places-extra69", tmp_path / str(workers), num_workers=workers, crop="random")
        loader = dm.train_dataloader()
        epochs[workers] = [torch.cat([b["rgb"] for b in loader]) for _ in range(2)]
    assert torch.equal(epochs[0][0], epochs[2][0]) and torch.equal(epochs[0][1], epochs[2][1])
    assert not torch.equal(epochs[0][0], epochs[0][1])


def test_npy_batches_in_contract(tmp_path):
    root, _ = fx.make_npy(tmp_path)
    for workers in (0, 2):
        dm = KaggleNpyDataModule(str(root), image_size=SIZE, batch_size=4, num_workers=workers, crop="random")
        dm.setup("fit")
        assert (len(dm.train_set), len(dm.val_set)) == (11, 1)
        fx.check_batch(next(iter(dm.train_dataloader())), SIZE, key="lab8")
        fx.check_batch(next(iter(dm.val_dataloader())), SIZE, key="lab8")


@pytest.mark.parametrize(
    "make_dm", [TinyImageNetDataModule, PlacesDataModule, FruitDataModule, AnimalsDataModule]
)
def test_no_io_in_init_and_clear_error_for_wrong_root(make_dm, tmp_path):
    dm = make_dm(root=str(tmp_path / "nowhere"))  # no I/O: constructing never fails on a missing root
    with pytest.raises(FileNotFoundError, match="does not exist; expected a folder holding one of"):
        dm.setup("fit")
