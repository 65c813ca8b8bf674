"""Colorize real photos at their full resolution (``colorlab.colorize`` adds videos and the command).

    python -m colorlab colorize --input photos/ --output colorized/ --compare true   # the zoo's default model
    python -m colorlab colorize --ckpt_path RUN.ckpt --input photos/                 # a checkpoint of yours

The path every image (and video frame) takes:

    file -> PIL, EXIF orientation applied -> a copy downscaled to the model's working size (its training
    resolution's shorter side, aspect kept; ``--size``) -> L -> net -> ab at the working size
    -> ab upsampled bilinearly, row strip by row strip, next to the original full-resolution L -> sRGB -> file

as in Zhang et al.'s code, DDColor and the SRM review: the network sees a small image, the output keeps
every detail of the input's L. Colour photos are colorized from their L alone (their colour is ignored).
Colour maths is ``colorlab.color``'s, always float32, in row strips of at most ``STRIP_PIXELS`` (2 megapixels,
about 100 MB of floats), so memory grows with the photo only by its 8-bit input and output (3 bytes per pixel
each): an 8000x6000 photo needs a few hundred MB (144 MB in, 144 MB out, one strip), not gigabytes.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from tqdm import tqdm

from colorlab import color
from colorlab.data.decoding import to_rgb
from colorlab.data.layout import IMAGE_EXTENSIONS, list_images
from colorlab.errors import ColorlabError, MissingFileError
from colorlab.machine import pick_device
from colorlab.network import ColorModel, from_checkpoint
from colorlab.objectives import Classification

STRIP_PIXELS = 1 << 21  # pixels per row strip of the full-resolution recombination (~2 MP, ~100 MB of floats)
BATCH_PIXELS = 50_000_000  # full-resolution pixels held at once by one batch of images (+ --batch_size)
FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP", "tif": "TIFF", "tiff": "TIFF", "bmp": "BMP"}
Precision = Literal["auto", "32", "16", "bf16"]


# ------------------------------------------------------------------------------ model
def load_model(
    ckpt_path: str | os.PathLike | None = None,
    device: str = "auto",
    decoding: color.Decoding | None = None,
    temperature: float | None = None,
    model: str | None = None,
) -> ColorModel:
    """Zoo model ``model``'s ColorModel (``colorlab.zoo``; neither argument: the zoo's default), or a checkpoint's
    net and objective, loaded safely (``colorlab.checkpoint``), in eval mode on ``device`` ("auto": CUDA when
    there is one); ``decoding`` / ``temperature`` replace a classifier's saved ones. Imports neither Lightning
    nor timm (``colorlab.network``)."""
    if ckpt_path is not None and model is not None:
        raise ColorlabError(f"give --ckpt_path or --model, not both (got {ckpt_path} and {model})")
    if ckpt_path is None:
        from colorlab import zoo

        model = zoo.default_name() if model is None else model
        loaded, source = zoo.load(model), f"zoo model {model}"
    else:
        loaded, source = from_checkpoint(ckpt_path), str(ckpt_path)
    if decoding is not None or temperature is not None:
        if not isinstance(loaded.objective, Classification):
            raise ColorlabError(f"--decoding / --temperature apply to classifiers; {source} is a regression model")
        loaded.objective.set_decoding(decoding, temperature)
    return loaded.to(pick_device(device)).eval()


class Colorizer:
    """A model ready to colorize whole images: working size, precision and batch size.

    Args:
        model: a ColorModel (e.g. from ``load_model``).
        size: the model's input size: None = the checkpoint's training resolution's shorter side, aspect
            kept; [S] = shorter side S px, aspect kept; [H, W] = exactly H x W.
        precision: "auto" (float16 autocast on CUDA, float32 elsewhere), "32", "16" or "bf16"; the colour
            maths is float32 whatever this says.
        batch_size: images (or video frames) per forward pass.
    """

    def __init__(
        self, model: ColorModel, size: list[int] | None = None, precision: Precision = "auto", batch_size: int = 8
    ) -> None:
        if size is not None and (len(size) not in (1, 2) or min(size) < 1):
            raise ColorlabError(f"size must be [S] (shorter side) or [H, W], positive px; got {size}")
        if size is None and model.train_resolution is None:
            raise ColorlabError("the checkpoint records no training resolution: give the model's input size (--size S)")
        if precision not in ("auto", "32", "16", "bf16"):
            raise ColorlabError(f"precision must be auto, 32, 16 or bf16; got {precision!r}")
        if batch_size < 1:
            raise ColorlabError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.size, self.batch_size = model, size, batch_size
        self.device = model.device
        if precision == "auto":
            precision = "16" if self.device.type == "cuda" else "32"
        self.dtype = {"32": None, "16": torch.float16, "bf16": torch.bfloat16}[precision]

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) of the model's input for an image of height x width."""
        if self.size is not None and len(self.size) == 2:
            return self.size[0], self.size[1]
        side = self.size[0] if self.size is not None else min(self.model.train_resolution)
        scale = side / min(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))

    @torch.no_grad()
    def predict_ab(self, rgb: torch.Tensor) -> torch.Tensor:
        """(B, 3, h, w) float RGB in [0, 1] at the working size -> (B, 2, h, w) float32 ab/128 predicted from
        its L alone."""
        x_l, _ = color.normalize(color.rgb_to_lab(rgb.to(self.device)))
        with torch.autocast(self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None):
            return self.model(x_l).float()


# ------------------------------------------------------------------------------ pictures
@dataclass
class Picture:
    """A decoded image, EXIF orientation applied.

    Attributes:
        pixels: (H, W, 3) uint8 RGB, or (H, W) uint8 or uint16 grey (16-bit files keep their precision).
        alpha: (H, W) uint8 alpha channel, or None.
        icc_profile, exif: what the output carries over (EXIF orientation already applied, so removed).
        format: the file's PIL format ("JPEG", "PNG", ...).
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    icc_profile: bytes | None = None
    exif: bytes | None = None
    format: str | None = None

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    def rgb(self, rows: slice = slice(None)) -> torch.Tensor:
        """(1, 3, r, W) float32 RGB in [0, 1] of the given rows (grey replicated to three channels)."""
        part = torch.from_numpy(self.pixels[rows].copy())  # a strip; PIL's arrays are read-only
        scale = 65535.0 if part.dtype == torch.uint16 else 255.0
        part = part.float() / scale
        return (part[None, None].expand(1, 3, -1, -1) if part.ndim == 2 else part.permute(2, 0, 1)[None]).contiguous()

    def rgb8(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB (16-bit grey rounded to 8 bits)."""
        pixels = self.pixels
        if pixels.dtype == np.uint16:
            pixels = ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        return np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels

    def resized(self, size: tuple[int, int]) -> torch.Tensor:
        """(1, 3, h, w) float RGB in [0, 1] resized to size = (h, w), bilinear and antialiased as the
        training data (``data.decoding.resize_shorter``)."""
        h, w = size
        pixels = self.pixels if self.pixels.dtype == np.uint8 else self.pixels.astype(np.float32) / 65535.0
        small = np.asarray(Image.fromarray(pixels).resize((w, h), Image.Resampling.BILINEAR))
        scale = 255.0 if small.dtype == np.uint8 else 1.0
        small = torch.from_numpy(small.copy()).float() / scale
        return small[None, None].expand(1, 3, -1, -1) if small.ndim == 2 else small.permute(2, 0, 1)[None]


def read_picture(path: str | os.PathLike) -> Picture:
    """Decode an image file: EXIF orientation applied, alpha kept, 16-bit grey kept at 16 bits, palettes
    expanded, other modes converted to RGB (``data.decoding.to_rgb``). Raises OSError for unreadable files."""
    with Image.open(path) as image:
        image.load()
        file_format = image.format
        ImageOps.exif_transpose(image, in_place=True)  # in place: no copy of an upright photo
        return _picture(image, file_format)


def _picture(image: Image.Image, file_format: str | None) -> Picture:
    """The Picture of a decoded, upright PIL image."""
    exif = image.getexif()
    info = {"icc_profile": image.info.get("icc_profile"), "exif": exif.tobytes() if len(exif) else None}
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(image.convert("RGBA"))
        return Picture(rgba[..., :3], rgba[..., 3].copy(), format=file_format, **info)
    if mode.startswith("I;16") or mode == "I":
        return Picture(np.clip(np.asarray(image), 0, 65535).astype(np.uint16), format=file_format, **info)
    if mode == "L":
        return Picture(np.asarray(image), format=file_format, **info)
    return Picture(np.asarray(to_rgb(image)), format=file_format, **info)


def upsample_rows(ab_x: torch.Tensor, rows: slice, height: int) -> torch.Tensor:
    """Rows ``rows`` of the bilinear (align_corners=False) upsampling of ab to ``height`` rows.

    Args:
        ab_x: (B, C, h, W) already at the output width (bilinear upsampling is separable, so doing the
            columns first and the rows strip by strip gives exactly ``F.interpolate(ab, (height, W))``).
        rows: a slice of range(height) with step 1.
        height: the output height.

    Returns:
        (B, C, len(rows), W).
    """
    h = ab_x.shape[-2]
    y = torch.arange(rows.start or 0, rows.stop, device=ab_x.device, dtype=torch.float32)
    src = ((y + 0.5) * (h / height) - 0.5).clamp(min=0)  # PyTorch's source-index rule for bilinear
    top = src.floor().long().clamp(max=h - 1)
    weight = (src - top).view(-1, 1)  # (r, 1)
    bottom = (top + 1).clamp(max=h - 1)
    return torch.lerp(ab_x[..., top, :], ab_x[..., bottom, :], weight)


def full_resolution_lab(picture: Picture, ab: torch.Tensor) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
    """Recombine predicted ab with the picture's own full-resolution L, one row strip at a time.

    Args:
        picture: the input.
        ab: (1, 2, h, w) ab/128 predicted at the working size.

    Yields:
        (rows, lab, x_l): the strip's rows, (1, 3, r, W) float32 Lab with L exactly the input's (as
        ``color.denormalize`` of ``color.normalize``), and the strip's (1, 1, r, W) x_l = L/100.
    """
    height, width = picture.height, picture.width
    ab_x = F.interpolate(ab.float(), size=(ab.shape[-2], width), mode="bilinear", align_corners=False)
    step = max(1, STRIP_PIXELS // width)
    for top in range(0, height, step):
        rows = slice(top, min(height, top + step))
        x_l, _ = color.normalize(color.rgb_to_lab(picture.rgb(rows).to(ab.device)))
        yield rows, color.denormalize(x_l, upsample_rows(ab_x, rows, height)), x_l


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    """(1, 3, r, W) float RGB in [0, 1] -> (r, W, 3) uint8."""
    return (rgb[0].permute(1, 2, 0) * 255.0).round().clamp(0, 255).byte().cpu().numpy()


def render(picture: Picture, ab: torch.Tensor, grey: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The colorized picture as (H, W, 3) uint8 RGB and, with ``grey``, its grayscale version (its L alone, a = b =
    0) from the same pass over the picture; else None."""
    out = np.empty((picture.height, picture.width, 3), dtype=np.uint8)  # filled strip by strip
    grey_out = np.empty_like(out) if grey else None
    for rows, lab, x_l in full_resolution_lab(picture, ab):
        out[rows] = to_uint8(color.lab_to_rgb(lab))
        if grey_out is not None:
            grey_out[rows] = to_uint8(color.lab_to_rgb(color.denormalize(x_l, torch.zeros_like(lab[:, 1:]))))
    return out, grey_out


def side_by_side(*images: np.ndarray, gap: int = 8) -> np.ndarray:
    """(H, W_i, 3) uint8 images of one height in a row, ``gap`` px of white between them."""
    white = np.full((images[0].shape[0], gap, 3), 255, dtype=np.uint8)
    return np.concatenate([part for image in images for part in (white, image)][1:], axis=1)


def write_picture(rgb: np.ndarray, picture: Picture, path: Path, alpha: bool = True) -> None:
    """Save (H, W, 3) uint8 ``rgb`` to ``path`` in the format its suffix names, with the input's alpha (where
    the format has one and ``alpha``), ICC profile and EXIF (orientation already applied)."""
    file_format = FORMATS.get(path.suffix.lower().lstrip("."))
    if file_format is None:
        raise ColorlabError(f"cannot write {path.suffix!r} files; formats: {', '.join(FORMATS)}")
    image = Image.fromarray(rgb)
    if alpha and picture.alpha is not None and file_format in ("PNG", "WEBP", "TIFF"):
        image.putalpha(Image.fromarray(picture.alpha))
    options: dict[str, Any] = {"quality": 95} if file_format in ("JPEG", "WEBP") else {}
    if file_format != "BMP":
        options.update({k: v for k, v in (("icc_profile", picture.icc_profile), ("exif", picture.exif)) if v})
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=file_format, **options)


# ------------------------------------------------------------------------------ many files
@dataclass
class Summary:
    """What a ``colorize`` run did: files written, outputs that existed (skipped), inputs that failed."""

    written: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0  # spent colorizing, model loading excluded

    def __str__(self) -> str:
        head = (f"{len(self.written)} written, {len(self.existing)} skipped (output exists), {len(self.failed)} "
                f"failed, in {self.seconds:.1f} s")
        return "\n".join([head, *(f"  failed: {path}: {reason}" for path, reason in self.failed.items())])


def find_inputs(source: str, exclude: Path | None = None) -> tuple[list[Path], Path]:
    """The files ``source`` names (an image or video, a folder searched recursively for images, or a glob)
    and the folder outputs are laid out relative to. Files below ``exclude`` (the output folder) are left out."""
    path = Path(source)
    if path.is_file():
        return [path], path.parent
    if path.is_dir():
        found, base = [Path(p) for p in list_images(path)], path
    elif glob.has_magic(source):
        found = sorted(Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file())
        static = [part for part in Path(source).parts if not glob.has_magic(part)]
        base = Path(*Path(source).parts[: len(static)]) if static else Path(".")
        base = base if base.is_dir() else base.parent
    else:
        raise MissingFileError(f"--input: no such file, folder or glob match: {source}")
    if exclude is not None:
        found = [p for p in found if not p.resolve().is_relative_to(exclude.resolve())]
    if not found:
        raise MissingFileError(f"--input: {source} holds no images ({' '.join(IMAGE_EXTENSIONS)})")
    return found, base


def output_path(source: Path, base: Path, output: Path, file_format: str | None, suffix: str = "") -> Path:
    relative = source.relative_to(base) if source.is_relative_to(base) else Path(source.name)
    extension = f".{file_format.lower()}" if file_format else source.suffix
    return output / relative.parent / f"{relative.stem}{suffix}{extension}"


def colorize_images(
    colorizer: Colorizer,
    sources: list[Path],
    destinations: list[Path],
    compare: bool = False,
    progress: bool = True,
) -> Summary:
    """Colorize image files to ``destinations`` (same order), ``colorizer.batch_size`` images of the same
    working size per forward pass; unreadable inputs are reported in the summary and skipped.
    With ``compare``, ``<name>_compare.<ext>`` (grayscale | result | original) is written next to each."""
    summary = Summary()
    batch: list[tuple[Path, Path, Picture]] = []

    def flush() -> None:
        if not batch:
            return
        ab = colorizer.predict_ab(torch.cat([pic.resized(colorizer.working_size(pic.height, pic.width))
                                             for _, _, pic in batch]))
        for i, (source, destination, picture) in enumerate(batch):
            try:
                rgb, grey = render(picture, ab[i : i + 1], grey=compare)
                write_picture(rgb, picture, destination)
                if grey is not None:  # grayscale | result | original
                    compared = destination.with_name(f"{destination.stem}_compare{destination.suffix}")
                    write_picture(side_by_side(grey, rgb, picture.rgb8()), picture, compared, alpha=False)
                summary.written.append(destination)
            except (OSError, ValueError) as err:
                summary.failed[str(source)] = f"{type(err).__name__}: {err}"
        batch.clear()

    for source, destination in tqdm(list(zip(sources, destinations)), desc="colorize", unit="image",
                                    disable=not progress or len(sources) < 2):
        try:
            picture = read_picture(source)
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            summary.failed[str(source)] = f"unreadable image ({type(err).__name__}: {err})"
            continue
        size = colorizer.working_size(picture.height, picture.width)
        held = sum(p.height * p.width for _, _, p in batch) + picture.height * picture.width
        if batch and (len(batch) >= colorizer.batch_size or held > BATCH_PIXELS
                      or colorizer.working_size(batch[0][2].height, batch[0][2].width) != size):
            flush()
        batch.append((source, destination, picture))
    flush()
    return summary
