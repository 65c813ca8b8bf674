"""The Kaggle image-colorization NPY set: memory-mapped, L paired with ab across the three files by global
index, stored bytes passed through, and the device decode round-trips to the Lab of the source RGB."""

from __future__ import annotations

import data_fixtures as fx
import numpy as np
import pytest
import torch
from skimage.color import lab2rgb, rgb2lab

from colorlab.color import batch_to_lab, lab_to_rgb
from colorlab.data import KaggleNpyDataModule
from colorlab.data.layout import LayoutError


def _all_items(dataset) -> dict[str, torch.Tensor]:
    items = [dataset[i] for i in range(len(dataset))]
    return {
        "lab8": torch.stack([it["lab8"] for it in items]),
        "index": torch.tensor([it["index"] for it in items]),
    }


def test_round_trip_to_the_stored_lab(tmp_path):
    root, rgb = fx.make_npy(tmp_path)
    dm = KaggleNpyDataModule(str(root), image_size=16, num_workers=0, val_fraction=0.25, hflip=False)
    dm.setup("fit")
    for dataset in (dm.train_set, dm.val_set):
        batch = _all_items(dataset)
        rows = dataset.indices[batch["index"].numpy()]  # global NPY rows, spread over ab1..ab3
        stored_l = np.load(root / "l" / "gray_scale.npy")[rows]
        stored_ab = np.concatenate([np.load(root / "ab" / "ab" / f"ab{k}.npy") for k in (1, 2, 3)])[rows]
        assert np.array_equal(
            batch["lab8"].permute(0, 2, 3, 1).numpy(), np.concatenate([stored_l[..., None], stored_ab], -1)
        )
        lab = batch_to_lab(batch)  # (B, 3, H, W) float Lab, on the "device"
        reference = torch.from_numpy(rgb2lab(rgb[rows] / 255.0)).permute(0, 3, 1, 2).float()  # skimage
        assert (lab[:, 0] - reference[:, 0]).abs().max() <= 100 / 255 / 2 + 1e-4  # half an 8-bit L step
        assert (lab[:, 1:] - reference[:, 1:]).abs().max() <= 0.5 + 1e-4  # half an ab step
        rgb_back = lab_to_rgb(lab)  # vs skimage on the same 8-bit Lab, and vs the source RGB on average
        expected = lab2rgb(lab.permute(0, 2, 3, 1).double().numpy())
        assert np.abs(rgb_back.permute(0, 2, 3, 1).numpy() - expected).max() < 2e-3
        assert np.abs(rgb_back.permute(0, 2, 3, 1).numpy() - rgb[rows] / 255.0).mean() < 1 / 255


def test_memory_mapped_and_picklable(tmp_path):
    import pickle

    root, _ = fx.make_npy(tmp_path)
    dm = KaggleNpyDataModule(str(root), image_size=16, num_workers=0)
    dm.setup("fit")
    dm.train_set[0]
    l_all, ab_files = dm.train_set._arrays
    assert isinstance(l_all, np.memmap) and all(isinstance(ab, np.memmap) for ab in ab_files)
    clone = pickle.loads(pickle.dumps(dm.train_set))
    assert clone._arrays is None, "workers map the files themselves"
    assert torch.equal(clone[3]["lab8"], dm.train_set[3]["lab8"])


def test_resized_and_augmented_like_rgb_sources(tmp_path):
    root, _ = fx.make_npy(tmp_path)
    dm = KaggleNpyDataModule(str(root), image_size=8, resize=12, crop="random", num_workers=0)
    dm.setup("fit")
    assert dm.train_set[0]["lab8"].shape == (3, 8, 8)
    assert len({dm.train_set[k]["lab8"].numpy().tobytes() for k in range(0, 11 * 8, 11)}) > 1


def test_mismatched_files(tmp_path):
    root, _ = fx.make_npy(tmp_path)
    np.save(root / "ab" / "ab" / "ab3.npy", np.zeros((2, 16, 16, 2), dtype=np.uint8))
    with pytest.raises(LayoutError, match=r"gray_scale.npy \(12, 16, 16\) uint8, .*ab3.npy \(2, 16, 16, 2\)"):
        KaggleNpyDataModule(str(root)).setup("fit")
