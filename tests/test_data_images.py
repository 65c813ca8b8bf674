"""The shared image machinery: decoding every PIL mode, draft decoding, the uint8 transforms, the bad-file
policy, the epoch-aware sampler, stratified splits and layout detection."""

from __future__ import annotations

import collections

import data_fixtures as fx
import numpy as np
import pytest
import torch
from lightning.fabric.utilities.distributed import DistributedSamplerWrapper
from PIL import Image

from colorlab.data.datasets import FileListDataset, UnreadableImageError
from colorlab.data.decoding import chroma_spread, open_rgb, resize_shorter, to_rgb
from colorlab.data.layout import Layout, LayoutError, find_layout, stratified_split
from colorlab.data.samplers import EpochSampler
from colorlab.data.transforms import Transform, item_rng


def _rgb(path) -> np.ndarray:
    return np.asarray(open_rgb(path))


@pytest.mark.parametrize("kind", ["rgb", "gray", "rgba", "palette", "cmyk", "i16"])
def test_every_mode_decodes_to_uint8_rgb(kind, tmp_path):
    path = fx.write_image(
        tmp_path / f"{kind}.png" if kind in ("rgba", "palette", "i16") else tmp_path / f"{kind}.jpg", kind
    )
    rgb = _rgb(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (30, 40, 3)
    if kind in ("gray", "i16"):
        assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()


def test_grey_modes_keep_their_levels():
    """16-bit grey is scaled to 8 bits (not clipped at 255); float grey is read as [0, 1]."""
    levels16 = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)  # 0, 1, 128, 255 in 8 bits
    assert np.asarray(to_rgb(Image.fromarray(levels16)))[0, :, 0].tolist() == [0, 1, 128, 255]
    levels_f = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    assert np.asarray(to_rgb(Image.fromarray(levels_f)))[0, :, 0].tolist() == [0, 128, 255]


def test_transparency_composited_on_white():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (200, 10, 10, 255)  # opaque red stays red
    rgba[0, 1] = (0, 0, 0, 0)  # fully transparent black becomes white, not black
    rgba[1, 0] = (0, 0, 0, 128)  # half-transparent black over white: mid grey
    out = np.asarray(to_rgb(Image.fromarray(rgba)))
    assert out[0, 0].tolist() == [200, 10, 10] and out[0, 1].tolist() == [255, 255, 255]
    assert abs(int(out[1, 0, 0]) - 127) <= 1
    palette = Image.fromarray(rgba[..., :3]).quantize(4)
    palette.info["transparency"] = palette.getpixel((1, 0))
    assert np.asarray(to_rgb(palette))[0, 1].tolist() == [255, 255, 255]


def test_cmyk_converted():
    cmyk = Image.new("CMYK", (2, 2), (0, 255, 255, 0))  # no cyan/black, full magenta + yellow: red
    assert np.asarray(to_rgb(cmyk))[0, 0].tolist() == [255, 0, 0]


def test_exif_orientation_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    Image.fromarray(fx.colourful(0, (40, 20))).save(tmp_path / "rot.jpg", exif=exif)
    assert open_rgb(tmp_path / "rot.jpg").size == (20, 40)


def test_jpeg_draft_decodes_at_reduced_size_never_below_target(tmp_path):
    Image.fromarray(fx.colourful(0, (512, 384))).save(tmp_path / "big.jpg")
    assert open_rgb(tmp_path / "big.jpg", min_side=64).size == (128, 96)  # 1/4 scale; 1/8 would be 48 < 64
    assert open_rgb(tmp_path / "big.jpg", min_side=300).size == (512, 384)
    assert open_rgb(tmp_path / "big.jpg").size == (512, 384)


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "empty"])
def test_unreadable_files_raise_decode_errors(kind, tmp_path):
    with pytest.raises(OSError):
        open_rgb(fx.write_image(tmp_path / f"{kind}.jpg", kind))


def test_resize_shorter_side():
    image = Image.new("RGB", (300, 200))
    assert resize_shorter(image, 100).size == (150, 100)
    assert resize_shorter(Image.new("RGB", (50, 80)), 100).size == (100, 160)
    assert resize_shorter(Image.new("RGB", (50, 80)), 100, upscale=False).size == (50, 80)


def test_transform_crops_and_flips():
    array = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)  # H=6, W=8
    centre = Transform(4).crop_flip(array, item_rng(0, 0, 0))
    assert centre.dtype == torch.uint8 and centre.shape == (3, 4, 4)
    assert torch.equal(centre, torch.from_numpy(array[1:5, 2:6].transpose(2, 0, 1).copy()))
    flips = {
        bool(torch.equal(Transform(4, hflip=True).crop_flip(array, item_rng(0, 0, i)), centre))
        for i in range(20)
    }
    assert flips == {True, False}
    randoms = [Transform(4, crop="random").crop_flip(array, item_rng(0, 0, i)) for i in range(20)]
    assert len({r.numpy().tobytes() for r in randoms}) > 1
    again = Transform(4, crop="random").crop_flip(array, item_rng(0, 0, 3))
    assert torch.equal(again, randoms[3])


@pytest.mark.parametrize("bad", [{"size": 0}, {"size": 64, "resize": 32}, {"size": 8, "crop": "middle"}])
def test_transform_rejects_bad_arguments(bad):
    with pytest.raises(ValueError, match="got"):
        Transform(**bad)


def test_chroma_spread():
    grey = np.full((4, 4, 3), 90, dtype=np.uint8)
    assert chroma_spread(grey) == 0.0
    grey[0, 0] = (255, 0, 128)
    assert chroma_spread(grey) == pytest.approx(255 / 16)


def _files(tmp_path, kinds):
    return [fx.write_image(tmp_path / f"{i}_{kind}.jpg", kind, seed=i) for i, kind in enumerate(kinds)]


def test_bad_file_replaced_by_seeded_draw_and_recorded(tmp_path):
    paths = _files(tmp_path, ["rgb", "corrupt", "rgb", "empty", "rgb"])
    dataset = FileListDataset(paths, transform=Transform(8))
    with pytest.warns(UserWarning, match="1_corrupt.jpg"):
        item = dataset[1]
    assert item["index"] != 1 and item["rgb"].shape == (3, 8, 8)
    assert dataset[1]["index"] == item["index"], "the replacement is deterministic"
    assert dataset.skipped_counts() == {"unreadable": 1, "near_gray": 0}
    with pytest.warns(UserWarning, match="3_empty.jpg"):
        [dataset[i] for i in range(len(dataset))]
    assert [p.rsplit("/", 1)[1] for p in dataset.skipped()["unreadable"]] == ["1_corrupt.jpg", "3_empty.jpg"]


def test_strict_raises_naming_the_file(tmp_path):
    dataset = FileListDataset(_files(tmp_path, ["rgb", "truncated"]), transform=Transform(8), strict=True)
    with pytest.raises(UnreadableImageError, match="1_truncated.jpg"):
        dataset[1]


def test_all_bad_gives_up_with_a_message(tmp_path):
    dataset = FileListDataset(_files(tmp_path, ["corrupt", "empty"]), transform=Transform(8))
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="unreadable or near-grayscale"):
        dataset[0]


def test_near_gray_filter(tmp_path):
    dataset = FileListDataset(
        _files(tmp_path, ["rgb", "gray", "rgb"]), transform=Transform(8), min_chroma=4.0
    )
    assert {dataset[i]["index"] for i in range(3)} <= {0, 2}
    assert dataset.skipped_counts() == {"unreadable": 0, "near_gray": 1}


def test_with_paths_and_key_epochs(tmp_path):
    paths = _files(tmp_path, ["rgb"] * 3)
    dataset = FileListDataset(paths, transform=Transform(8, crop="random", resize=12), with_paths=True)
    assert dataset[1]["path"] == str(paths[1])
    assert dataset[1 + 3]["index"] == 1, "key = epoch * len + index"
    assert not torch.equal(dataset[1]["rgb"], dataset[1 + 3]["rgb"]), "a new epoch draws a new crop"


def test_epoch_sampler():
    sampler = EpochSampler(10, seed=3)
    first, second = list(sampler), list(sampler)
    assert sorted(first) == list(range(10)) and sorted(second) == list(range(10, 20))
    assert [k - 10 for k in second] != first
    sampler.set_epoch(0)
    assert list(sampler) == first, "set_epoch replays an epoch (resume)"
    assert list(EpochSampler(10, seed=3)) == first and list(EpochSampler(10, seed=4)) != first


def test_ddp_ranks_get_disjoint_shards_of_the_same_epoch():
    """Under DDP Lightning wraps the sampler in ``DistributedSamplerWrapper`` and forwards ``set_epoch``."""
    shards = []
    for rank in (0, 1):
        sampler = DistributedSamplerWrapper(
            EpochSampler(10, seed=3), num_replicas=2, rank=rank, shuffle=False
        )
        sampler.set_epoch(2)
        shards.append(list(sampler))
    assert sorted(shards[0] + shards[1]) == list(range(20, 30)) and len(shards[0]) == 5


def test_stratified_split():
    groups = ["a"] * 50 + ["b"] * 30 + ["c"] * 3
    train, val, test = stratified_split(groups, (0.8, 0.1, 0.1), seed=0)
    assert sorted(train + val + test) == list(range(83))
    assert len(val) == len(test) == 9  # ceil(0.1 * 83)
    for part, expected in ((val, {"a": 5, "b": 3, "c": 1}), (test, {"a": 5, "b": 3, "c": 1})):
        counts = collections.Counter(groups[i] for i in part)
        assert all(abs(counts[g] - expected[g]) <= 1 for g in expected), counts
    assert stratified_split(groups, (0.8, 0.1, 0.1), seed=0) == [train, val, test]
    assert stratified_split(groups, (0.8, 0.1, 0.1), seed=1) != [train, val, test]
    assert len(stratified_split(["x"] * 4, (0.9, 0.1), seed=0)[1]) == 1, "a non-zero fraction is never empty"
    with pytest.raises(ValueError, match="sum to 1"):
        stratified_split(groups, (0.8, 0.1), seed=0)


def test_find_layout_searches_below_root_and_explains_failure(tmp_path):
    layout = Layout("marked", "a folder holding MARK", lambda p: (p / "MARK").is_file())
    (tmp_path / "outer" / "inner").mkdir(parents=True)
    (tmp_path / "outer" / "inner" / "MARK").touch()
    assert find_layout(tmp_path, "Demo", [layout]) == (layout, tmp_path / "outer" / "inner")
    (tmp_path / "other" / "train").mkdir(parents=True)
    (tmp_path / "other" / "readme.txt").touch()
    with pytest.raises(
        LayoutError, match=r"(?s)no known layout.*marked: a folder holding MARK.*holds: readme.txt, train/"
    ):
        find_layout(tmp_path / "other", "Demo", [layout])
    with pytest.raises(LayoutError, match="does not exist"):
        find_layout(tmp_path / "missing", "Demo", [layout])
