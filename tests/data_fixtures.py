"""Tiny datasets in each publisher's exact on-disk layout, written by the data tests into ``tmp_path``.

Every builder puts ``SPECIALS`` (a grayscale, an RGBA, a corrupt and a zero-byte file) among the training
images and returns ``(root, sizes)``: the folder to pass as ``root`` and the expected split lengths
(listed files, bad ones included: they are skipped when loaded).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorlab.color import batch_to_lab

SPECIALS = ("gray", "rgba", "corrupt", "empty")
UNREADABLE = ("corrupt", "empty")  # of SPECIALS, the ones a loader must skip


def colourful(seed: int, size: tuple[int, int] = (40, 30)) -> np.ndarray:
    """(H, W, 3) uint8: a saturated random hue with a gradient and noise, so crops and flips differ."""
    rng = np.random.default_rng(seed)
    width, height = size
    base = rng.permutation([230, 60, int(rng.integers(60, 230))])
    ramp = np.linspace(-25, 25, width)[None, :, None] + np.linspace(-15, 15, height)[:, None, None]
    noise = rng.normal(0, 6, (height, width, 3))
    return np.clip(base + ramp + noise, 0, 255).astype(np.uint8)


def write_image(path: Path, kind: str = "rgb", seed: int = 0, size: tuple[int, int] = (40, 30)) -> Path:
    """Write one file. Kinds: rgb, gray, rgba (PNG bytes whatever the suffix, as mislabelled files in the
    wild), palette (P with a transparent entry), cmyk (JPEG), i16 (16-bit grey PNG), corrupt (random
    bytes), truncated (first half of a JPEG), empty (zero bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = Image.fromarray(colourful(seed, size))
    suffix_format = {".png": "PNG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
    fmt = suffix_format.get(path.suffix.lower(), "JPEG")
    if kind == "rgb":
        rgb.save(path, format=fmt)
    elif kind == "gray":
        rgb.convert("L").save(path, format=fmt)
    elif kind == "rgba":
        rgba = rgb.convert("RGBA")
        rgba.putalpha(Image.linear_gradient("L").resize(size))
        rgba.save(path, format="PNG")
    elif kind == "palette":
        rgb.quantize(16).save(path, format="PNG", transparency=0)
    elif kind == "cmyk":
        rgb.convert("CMYK").save(path, format="JPEG")
    elif kind == "i16":
        Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257).save(path, format="PNG")
    elif kind == "corrupt":
        path.write_bytes(np.random.default_rng(seed).integers(0, 256, 500, dtype=np.uint8).tobytes())
    elif kind == "truncated":
        buffer = io.BytesIO()
        rgb.save(buffer, format="JPEG")
        path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return path


def fill(
    folder: Path, n: int, prefix: str = "", ext: str = ".jpg", specials: bool = False, seed: int = 0
) -> list[Path]:
    """``n`` colourful images ``<prefix><i><ext>`` in ``folder``, plus ``SPECIALS`` if asked."""
    paths = [write_image(folder / f"{prefix}{i}{ext}", "rgb", seed * 1000 + i) for i in range(n)]
    if specials:
        paths += [write_image(folder / f"{prefix}{kind}{ext}", kind, seed) for kind in SPECIALS]
    return paths


# --------------------------------------------------------------------------------------------
# publishers' layouts


def make_tiny_imagenet(tmp: Path) -> tuple[Path, dict[str, int]]:
    """``tiny-imagenet-200/`` with 3 classes x 5 train images, 6 val, 4 test; root = its parent."""
    top = tmp / "tiny-imagenet-200"
    wnids = ["n01443537", "n01629819", "n01641577"]
    for k, wnid in enumerate(wnids):
        fill(top / "train" / wnid / "images", 5, f"{wnid}_", ".JPEG", specials=k == 0, seed=k)
        (top / "train" / wnid / f"{wnid}_boxes.txt").write_text(f"{wnid}_0.JPEG\t0\t0\t10\t10\n")
    fill(top / "val" / "images", 6, "val_", ".JPEG", seed=10)
    lines = [f"val_{i}.JPEG\t{wnids[i % 3]}\t0\t0\t10\t10" for i in range(6)]
    (top / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    fill(top / "test" / "images", 4, "test_", ".JPEG", seed=20)
    (top / "wnids.txt").write_text("\n".join(wnids) + "\n")
    return tmp, {"train": 15 + len(SPECIALS), "val": 6, "predict": 4}


PLACES_CATEGORIES = ["/a/abbey", "/a/airfield", "/b/bakery/shop"]


def make_places_folders(tmp: Path) -> tuple[Path, dict[str, int]]:
    """The easy format: ``places365_standard/{train,val}/<category>/``; root = its parent."""
    top = tmp / "places365_standard"
    for k, category in enumerate(PLACES_CATEGORIES):
        name = category[3:].replace("/", "-")
        fill(top / "train" / name, 4, "0000000", specials=k == 0, seed=k)
        fill(top / "val" / name, 2, "Places365_val_", seed=10 + k)
    return tmp, {"train": 12 + len(SPECIALS), "val": 6}


def make_places_lists(tmp: Path, challenge: bool = False) -> tuple[Path, dict[str, int]]:
    """The devkit layout: lists + ``data_256/<letter>/<category>/``, ``val_256/``, ``test_256/``."""
    listed = []
    for k, category in enumerate(PLACES_CATEGORIES):
        paths = fill(tmp / "data_256" / category[1:], 4, "0000000", specials=k == 0, seed=k)
        listed += [(f"/{p.relative_to(tmp / 'data_256').as_posix()}", k) for p in paths]
    standard = [entry for entry in listed if "3.jpg" not in entry[0]]  # the challenge list has more
    for name, entries in (("standard", standard), ("challenge", listed)):
        text = "".join(f"{path} {label}\n" for path, label in entries)
        (tmp / f"places365_train_{name}.txt").write_text(text)
    val = fill(tmp / "val_256", 5, "Places365_val_0000000", seed=20)
    (tmp / "places365_val.txt").write_text("".join(f"{p.name} {i % 3}\n" for i, p in enumerate(val)))
    test = fill(tmp / "test_256", 3, "Places365_test_0000000", seed=30)
    (tmp / "places365_test.txt").write_text("".join(f"{p.name}\n" for p in test))
    (tmp / "categories_places365.txt").write_text(
        "".join(f"{c} {i}\n" for i, c in enumerate(PLACES_CATEGORIES))
    )
    return tmp, {"train": len(listed) if challenge else len(standard), "val": 5, "predict": 3}


def make_places_extra(tmp: Path) -> tuple[Path, dict[str, int]]:
    """A Places-Extra69-style set: ``train/<category>/`` and a small ``test/<category>/``, no val."""
    top = tmp / "places_extra69"
    for k, (n_train, n_test) in enumerate([(30, 2), (16, 2), (8, 2)]):
        fill(top / "train" / f"category{k}", n_train, specials=k == 0, seed=k)
        fill(top / "test" / f"category{k}", n_test, "test_", seed=10 + k)
    total = 30 + 16 + 8 + 6 + len(SPECIALS)  # 64 merged
    return top, {"train": total - 7 - 7, "val": 7, "test": 7}  # held-out parts: ceil(0.1 * 64) = 7


def make_fruit_recognition(tmp: Path) -> tuple[Path, dict[str, int]]:
    """kaggle fruit-recognition: ``train/train/<Fruit>/``, unlabeled ``test/test/``."""
    for k, fruit in enumerate(["Apple Braeburn", "Banana", "Kiwi"]):
        fill(tmp / "train" / "train" / fruit, 4, f"{fruit}_", specials=k == 0, seed=k)
    fill(tmp / "test" / "test", 5, seed=10)
    return tmp, {"train": 12 + len(SPECIALS), "val": 5, "predict": 5}


def make_fruits360(tmp: Path) -> tuple[Path, dict[str, int]]:
    """Fruits-360: ``fruits-360/{Training,Test}/<Fruit>/`` of 100x100 images; root = two levels up."""
    top = tmp / "fruits-360_dataset" / "fruits-360"
    for k, fruit in enumerate(["Apple Red 1", "Banana"]):
        fill(top / "Training" / fruit, 5, "r_", specials=k == 0, seed=k)
        fill(top / "Test" / fruit, 2, "r_", seed=10 + k)
    return tmp, {"train": 10 + len(SPECIALS), "val": 4}


ANIMALS_10 = [
    "cane",
    "cavallo",
    "elefante",
    "farfalla",
    "gallina",
    "gatto",
    "mucca",
    "pecora",
    "ragno",
    "scoiattolo",
]


def make_animals10(tmp: Path) -> tuple[Path, dict[str, int]]:
    """Animals-10: ``raw-img/<italian>/`` with jpeg, jpg and png files; root = its parent. Sizes are for
    the Padova subset (dog, chicken, horse, cat: 4 x 10 images, 10 % held out per class)."""
    for k, name in enumerate(ANIMALS_10):
        fill(tmp / "raw-img" / name, 6, "OIP-", ".jpeg", seed=k)
        fill(
            tmp / "raw-img" / name,
            4,
            "e83",
            ".png" if k % 2 else ".jpg",
            specials=name == "cane",
            seed=50 + k,
        )
    (tmp / "translate.py").write_text("translate = {'cane': 'dog'}\n")
    return tmp, {"train": 44 - 5, "val": 5}  # 14 + 3 x 10 images; held out: ceil(0.1 * 44)


def make_folder(tmp: Path) -> tuple[Path, dict[str, int]]:
    """A user's photos: every supported suffix, nested folders, and hidden files that must be ignored."""
    top = tmp / "photos"
    for k, ext in enumerate([".jpg", ".JPEG", ".png", ".webp", ".bmp", ".tif", ".tiff"]):
        fill(top / ("holiday" if k % 2 else "garden/2024"), 2, f"img{k}_", ext, seed=k)
    fill(top, 0, specials=True)
    write_image(top / ".thumbnails" / "a.jpg")
    write_image(top / ".hidden.jpg")
    (top / "notes.txt").write_text("not an image")
    return top, {"train": 18 - 2, "val": 2, "predict": 18}  # held out: ceil(0.1 * 18)


def make_npy(
    tmp: Path, n: int = 12, side: int = 16, counts: tuple[int, ...] = (5, 4, 3)
) -> tuple[Path, np.ndarray]:
    """The Kaggle NPY set from random sRGB images: returns (root, rgb (n, side, side, 3) uint8).

    Lab comes from skimage (the outside reference), encoded as OpenCV's 8-bit Lab.
    """
    from skimage.color import rgb2lab

    rgb = np.stack([colourful(i, (side, side)) for i in range(n)])
    rgb[:, : side // 2, : side // 2] = np.random.default_rng(0).integers(0, 256, (n, side // 2, side // 2, 3))
    lab = rgb2lab(rgb.astype(np.float64) / 255.0)
    lab8 = np.clip(np.rint(np.concatenate([lab[..., :1] * 255 / 100, lab[..., 1:] + 128], axis=-1)), 0, 255)
    lab8 = lab8.astype(np.uint8)
    (tmp / "l").mkdir(parents=True)
    (tmp / "ab" / "ab").mkdir(parents=True)
    np.save(tmp / "l" / "gray_scale.npy", lab8[..., 0])
    starts = np.cumsum((0, *counts))
    for k in range(len(counts)):
        np.save(tmp / "ab" / "ab" / f"ab{k + 1}.npy", lab8[starts[k] : starts[k + 1], ..., 1:])
    return tmp, rgb


# --------------------------------------------------------------------------------------------
# checks


def check_batch(batch: dict, size: int, key: str = "rgb") -> None:
    """The batch contract: uint8 (B, 3, size, size) images, int64 indices, Lab in range on conversion."""
    images = batch[key]
    assert images.dtype == torch.uint8, images.dtype
    assert images.ndim == 4 and tuple(images.shape[1:]) == (3, size, size), tuple(images.shape)
    assert batch["index"].dtype == torch.int64 and batch["index"].shape == (images.shape[0],)
    assert images.float().std() > 0, "all pixels equal"
    lab = batch_to_lab(batch)
    assert lab[:, 0].min() >= -1e-3 and lab[:, 0].max() <= 100 + 1e-3
    assert lab[:, 1:].abs().max() <= 128
