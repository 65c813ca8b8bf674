"""Procedural scenes: an endless, file-free colorization dataset whose colours follow from what the
grayscale shows (texture, luminance, position), like photos do, plus one class that luminance cannot decide.

Every image is a pure function of ``(seed, index)``: the same item whatever the worker, order or batch.
A batch renders in vectorised numpy passes (``__getitems__``), several thousand 64x64 images per second
on one core (``benchmarks/procedural_speed.py``), so no worker processes are needed.

Scene grammar (sizes relative to the image height H; every choice drawn per image)::

    scene   := sky ground objects
    sky     := above a hilly horizon 30-55 % down: deep blue at the top, paler and brighter
               towards the horizon (white haze), soft white clouds
    ground  := 1-3 horizontal bands with wavy borders, each one material:
                 grass   green        mid-dark, thin vertical blades (high-frequency noise)
                 water   blue-cyan    mid, horizontal ripple streaks with bright glints
                 sand    pale yellow  bright, fine low-contrast grain and wind ripples
                 soil    brown        dark, isotropic blotches and dark pebbles
    objects := 0-3 discs or boxes standing on the ground (15 % float in the sky as balloons),
               nearer ones lower, larger and drawn later; the TEXTURE fixes the colour:
                 stripes orange       checks  purple       smooth  red
                 dots    green or magenta at equal odds, with the same Lab L (see below)

Luminance varies per image (exposure) and per region (brightness, shading, light direction), and so do
placement, size, shape and texture frequency/orientation, so colour has to be read from texture and
context, not from a fixed grey level. The dotted class is deliberately multimodal: its two colours
(``DOT_COLORS``) are opposite in ab (distance ~155) but have exactly the same relative luminance Y, and
every dotted pixel is that colour times a luminance factor drawn independently of the colour, so the
grayscale of a green and a magenta dotted object have the same distribution, pixel for pixel. A
regression model can only predict their mean, grey; a classifier can pick a vivid mode.

Rendering is in linear light: ``rgb_lin = palette[material] * lum + haze`` (``haze`` is the white of sky
and clouds), then encoded to 8-bit sRGB through a lookup table. Because shading only scales a linear
colour, a pixel's Y, hence its L, is ``Y(palette colour) * lum`` exactly, up to uint8 rounding.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from colorlab.data.base import ColorDataModule
from colorlab.errors import ColorlabError

MATERIALS = ("sky", "grass", "water", "sand", "soil", "stripes", "checks", "smooth", "dots")
"""Names of the label ids ``ProceduralScenes.render`` returns; id = position in this tuple."""

SKY, GRASS, WATER, SAND, SOIL, STRIPES, CHECKS, SMOOTH, DOTS = range(len(MATERIALS))
_DOTS_ALT = len(MATERIALS)  # palette row of the dotted class's second colour; labelled DOTS

_TILE = 256  # texture tile side, pixels; a power of two so wrapping is a bit mask
_N_DRAWS = 96  # uniform draws per image; the renderer takes what it needs in a fixed order
_SLOTS = 3  # object slots per image
_SLOT_ODDS = (0.85, 0.6, 0.35)  # P(slot used): 0-3 objects, about 1.8 on average
_DARK = 0.45  # luminance of the dark half of a two-tone texture (stripes, checks, dots)
_LUT_STEPS = 4096  # linear-light quantisation of the sRGB lookup table; finer than one uint8 step
_CHUNK = 16  # images rendered per vectorised pass (see ProceduralScenes.render)


def _srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """The sRGB transfer function (IEC 61966-2-1), for defining constants; values in [0, 1]."""
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)


def _luminance(lin: np.ndarray) -> np.ndarray:
    """Relative luminance Y of linear sRGB (Rec. 709 primaries, D65): what Lab L is a function of."""
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def _equal_luminance_pair(first: Sequence[int], second: Sequence[int]) -> np.ndarray:
    """(2, 3) uint8 sRGB: ``first``, and ``second``'s hue and saturation scaled to ``first``'s luminance,
    so the two have the same Lab L and differ only in a and b."""
    lin = _srgb_to_linear(np.array([first, second], dtype=np.float64) / 255)
    lin[1] *= _luminance(lin[0]) / _luminance(lin[1])
    return np.round(_linear_to_srgb(lin) * 255).astype(np.uint8)


DOT_COLORS = _equal_luminance_pair((204, 51, 204), (51, 204, 51))
"""(2, 3) uint8 sRGB: the dotted class's magenta and green, chosen at equal odds: Lab L 51.3 both,
ab about (+75, -47) and (-51, +46)."""

PALETTE = np.array(
    [
        (60, 130, 220),  # sky, at the zenith; haze pales it towards the horizon
        (70, 150, 40),  # grass
        (20, 125, 165),  # water
        (225, 200, 135),  # sand
        (120, 78, 48),  # soil
        (245, 130, 20),  # stripes: orange
        (125, 55, 190),  # checks: purple
        (210, 30, 30),  # smooth: red
        *DOT_COLORS,  # dots: magenta (DOTS), green (_DOTS_ALT)
    ],
    dtype=np.uint8,
)
"""(10, 3) uint8 sRGB base colour of each material, at luminance factor 1."""

# (3, 10) channel-major, pre-scaled to lookup-table steps
_PALETTE_CODES = (_srgb_to_linear(PALETTE / 255).T * (_LUT_STEPS - 1)).astype(np.float32)
_SRGB_LUT = np.round(_linear_to_srgb(np.linspace(0, 1, _LUT_STEPS)) * 255).astype(np.uint8)


@functools.cache
def _tiles() -> np.ndarray:
    """(5, T, T) float32 periodic texture tiles, indexed by material id: cloud density (zero mean, unit
    std) for the sky, luminance multipliers (mean about 1) for the ground materials.

    Built once from a fixed seed; images read them at a random offset, so they are constants of the
    dataset, not randomness.
    """
    rng = np.random.default_rng(0x5CE7E5)
    freq = np.fft.fftfreq(_TILE).astype(np.float32)

    def noise(sigma_y: float, sigma_x: float) -> np.ndarray:
        """Periodic Gaussian-filtered white noise, zero mean, unit std; sigmas in pixels."""
        white = np.fft.fft2(rng.standard_normal((_TILE, _TILE)))
        kernel = np.exp(-2 * np.pi**2 * ((sigma_y * freq[:, None]) ** 2 + (sigma_x * freq[None, :]) ** 2))
        field = np.fft.ifft2(white * kernel).real
        return (field - field.mean()) / field.std()

    clouds = noise(6, 12)  # soft, wider than tall
    grass = 1 + 0.35 * noise(1.6, 0.45) + 0.12 * noise(8, 8)  # thin vertical blades over patches
    water = 1 + 0.25 * noise(0.6, 9) + 0.8 * (noise(0.5, 4) > 2.3)  # horizontal streaks, glints
    sand = 1 + 0.05 * noise(0.5, 0.5) + 0.07 * noise(1.2, 10)  # fine grain, wind ripples
    soil = 1 + 0.3 * noise(2.2, 2.2) - 0.35 * (noise(0.8, 0.8) > 1.6)  # blotches, dark pebbles
    ground = np.clip(np.stack([grass, water, sand, soil]), 0.2, 2.5)  # luminance stays positive
    return np.concatenate([clouds[None], ground]).astype(np.float32)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele et al. 2014): a bijective uint64 hash; numpy arrays wrap on overflow."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _uniforms(seed: int, indices: np.ndarray, n: int) -> np.ndarray:
    """(B, n) float32 in [0, 1): draw j of image i is a hash of (seed, indices[i], j), so an image's
    draws depend on nothing else (not batch, order or worker)."""
    key = _splitmix64(np.array([seed % 2**64], dtype=np.uint64))
    key = _splitmix64(key ^ indices.astype(np.uint64))  # (B,)
    bits = _splitmix64(key[:, None] + np.arange(n, dtype=np.uint64) * np.uint64(0xD1B54A32D192ED03))
    return (bits >> np.uint64(40)).astype(np.float32) * np.float32(2**-24)  # 24 bits: exact in float32


class _Draws:
    """Named per-image random draws for a batch, taken column by column from a (B, n) uniform matrix.
    Each method returns k draws per image as (B, k, 1): with k = 1, ready to broadcast over (B, H, W)."""

    def __init__(self, u: np.ndarray) -> None:
        self.u = u
        self.j = 0

    def uniform(self, lo: float, hi: float, k: int = 1) -> np.ndarray:
        if self.j + k > self.u.shape[1]:
            raise RuntimeError(f"renderer needs more than {self.u.shape[1]} draws per image")
        col = self.u[:, self.j : self.j + k]
        self.j += k
        return (np.float32(lo) + np.float32(hi - lo) * col)[:, :, None]

    def integers(self, n: int, k: int = 1) -> np.ndarray:
        return np.minimum(self.uniform(0, n, k), n - 1).astype(np.int64)

    def chance(self, p: float | Sequence[float], k: int = 1) -> np.ndarray:
        return self.uniform(0, 1, k) < np.asarray(p, dtype=np.float32).reshape(1, -1, 1)


class ProceduralScenes(Dataset):
    """Procedural little scenes (sky, ground bands, textured objects); see the module docstring.

    Items are ``{"rgb": uint8 (3, H, W) sRGB, "index": int}``, identical for the same ``(seed, index)``.

    Args:
        length: number of items.
        seed: dataset seed; different seeds give unrelated images.
        size: image size, ``H = W = size`` or ``(H, W)``, pixels.
    """

    def __init__(self, length: int, seed: int = 0, size: int | tuple[int, int] = 64) -> None:
        if length < 0:
            raise ColorlabError(f"length must be >= 0, got {length}")
        height, width = (size, size) if isinstance(size, int) else tuple(size)
        if height < 8 or width < 8:
            raise ColorlabError(f"size must be at least 8 pixels per side, got {size}")
        self.length = length
        self.seed = seed
        self.size = (height, width)

    def __len__(self) -> int:
        return self.length

    def _check(self, indices: Sequence[int]) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -self.length or idx.max() >= self.length):
            raise IndexError(f"index out of range for {self.length} items, got {idx.min()}..{idx.max()}")
        return np.where(idx < 0, idx + self.length, idx)

    def __getitem__(self, index: int) -> dict:
        idx = self._check([index])
        rgb, _ = self.render(idx)
        return {"rgb": rgb[0], "index": int(idx[0])}

    def __getitems__(self, indices: Sequence[int]) -> list[dict]:
        """A whole batch in one vectorised render; the DataLoader calls this instead of ``__getitem__``."""
        idx = self._check(indices)
        rgb, _ = self.render(idx)
        return [{"rgb": image, "index": int(i)} for image, i in zip(rgb, idx)]

    def render(self, indices: Sequence[int] | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Render images by index, with their material labels.

        Args:
            indices: B non-negative item indices (not checked against ``len``: the scene family is endless).

        Returns:
            ``rgb``: uint8 (B, 3, H, W) sRGB; ``label``: uint8 (B, H, W), ids into ``MATERIALS``.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and idx.min() < 0:
            raise ColorlabError(f"indices must be non-negative, got {idx.min()}")
        # Chunks of _CHUNK images keep the renderer's working arrays in cache: ~2x faster than one pass.
        chunks = [
            _render(self.seed, idx[i : i + _CHUNK], *self.size) for i in range(0, max(len(idx), 1), _CHUNK)
        ]
        rgb, mat = (np.concatenate(part) for part in zip(*chunks))
        label = np.where(mat == _DOTS_ALT, DOTS, mat).astype(np.uint8)
        return torch.from_numpy(rgb), torch.from_numpy(label)


def _render(seed: int, indices: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (B, 3, H, W) sRGB and uint8 (B, H, W) palette rows (materials, with _DOTS_ALT).

    Speed: per-pixel work is plain float32 arithmetic (masks blend by multiplication, since np.where and
    fancy indexing cost several times more per pixel) and flat ``take``; per-image values are drawn once as
    (B, 1, 1) and per-row / per-column terms stay (B, H, 1) / (B, 1, W) until they meet.
    """
    batch = len(indices)
    d = _Draws(_uniforms(seed, indices, _N_DRAWS))
    f32 = np.float32
    y = np.arange(height, dtype=f32)[None, :, None]  # (1, H, 1), pixels
    x = np.arange(width, dtype=f32)[None, None, :]  # (1, 1, W)
    x_unit = x / f32(width)

    # Layout: a hilly horizon (B, 1, W) and up to two wavy borders between ground bands (B, 2, W).
    exposure = d.uniform(0.6, 1.1)
    horizon_mid = d.uniform(0.3, 0.55) * height
    hills = d.uniform(0, 0.25) ** 2 * height  # amplitude: mostly gentle, sometimes hilly
    horizon = horizon_mid + hills * np.sin(2 * np.pi * (d.uniform(0.3, 2) * x_unit + d.uniform(0, 1)))
    ground = height - horizon_mid  # (B, 1, 1) rows below the horizon's mid line
    n_bands = d.integers(3) + 1  # 1..3
    cuts = np.sort(d.uniform(0.15, 0.85, 2), axis=1)  # (B, 2, 1) fractions of the ground
    wave_phase = 2 * np.pi * (d.uniform(0.5, 3, 2) * x_unit + d.uniform(0, 1, 2))  # (B, 2, W)
    borders = horizon_mid + ground * cuts + d.uniform(0, 0.05, 2) * height * np.sin(wave_phase)
    borders = np.where(np.arange(2)[None, :, None] < n_bands - 1, borders, np.inf)  # unused: below the image
    band = (y >= borders[:, :1]).astype(np.intp) + (y >= borders[:, 1:])  # (B, H, W) in 0..2
    # Ground materials, neighbours always different: m, then 1..3 steps on round the 4 materials.
    steps = np.concatenate([d.integers(4), d.integers(3, 2) + 1], axis=1).cumsum(1)  # (B, 3, 1)
    band_mat = GRASS + steps.reshape(batch, 3) % 4  # (B, 3)
    ground_mat = band_mat.ravel().take(band + 3 * np.arange(batch)[:, None, None])
    sky = y < horizon  # (B, H, W)
    mat = ground_mat * ~sky  # SKY == 0

    # Texture tiles at a random offset per image: cloud density in the sky, luminance on the ground.
    rows = (np.arange(height)[None, :, None] + d.integers(_TILE)) & (_TILE - 1)  # (B, H, 1)
    cols = (np.arange(width)[None, None, :] + d.integers(_TILE)) & (_TILE - 1)  # (B, 1, W)
    tex = _tiles().ravel().take(mat * _TILE**2 + (rows * _TILE + cols))  # (B, H, W)

    # Sky: blue dimmed where cloudy, plus white haze growing towards the horizon and in the clouds.
    cloud = np.clip((tex - d.uniform(0.2, 2.2)) * f32(0.6), 0, 1) * d.uniform(0.6, 1)
    sky_lum = d.uniform(0.75, 1.05) * exposure * (1 - cloud)
    towards_horizon = np.clip(y / horizon_mid, 0, 1) ** 2  # (B, H, 1)
    haze = (d.uniform(0.12, 0.35) * towards_horizon + cloud * f32(0.8)) * exposure
    brightness = (d.uniform(0.75, 1.15, 5) * exposure).reshape(batch, 5)  # (B, 5) per material
    ground_lum = tex * brightness.ravel().take(mat + 5 * np.arange(batch)[:, None, None])
    lum = ground_lum + sky * (sky_lum - ground_lum)

    # Objects: per image and slot, (B, S, 1); drawn farthest first.
    obj = {
        "present": d.chance(_SLOT_ODDS, _SLOTS),
        "kind": d.integers(4, _SLOTS),  # 0..3: stripes, checks, smooth, dots
        "alt": d.chance(0.5, _SLOTS),  # dots only: green instead of magenta
        "in_sky": d.chance(0.15, _SLOTS),
        "depth": d.uniform(0, 1, _SLOTS),
        "scale": d.uniform(0.85, 1.2, _SLOTS),
        "aspect": d.uniform(0.7, 1.5, _SLOTS),  # height / width
        "cx": d.uniform(0.08, 0.92, _SLOTS) * width,
        "round": d.chance(0.5, _SLOTS),
        "lum": d.uniform(0.45, 1.0, _SLOTS) * exposure,
        "light": d.uniform(0, 2 * np.pi, _SLOTS),
        "period": d.uniform(5, 9, _SLOTS) * (height / 64),  # texture period, pixels at 64x64
        "angle": d.uniform(0, np.pi, _SLOTS),
        "phase_u": d.uniform(0, 1, _SLOTS),
        "phase_v": d.uniform(0, 1, _SLOTS),
    }
    depth = obj["depth"]
    half = np.where(obj["in_sky"], 0.05 + 0.04 * depth, 0.07 + 0.13 * depth) * obj["scale"] * height
    foot = horizon_mid + ground * (0.08 + 0.9 * depth)  # bottom row of a standing object
    cy = np.where(obj["in_sky"], horizon_mid * (0.2 + 0.6 * depth), foot - half * obj["aspect"])
    order = np.argsort(np.where(obj["in_sky"], -1, foot), axis=1, kind="stable")
    obj |= {"half": half, "cy": cy, "exponent": np.where(obj["round"], 2, 8)}  # ellipse or rounded box
    obj = {k: np.take_along_axis(v, order, 1).astype(f32)[..., None] for k, v in obj.items()}  # (B, S, 1, 1)
    for s in range(_SLOTS):
        o = {k: v[:, s] for k, v in obj.items()}  # each (B, 1, 1)
        u = (x - o["cx"]) / o["half"]  # (B, 1, W), in half-widths
        v = (y - o["cy"]) / (o["half"] * o["aspect"])  # (B, H, 1), in half-heights
        shape = np.abs(u) ** o["exponent"] + np.abs(v) ** o["exponent"]  # (B, H, W), < 1 inside
        inside = (shape < 1) * o["present"]  # (B, H, W) float 0/1
        # Shading: lit from one side, darker towards the rim (a rounded look); >= 0.27 inside.
        lit = (f32(1) + f32(0.3) * np.cos(o["light"]) * u) + f32(0.3) * np.sin(o["light"]) * v  # (B, H, W)
        shade = lit - f32(0.3) * shape
        # Two-tone textures in texture periods; each is 1 on its dark half.
        fu = (u * o["half"]) / o["period"] + o["phase_u"]  # (B, 1, W)
        fv = (v * o["half"] * o["aspect"]) / o["period"] + o["phase_v"]  # (B, H, 1)
        diagonal = fu * np.cos(o["angle"]) + fv * np.sin(o["angle"])  # (B, H, W)
        stripes = diagonal - np.floor(diagonal) >= f32(0.5)
        checks = (fu - np.floor(fu) >= f32(0.5)) ^ (fv - np.floor(fv) >= f32(0.5))
        dots = (fu - np.floor(fu) - f32(0.5)) ** 2 + (fv - np.floor(fv) - f32(0.5)) ** 2 < f32(0.09)
        kind = o["kind"]
        dark = (kind == 0) * stripes + (kind == 1) * checks + (kind == 3) * dots  # smooth (2): none
        obj_lum = o["lum"] * shade * (f32(1) - f32(1 - _DARK) * dark)
        lum += inside * (obj_lum - lum)
        colour = np.where(kind == 3, np.where(o["alt"] > 0, _DOTS_ALT, DOTS), STRIPES + kind).astype(np.intp)
        mat += (inside > 0) * (colour - mat)

    # Linear light in lookup-table steps, + 0.5 to round; no need to clip below: palette, lum, haze >= 0.
    haze = (haze * (mat == SKY)) * f32(_LUT_STEPS - 1) + f32(0.5)  # objects before the sky: no haze
    codes = np.empty((3, batch, height, width), dtype=f32)
    for c in range(3):
        np.multiply(_PALETTE_CODES[c].take(mat), lum, out=codes[c])
        codes[c] += haze
    np.minimum(codes, f32(_LUT_STEPS - 1), out=codes)
    rgb = _SRGB_LUT.take(codes.astype(np.intp)).transpose(1, 0, 2, 3)  # (B, 3, H, W)
    return np.ascontiguousarray(rgb), mat.astype(np.uint8)


class ScenesDataModule(ColorDataModule):
    """Procedural scenes (``ProceduralScenes``): needs no files or downloads; train, val and test are
    disjoint seeds derived from ``seed``.

    Args:
        root: unused; accepted so that ``--data.root`` works on every experiment.
        train_size: images per training epoch.
        val_size: validation images.
        test_size: test images.
        image_size: side of the square images, pixels.
        batch_size: images per batch.
        num_workers: loader worker processes; 0 by default, since rendering in the main process is
            faster than shipping batches between processes. None = all cores but one, at most 8.
        seed: seed for the splits' scenes and for shuffling.
    """

    def __init__(
        self,
        root: str | None = None,
        train_size: int = 8000,
        val_size: int = 512,
        test_size: int = 512,
        image_size: int = 64,
        batch_size: int = 32,
        num_workers: int | None = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        for name, value in (("train_size", train_size), ("val_size", val_size), ("test_size", test_size)):
            if value < 1:
                raise ColorlabError(f"{name} must be >= 1, got {value}")
        if image_size < 8:
            raise ColorlabError(f"image_size must be >= 8, got {image_size}")
        self.root = root
        self.train_size = train_size
        self.val_size = val_size
        self.test_size = test_size
        self.image_size = image_size

    def setup(self, stage: str | None = None) -> None:
        # 3 * seed + split: distinct dataset seeds for every (seed, split) pair.
        self.train_set = ProceduralScenes(self.train_size, 3 * self.seed, self.image_size)
        self.val_set = ProceduralScenes(self.val_size, 3 * self.seed + 1, self.image_size)
        self.test_set = ProceduralScenes(self.test_size, 3 * self.seed + 2, self.image_size)
