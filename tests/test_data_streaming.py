"""LitData shards: convert a DataModule (progress bar, bad files skipped), stream them back locally with
0 and 2 workers in the same batch contract; the 8-bit Lab source survives losslessly."""

from __future__ import annotations

import warnings

import data_fixtures as fx
import pytest
import torch

from colorlab.cli import cli_main
from colorlab.data import KaggleNpyDataModule, StreamingDataModule, TinyImageNetDataModule, convert_to_shards
from colorlab.data.layout import LayoutError


def _convert_tiny(tmp_path):
    root, sizes = fx.make_tiny_imagenet(tmp_path / "raw")
    source = TinyImageNetDataModule(str(root), num_workers=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fixture's corrupt and empty files
        written = convert_to_shards(
            source, str(tmp_path / "shards"), max_side=32, chunk_bytes="4KB", num_threads=2
        )
    return written, sizes


def test_convert_then_stream(tmp_path, capsys):
    written, sizes = _convert_tiny(tmp_path)
    assert written == {"train": sizes["train"] - 2, "val": sizes["val"]}, "unreadable files are not written"
    assert "train: 100%" in capsys.readouterr().err, "a progress bar per split"
    assert len(list((tmp_path / "shards" / "train").glob("chunk-*.bin"))) > 1
    for workers in (0, 2):
        dm = StreamingDataModule(str(tmp_path / "shards"), image_size=16, batch_size=4, num_workers=workers)
        dm.setup("fit")
        assert (len(dm.train_set), len(dm.val_set)) == (written["train"], written["val"])
        for loader in (dm.train_dataloader(), dm.val_dataloader()):
            batches = list(loader)
            for batch in batches:
                fx.check_batch(batch, 16)
            assert sorted(i for b in batches for i in b["index"].tolist()) == list(range(len(loader.dataset)))


def test_lab8_survives_losslessly(tmp_path):
    root, _ = fx.make_npy(tmp_path / "npy")
    source = KaggleNpyDataModule(str(root), image_size=16, num_workers=0, val_fraction=0.5)
    convert_to_shards(source, str(tmp_path / "shards"), max_side=None, shuffle=False)
    dm = StreamingDataModule(str(tmp_path / "shards"), image_size=16, batch_size=2, num_workers=0)
    dm.setup("fit")
    streamed = torch.stack([dm.val_set[i]["lab8"] for i in range(len(dm.val_set))])
    source.setup("fit")
    assert torch.equal(streamed, torch.stack([source.val_set[i]["lab8"] for i in range(len(source.val_set))]))


def test_refuses_to_overwrite_and_explains_missing_shards(tmp_path):
    _convert_tiny(tmp_path)
    with pytest.raises(FileExistsError, match="already holds shards"):
        _convert_tiny(tmp_path)
    with pytest.raises(
        LayoutError, match="lacks train/index.json, val/index.json; expected the output of convert"
    ):
        StreamingDataModule(str(tmp_path / "raw")).setup("fit")


def test_command_line(tmp_path):
    root, sizes = fx.make_fruit_recognition(tmp_path / "raw")
    args = ["--data", "FruitDataModule", "--data.root", str(root), "--data.num_workers", "0"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written = cli_main(
            ["shards", *args, "--output_dir", str(tmp_path / "shards"), "--splits", "[val]", "--max_side", "24"]
        )
    assert written == {"val": sizes["val"]}
