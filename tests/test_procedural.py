"""Procedural scenes: determinism, the item / batch contract, the DataModule, and that the colours follow
the scene grammar, measured in Lab through skimage (the outside reference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color import rgb2lab

from colorlab.data.procedural import DOT_COLORS, DOTS, MATERIALS, ProceduralScenes, ScenesDataModule


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) sRGB -> float Lab (..., 3) with skimage."""
    return rgb2lab(rgb.astype(np.float64) / 255)


@pytest.fixture(scope="module")
def scenes() -> tuple[np.ndarray, np.ndarray]:
    """1024 scenes as uint8 (N, H, W, 3) RGB and uint8 (N, H, W) material labels."""
    rgb, label = ProceduralScenes(1024, seed=11).render(np.arange(1024))
    return rgb.permute(0, 2, 3, 1).numpy(), label.numpy()


def test_same_seed_and_index_give_the_same_bytes() -> None:
    a, b = ProceduralScenes(100, seed=3), ProceduralScenes(100, seed=3)
    assert torch.equal(a[17]["rgb"], b[17]["rgb"])
    assert torch.equal(a[17]["rgb"], a[17]["rgb"])


def test_different_seeds_and_indices_differ() -> None:
    assert not torch.equal(ProceduralScenes(10, seed=0)[4]["rgb"], ProceduralScenes(10, seed=1)[4]["rgb"])
    scenes = ProceduralScenes(10, seed=0)
    assert not torch.equal(scenes[4]["rgb"], scenes[5]["rgb"])


def test_batch_fetch_equals_item_fetch_whatever_the_batch() -> None:
    scenes = ProceduralScenes(200, seed=5)
    indices = [150, 3, 3, 77, *range(20, 50)]  # repeats, any order, more than one render chunk
    batch = scenes.__getitems__(indices)
    assert [item["index"] for item in batch] == indices
    for item in batch:
        assert torch.equal(item["rgb"], scenes[item["index"]]["rgb"])


def test_item_contract() -> None:
    scenes = ProceduralScenes(7, seed=0, size=(48, 80))
    item = scenes[2]
    assert set(item) == {"rgb", "index"}
    assert item["rgb"].dtype == torch.uint8 and item["rgb"].shape == (3, 48, 80)
    assert isinstance(item["index"], int) and item["index"] == 2
    assert item["rgb"].min() < 64 and item["rgb"].max() > 192  # uses the range, not a flat grey
    assert torch.equal(scenes[-1]["rgb"], scenes[6]["rgb"])
    assert len(scenes) == 7
    with pytest.raises(IndexError, match="7 items"):
        scenes[7]


def test_bad_arguments_say_what_they_got() -> None:
    with pytest.raises(ValueError, match="got -1"):
        ProceduralScenes(-1)
    with pytest.raises(ValueError, match="got 4"):
        ProceduralScenes(10, size=4)
    with pytest.raises(ValueError, match="got 0"):
        ScenesDataModule(val_size=0)


def test_datamodule_batches_and_splits() -> None:
    dm = ScenesDataModule(root="ignored", train_size=40, val_size=24, test_size=8, batch_size=16)
    assert dm.num_workers == 0
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["rgb"].shape == (16, 3, 64, 64) and batch["rgb"].dtype == torch.uint8
    assert batch["index"].shape == (16,)
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (40, 24, 8)
    firsts = [split[0]["rgb"] for split in (dm.train_set, dm.val_set, dm.test_set)]
    assert not torch.equal(firsts[0], firsts[1]) and not torch.equal(firsts[1], firsts[2])
    assert next(iter(dm.val_dataloader()))["rgb"].shape == (16, 3, 64, 64)


def test_training_order_changes_every_epoch_and_repeats_for_the_same_epoch() -> None:
    """The scenes' training loader reshuffles each epoch (Lightning calls ``sampler.set_epoch``), and the order
    of an epoch is a function of (seed, epoch) only, so a resumed run draws what the uninterrupted one drew."""
    dm = ScenesDataModule(root="ignored", train_size=32, val_size=8, test_size=8, batch_size=8, image_size=16)
    dm.setup("fit")

    def order(epoch: int) -> list[int]:
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(epoch)
        return torch.cat([batch["index"] for batch in loader]).tolist()

    epochs = [order(0), order(1), order(2)]
    assert all(sorted(o) == list(range(32)) for o in epochs)  # every image once per epoch
    assert epochs[0] != epochs[1] != epochs[2] != epochs[0]
    assert order(1) == epochs[1]
    other_seed = ScenesDataModule(root="ignored", train_size=32, val_size=8, test_size=8, batch_size=8,
                                  image_size=16, seed=1)  # fmt: skip
    other_seed.setup("fit")
    loader = other_seed.train_dataloader()
    loader.sampler.set_epoch(0)
    assert torch.cat([b["index"] for b in loader]).tolist() != epochs[0]


def test_dot_colours_share_lab_l_and_are_opposite_in_ab() -> None:
    (l_1, *ab_1), (l_2, *ab_2) = to_lab(DOT_COLORS[None])[0]
    assert abs(l_1 - l_2) < 0.5
    assert np.hypot(*np.subtract(ab_1, ab_2)) > 120
    assert ab_1[0] * ab_2[0] < 0 and ab_1[1] * ab_2[1] < 0  # opposite quadrants


def test_dotted_objects_are_two_colours_at_equal_odds_with_the_same_l(scenes) -> None:
    rgb, label = scenes
    dotted = rgb[label == DOTS]  # (N, 3)
    assert dotted.max() < 255  # no clipped channel: clipping would change one colour's luminance
    lab = to_lab(dotted[None])[0]
    magenta = lab[:, 1] > 0
    assert 0.35 < magenta.mean() < 0.65
    green_l, magenta_l = lab[~magenta, 0], lab[magenta, 0]
    assert abs(np.mean(green_l) - np.mean(magenta_l)) < 2
    assert abs(np.median(green_l) - np.median(magenta_l)) < 2
    assert np.hypot(*(lab[magenta, 1:].mean(0) - lab[~magenta, 1:].mean(0))) > 60


def test_sky_at_the_top_is_blue(scenes) -> None:
    rgb, _ = scenes
    _, a, b = to_lab(rgb[:256, :4]).reshape(-1, 3).mean(0)
    assert b < -10 and abs(a) < b * -0.5


# Expected mean-ab region of each material: the colour its texture / place implies.
HUES = {
    "sky": lambda a, b: b < -25,
    "grass": lambda a, b: a < -20 and b > 20,
    "water": lambda a, b: a < -5 and b < -10,
    "sand": lambda a, b: abs(a) < 10 and b > 20,
    "soil": lambda a, b: a > 5 and b > 10,
    "stripes": lambda a, b: a > 15 and b > 30,  # orange
    "checks": lambda a, b: a > 20 and b < -20,  # purple
    "smooth": lambda a, b: a > 35 and b > 20,  # red
    "dots": lambda a, b: np.hypot(a, b) < 25,  # green / magenta average out to near grey
}


@pytest.mark.parametrize("material", MATERIALS)
def test_each_material_has_its_colour(scenes, material: str) -> None:
    rgb, label = scenes
    pixels = rgb[label == MATERIALS.index(material)][:200_000]
    _, a, b = to_lab(pixels[None])[0].mean(0)
    assert HUES[material](a, b), f"{material}: mean ab ({a:.1f}, {b:.1f})"


def test_a_constant_ab_guess_is_far_off(scenes) -> None:
    rgb, _ = scenes
    ab = to_lab(rgb[:128]).reshape(-1, 3)[:, 1:]
    assert np.linalg.norm(ab - ab.mean(0), axis=1).mean() > 30  # Lab units
