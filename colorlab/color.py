"""All of colorlab's colour maths: Lab <-> RGB, normalisation, the ab gamut bins, soft-encoding,
decoding a bin distribution to ab, and class-rebalancing priors.

Conventions (the only place they are defined):

- RGB: float in [0, 1], sRGB, shape (B, 3, H, W).
- Lab: CIE Lab, D65 / 2 deg observer; L in [0, 100], a and b in Lab units (about -128..127).
- Network input ``x_l = L / 100`` in [0, 1]; regression target ``y_ab = ab / 128`` in about [-1, 1]
  (the Stanford report's scaling, so normalised errors are directly the literature's units).
- ab bins: centres of the 10-unit grid over [-110, 110]^2 that 8-bit sRGB colours reach (see ``ab_bins``).
"""

from __future__ import annotations

import functools
from typing import Literal

import kornia.color
import numpy as np
import torch
import torch.nn.functional as F

from colorlab.errors import ColorlabError

L_SCALE = 100.0  # x_l = L / L_SCALE
AB_SCALE = 128.0  # y_ab = ab / AB_SCALE

GRID_STEP = 10.0  # ab quantisation step, Lab units (Zhang et al. 2016)
GRID_EXTENT = 110.0  # grid centres span [-GRID_EXTENT, GRID_EXTENT] in a and b
SOFT_K = 10  # neighbours in soft-encoding; Zhang's reference code uses 10 (the paper's 5 is a typo)
SOFT_SIGMA = 5.0  # Gaussian kernel width for soft-encoding and prior smoothing, Lab units
ANNEAL_T = 0.38  # annealed-mean temperature (Zhang et al. 2016)
REBALANCE_LAMBDA = 0.5  # prior / uniform mix for class rebalancing (Zhang et al. 2016)

Decoding = Literal["mode", "mean", "annealed_mean", "sample"]


def _check_image(x: torch.Tensor, channels: int, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != channels:
        raise ColorlabError(f"{name} must have shape (B, {channels}, H, W), got {tuple(x.shape)}")


def _no_autocast(x: torch.Tensor):
    """Colour conversion always runs in float32, even inside a bf16/fp16 autocast region."""
    return torch.autocast(device_type=x.device.type, enabled=False)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB -> CIE Lab (D65).

    Args:
        rgb: (B, 3, H, W) float in [0, 1], any device.

    Returns:
        (B, 3, H, W) float32: L in [0, 100], a and b in Lab units.
    """
    _check_image(rgb, 3, "rgb")
    with _no_autocast(rgb):
        return kornia.color.rgb_to_lab(rgb.float())


def lab_to_rgb(lab: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """CIE Lab (D65) -> sRGB.

    Args:
        lab: (B, 3, H, W) float; L in [0, 100], a and b in Lab units.
        clip: clamp the result to [0, 1] (out-of-gamut Lab colours have no exact sRGB value).

    Returns:
        (B, 3, H, W) float32 RGB.
    """
    _check_image(lab, 3, "lab")
    with _no_autocast(lab):
        return kornia.color.lab_to_rgb(lab.float(), clip=clip)


def lab8_to_lab(lab8: torch.Tensor) -> torch.Tensor:
    """OpenCV's 8-bit Lab encoding (L*255/100, a+128, b+128) -> float Lab.

    Args:
        lab8: (B, 3, H, W) uint8.

    Returns:
        (B, 3, H, W) float32 Lab.
    """
    _check_image(lab8, 3, "lab8")
    if lab8.dtype != torch.uint8:
        raise TypeError(f"lab8 must be uint8, got {lab8.dtype}")
    lab = lab8.float()
    return torch.cat([lab[:, :1] * (100.0 / 255.0), lab[:, 1:] - 128.0], dim=1)


def normalize(lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lab -> (x_l, y_ab): (B, 1, H, W) L/100 in [0, 1] and (B, 2, H, W) ab/128."""
    return lab[:, :1] / L_SCALE, lab[:, 1:] / AB_SCALE


def denormalize(x_l: torch.Tensor, y_ab: torch.Tensor) -> torch.Tensor:
    """(x_l, y_ab) in network units -> (B, 3, H, W) Lab."""
    return torch.cat([x_l * L_SCALE, y_ab * AB_SCALE], dim=1)


# kornia.color.rgb_to_lab's D65 reference white and the CIE f(t) = t^(1/3) above (6/29)^3, linear below
_WHITE_D65 = (0.95047, 1.0, 1.08883)
_F_THRESHOLD, _F_SLOPE, _F_OFFSET = 0.008856, 7.787, 4.0 / 29.0


@functools.lru_cache(maxsize=4)
def _rgb8_tables(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """kornia's sRGB decoding of the 256 levels, (256,) float32, and its RGB -> XYZ matrix with the reference
    white divided out, (3, 3) float32."""
    levels = (torch.arange(256, dtype=torch.float32) / 255.0).view(1, 256, 1).expand(3, 256, 1)
    linear = kornia.color.rgb_to_linear_rgb(levels.contiguous())[0, :, 0]
    xyz_of_rgb = kornia.color.rgb_to_xyz(torch.eye(3).view(3, 3, 1, 1))[:, :, 0, 0].T  # column j: XYZ of primary j
    return linear.to(device), (xyz_of_rgb / torch.tensor(_WHITE_D65)[:, None]).to(device)


def rgb8_to_lab(rgb8: torch.Tensor) -> torch.Tensor:
    """8-bit sRGB -> CIE Lab (D65): ``rgb_to_lab(rgb8 / 255)`` to float32 rounding (tests hold it to kornia),
    about 3x faster on a CPU: the sRGB decoding is a 256-entry table look-up and the cube root exp(log / 3).

    Args:
        rgb8: (B, 3, H, W) uint8.

    Returns:
        (B, 3, H, W) float32 Lab.
    """
    _check_image(rgb8, 3, "rgb8")
    if rgb8.dtype != torch.uint8:
        raise TypeError(f"rgb8 must be uint8, got {rgb8.dtype}")
    linear, to_xyz = _rgb8_tables(rgb8.device)
    with _no_autocast(rgb8):
        xyz = torch.einsum("ij,bjhw->bihw", to_xyz, linear.take(rgb8.long()))  # (B, 3, H, W), white = 1
        f = torch.where(
            xyz > _F_THRESHOLD,
            xyz.clamp(min=_F_THRESHOLD).log_().mul_(1 / 3).exp_(),
            xyz * _F_SLOPE + _F_OFFSET,
        )
        fx, fy, fz = f.unbind(dim=1)
        return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)


def batch_to_lab(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Turn a DataModule batch into float32 Lab on the batch's device.

    Every colorlab DataModule yields ``{"rgb": uint8 (B, 3, H, W)}`` or, for sources stored as
    8-bit Lab, ``{"lab8": uint8 (B, 3, H, W)}``; this is the one place either becomes Lab.
    """
    if "rgb" in batch:
        rgb = batch["rgb"]
        if rgb.dtype != torch.uint8:
            raise TypeError(f"batch['rgb'] must be uint8 (B, 3, H, W), got {rgb.dtype}")
        return rgb8_to_lab(rgb)
    if "lab8" in batch:
        return lab8_to_lab(batch["lab8"])
    raise KeyError(f"a colorlab batch holds 'rgb' or 'lab8', got keys {sorted(batch)}")


def to_rgb(x_l: torch.Tensor, y_ab: torch.Tensor) -> torch.Tensor:
    """Network-unit (x_l, y_ab) -> (B, 3, H, W) RGB in [0, 1]; ab is resized to L's size if needed."""
    if y_ab.shape[-2:] != x_l.shape[-2:]:
        y_ab = F.interpolate(y_ab.float(), size=x_l.shape[-2:], mode="bilinear", align_corners=False)
    return lab_to_rgb(denormalize(x_l.float(), y_ab.float()))


# --------------------------------------------------------------------------------------------
# ab gamut bins


def _grid_index(ab: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """Integer grid coordinates (i, j) of the cell holding each ab: cell c covers [c - 5, c + 5); with
    ``clamp``, points beyond the grid get its border cell."""
    n = round(GRID_EXTENT / GRID_STEP)
    cell = torch.floor(ab / GRID_STEP + 0.5).long()
    return cell.clamp(-n, n) if clamp else cell


# The ab plane's 23 x 23 grid cells (row i: a = 10 (i - 11); column j: b = 10 (j - 11)); "#" marks a cell that at
# least one of the 2^24 8-bit sRGB colours reaches (``tests/test_color.py`` checks this against skimage's
# conversion of all of them).
_GAMUT = (
    ".......................",
    ".......................",
    "...................#...",
    "...............#####...",
    ".............########..",
    "...........##########..",
    ".........############..",
    "........#############..",
    ".......##############..",
    ".......##############..",
    "......###############..",
    ".....################..",
    "....################...",
    "....################...",
    "...#################...",
    "..##################...",
    "..#################....",
    ".##################....",
    "###################....",
    "###################....",
    "..##########...........",
    "....###................",
    ".......................",
)


def ab_bins() -> torch.Tensor:
    """The in-gamut ab bin centres, (Q, 2) float32 (a, b) in Lab units, in row-major (a, b) order.

    Rule: the ab plane is cut into 10x10 cells centred on multiples of 10 in [-110, 110]^2, cell c
    covering [c - 5, c + 5) in a and in b; a cell is a bin when the exact Lab value of at least one
    of the 2^24 8-bit sRGB colours falls inside it (``_GAMUT``). Zhang et al. (2016) report Q = 313 from their own
    unpublished procedure; this rule gives Q = 261, and every other part of colorlab takes Q from here.
    """
    n = round(GRID_EXTENT / GRID_STEP)
    cells = [(i - n, j - n) for i, row in enumerate(_GAMUT) for j, mark in enumerate(row) if mark == "#"]
    return torch.tensor(cells, dtype=torch.float32) * GRID_STEP


@functools.lru_cache(maxsize=1)
def _nearest_bin_table() -> torch.Tensor:
    """(side, side) long: for every grid cell, the index of the nearest in-gamut bin."""
    n = round(GRID_EXTENT / GRID_STEP)
    coords = torch.arange(-n, n + 1, dtype=torch.float32) * GRID_STEP
    grid = torch.stack(torch.meshgrid(coords, coords, indexing="ij"), dim=-1).reshape(-1, 2)
    return torch.cdist(grid, ab_bins()).argmin(dim=1).reshape(2 * n + 1, 2 * n + 1)


def nearest_bin(ab: torch.Tensor) -> torch.Tensor:
    """Hard quantisation: the bin index of each ab value.

    Args:
        ab: (B, 2, H, W) float, Lab units.

    Returns:
        (B, H, W) long in [0, Q). An ab inside a bin's cell gets that bin; one outside the gamut gets
        the bin nearest to its cell's centre.
    """
    _check_image(ab, 2, "ab")
    n = round(GRID_EXTENT / GRID_STEP)
    table = _nearest_bin_table().to(ab.device)
    ij = _grid_index(ab.float()) + n  # (B, 2, H, W)
    return table[ij[:, 0], ij[:, 1]]


# Soft-encoding looks up each point's candidate bins in a table over a fine sub-grid of the ab plane, built once
# per k. For a sub-cell S and a bin c let dmin(c) and dmax(c) be the nearest and farthest distances from c to
# S's points. The k bins with the smallest dmax are within R = (k-th smallest dmax) of every point of S, so a
# bin among any point's k nearest has dmin <= R: those bins are S's candidates, proven complete. With 0.625-unit
# sub-cells (16 x 16 per 10-unit bin cell) a sub-cell has at most 14 candidates for k = 10 (half have exactly
# k), against 49 in a 7 x 7 window or Q = 261 in a full search. Points beyond the table (never reached by an
# sRGB colour) are searched in full.
_SUB_STEP = GRID_STEP / 16  # sub-cell side, Lab units
_SUB_EXTENT = GRID_EXTENT + GRID_STEP / 2  # the table covers [-115, 115)^2: every bin's cell
_SUB_SIDE = round(2 * _SUB_EXTENT / _SUB_STEP)  # sub-cells per side of the table
_TABLE_MAX_K = 32  # the largest k the tables serve; beyond, the candidate lists would hold most bins
_FAR = 1e4  # coordinate of a padding candidate: farther than any real bin, so dropped first


@functools.lru_cache(maxsize=8)
def _candidate_table(k: int, device: torch.device) -> torch.Tensor:
    """Candidate bins of every sub-cell: (S, M, 3) float32 rows (a, b, bin index) for the S = side^2 sub-cells
    in row-major (a, b) order, padded to M = the largest candidate count with (``_FAR``, ``_FAR``, 0)."""
    bins = ab_bins()
    side = _SUB_SIDE
    edges = -_SUB_EXTENT + torch.arange(side + 1, dtype=torch.float64) * _SUB_STEP
    lo, hi = edges[:-1, None], edges[1:, None]  # (side, 1)

    def axis(c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (Q,) -> (side, Q) min and max squared gaps
        gap_min = torch.clamp(torch.maximum(lo - c, c - hi), min=0)
        gap_max = torch.maximum((lo - c).abs(), (hi - c).abs())
        return gap_min.square(), gap_max.square()

    a_min, a_max = axis(bins[:, 0].double())
    b_min, b_max = axis(bins[:, 1].double())
    rows = []
    for u in range(side):  # one row of sub-cells at a time: (side, Q) distances
        d2_min, d2_max = a_min[u] + b_min, a_max[u] + b_max
        reach = d2_max.kthvalue(k, dim=1).values[:, None]  # (side, 1) R^2
        rows.append(d2_min <= reach + 1e-6)  # margin: a point rounded into a neighbouring sub-cell stays covered
    m = max(int(row.sum(1).max()) for row in rows)
    order = torch.cat([row.to(torch.int8).argsort(dim=1, descending=True, stable=True)[:, :m] for row in rows])
    real = torch.cat(rows).gather(1, order)[..., None]  # (S, M, 1): candidates first, then padding
    table = torch.cat([bins[order], order[..., None].float()], dim=2)  # (S, M, 3); bin indices are exact floats
    return torch.where(real, table, torch.tensor([_FAR, _FAR, 0.0])).to(device)


def _knn_bins(a: torch.Tensor, b: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k nearest bins of N points (a, b) inside the table: (k, N) long bin indices in no particular
    order and (k, N) float32 squared distances."""
    table = _candidate_table(k, a.device)
    side = _SUB_SIDE
    cell = lambda x: ((x + _SUB_EXTENT) / _SUB_STEP).floor_().int().clamp_(0, side - 1)  # NaN and beyond: a border
    cand = table.index_select(0, cell(a) * side + cell(b))  # (N, M, 3): one contiguous row per point
    d2 = (cand[..., 0] - a[:, None]).square_() + (cand[..., 1] - b[:, None]).square_()  # (N, M)
    # One int64 key per candidate orders by (distance, bin): the bits of a float32 >= 0 sort as its value, and
    # the bin index below them breaks ties, so every candidate's key is distinct (padding's are equal, and last).
    key = d2.view(torch.int32).long().bitwise_left_shift_(9).bitwise_or_(cand[..., 2].long()).T.contiguous()  # (M, N)
    # Keep the k smallest keys: M - k times, move the last key into the slot of the largest (a no-op when the
    # last is the largest), then drop the last.
    for width in range(key.shape[0], k, -1):
        kept = key[: width - 1]
        torch.where(kept == key[:width].amax(dim=0), key[width - 1], kept, out=kept)
    key = key[:k]
    return key & 511, (key >> 9).int().view(torch.float32)


def _knn_bins_full(points: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k nearest bins of (N, 2) points by comparing with every bin: (k, N) long, (k, N) float32."""
    bins = ab_bins().to(points.device)
    d2, idx = (points[:, None, :] - bins[None]).pow(2).sum(-1).topk(k, dim=1, largest=False)  # (N, k)
    return idx.T, d2.T


# On the CPU, soft-encoding runs in one compiled pass (numba, ``colorlab._soft_pass``) over the candidates of
# ``_candidate_table``, sorted per sub-cell. In a sub-cell S, a candidate j is closer than a candidate i exactly
# where 2 x.(j - i) > |j|^2 - |i|^2, a half-plane, so whether j is closer than i somewhere, or everywhere, in S is
# decided by S's corners. A candidate that fewer than k others are ever closer than is among the k nearest bins
# of every point of S (S's "core"); one that k others are closer than everywhere never is; the rest are "open".
# On real photos almost every sub-cell has k core bins (the same k nearest all over S) or k - 1 and at most 4
# open ones, so a point needs k - 1 distances and a 4-way minimum for its bins, and then k exps.
@functools.lru_cache(maxsize=8)
def _pass_table(k: int) -> tuple[np.ndarray, ...]:
    """The compiled pass's table for k neighbours, as numpy arrays over ``_candidate_table``'s S sub-cells:
    each sub-cell's candidates, core bins first, then open ones, then the rest ((S, M) int16 bin indices and
    their (S, M) float32 a and b), and the (S,) int8 numbers of core and of open bins."""
    table = _candidate_table(k, torch.device("cpu")).double()  # (S, M, 3)
    side = _SUB_SIDE
    u, v = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    corner = -_SUB_EXTENT + _SUB_STEP * torch.stack([u, v], -1).reshape(-1, 1, 1, 2).double()  # (S, 1, 1, 2)
    rows, n_core, n_open = [], [], []
    for part in torch.split(torch.arange(side * side), 8192):
        cand = table[part]  # (n, M, 3)
        real = cand[..., 0] < _FAR / 2  # (n, M)
        ci, cj = cand[:, :, None, :2], cand[:, None, :, :2]  # (n, M, 1, 2), (n, 1, M, 2)
        # d2(i) - d2(j) = 2 x.(cj - ci) + |ci|^2 - |cj|^2 is affine in x: over the sub-cell [x0, x0 + step]^2
        # its largest and smallest values are at x0 plus step times the positive or negative parts of its slope.
        slope = 2 * (cj - ci)  # (n, M, M, 2)
        at_corner = (slope * corner[part]).sum(-1) + ci.square().sum(-1) - cj.square().sum(-1)
        pair = real[:, :, None] & real[:, None] & ~torch.eye(cand.shape[1], dtype=torch.bool)
        closer_somewhere = ((at_corner + _SUB_STEP * slope.clamp(min=0).sum(-1) > 0) & pair).sum(2)  # per i
        closer_everywhere = ((at_corner + _SUB_STEP * slope.clamp(max=0).sum(-1) > 0) & pair).sum(2)
        core = real & (closer_somewhere < k)
        open_ = real & ~core & (closer_everywhere < k)
        order = torch.where(core, 0, torch.where(open_, 1, 2)).argsort(dim=1, stable=True)
        rows.append(cand.gather(1, order[..., None].expand(-1, -1, 3)))
        n_core.append(core.sum(1))
        n_open.append(open_.sum(1))
    rows = torch.cat(rows).float()
    return (
        rows[..., 2].to(torch.int16).numpy(), rows[..., 0].contiguous().numpy(), rows[..., 1].contiguous().numpy(),
        torch.cat(n_core).to(torch.int8).numpy(), torch.cat(n_open).to(torch.int8).numpy(),
    )


def check_soft_encoding(k: int, sigma: float) -> None:
    """Raise ColorlabError unless ``soft_encode`` can use k neighbours (1 <= k <= Q) and width sigma (> 0)."""
    q = ab_bins().shape[0]
    if not 1 <= k <= q:
        raise ColorlabError(f"k must be in [1, Q={q}], got {k}")
    if sigma <= 0:
        raise ColorlabError(f"sigma must be > 0, got {sigma}")


def soft_encode(
    ab: torch.Tensor, k: int = SOFT_K, sigma: float = SOFT_SIGMA, chunk: int = 65536
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sparse soft-encoding of ab into the Q bins (Zhang et al. 2016, sec. 2.1).

    Each pixel gets its k nearest bins (exact; see ``_candidate_table``), weighted by a Gaussian of the
    distance (sigma in Lab units) and normalised to sum to 1. No dense (B, Q, H, W) target is built. On the
    CPU (k <= ``_TABLE_MAX_K``) one compiled pass does it (``_pass_table``, ``colorlab._soft_pass``); on
    other devices, PyTorch ops (``_encode``), with the same neighbour sets.

    Args:
        ab: (B, 2, H, W) float, Lab units.
        k: number of neighbouring bins, 1 <= k <= Q.
        sigma: Gaussian width, Lab units.
        chunk: pixels per block of the PyTorch ops (bounds their working memory at about 14 x 10 bytes per
            pixel of a block).

    Returns:
        (idx, weight): (B, k, H, W) long bin indices, in no particular order along k (the nearest bin is
        the one of largest weight), and (B, k, H, W) float32 weights. Both are views of (k, B, H, W) storage.
    """
    _check_image(ab, 2, "ab")
    check_soft_encoding(k, sigma)
    b, _, h, w = ab.shape
    points = ab.detach().float().transpose(0, 1).reshape(2, -1).contiguous()  # (2, B*H*W)
    if points.device.type == "cpu" and k <= _TABLE_MAX_K:
        idx, weight, rest = _encode_compiled(points, k, sigma)
        if rest.numel():  # past the table (never an sRGB colour) or NaN
            idx[:, rest], weight[:, rest] = _encode(points[:, rest], k, sigma, chunk)
    else:
        idx, weight = _encode(points, k, sigma, chunk)
    to_image = lambda t: t.reshape(k, b, h, w).transpose(0, 1)  # (B, k, H, W) view
    return to_image(idx), to_image(weight)


def _encode_compiled(points: torch.Tensor, k: int, sigma: float) -> tuple[torch.Tensor, ...]:
    """Soft-encoding by the compiled CPU pass: (2, N) float32 points -> (k, N) long bins, (k, N) float32 weights
    and the indices of the points it left, past the table or NaN (their columns hold garbage)."""
    from colorlab._soft_pass import soft_pass  # numba compiles it on first use (cached on disk)

    n = points.shape[1]
    idx, weight = torch.empty(k, n, dtype=torch.long), torch.empty(k, n)
    rest = torch.empty(n, dtype=torch.long)
    pa, pb = points.numpy()
    scale = np.float32(-0.5 / sigma**2)
    inv_step = np.float32(1 / _SUB_STEP)
    n_rest = soft_pass(
        pa, pb, k, _SUB_SIDE, inv_step, np.float32(_SUB_EXTENT), *_pass_table(k), scale,
        idx.numpy(), weight.numpy(), rest.numpy(),
    )
    return idx, weight, rest[:n_rest]


def _encode(points: torch.Tensor, k: int, sigma: float, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft-encoding in PyTorch ops, on any device: (2, N) points -> (k, N) long bins, (k, N) float32 weights."""
    idx = torch.empty(k, points.shape[1], dtype=torch.long, device=points.device)
    d2 = torch.empty(k, points.shape[1], device=points.device)
    for start in range(0, points.shape[1], chunk):
        part = slice(start, start + chunk)
        pa, pb = points[:, part]
        if k <= _TABLE_MAX_K:
            idx[:, part], d2[:, part] = _knn_bins(pa, pb, k)
            beyond = ~((pa >= -_SUB_EXTENT) & (pa < _SUB_EXTENT) & (pb >= -_SUB_EXTENT) & (pb < _SUB_EXTENT))
        else:
            beyond = torch.ones_like(pa, dtype=torch.bool)
        if beyond.any():  # points past the table (never an sRGB colour; NaN too): compare with every bin
            cols = beyond.nonzero().squeeze(1) + start
            idx[:, cols], d2[:, cols] = _knn_bins_full(points[:, cols].T, k)
    # Gaussian weights, normalised; distances taken relative to the nearest first, where they are exact
    return idx, torch.softmax((d2 - d2.amin(dim=0)) * (-0.5 / sigma**2), dim=0)


def decode(logits: torch.Tensor, how: Decoding = "annealed_mean", temperature: float = ANNEAL_T) -> torch.Tensor:
    """Bin distribution -> ab (Zhang et al. 2016, sec. 2.3).

    Args:
        logits: (B, Q, H, W) unnormalised log-probabilities over ``ab_bins()``.
        how: "mode" (most likely bin), "mean" (expectation), "annealed_mean" (expectation of the
            distribution sharpened to softmax(logits / T)), or "sample" (one draw per pixel).
        temperature: T for "annealed_mean"; T -> 0 tends to the mode, T = 1 is the mean.

    Returns:
        (B, 2, H, W) float32 ab, Lab units.
    """
    bins = ab_bins().to(logits.device)
    if logits.ndim != 4 or logits.shape[1] != bins.shape[0]:
        raise ColorlabError(f"logits must have shape (B, Q={bins.shape[0]}, H, W), got {tuple(logits.shape)}")
    logits = logits.float()
    if how == "mode":
        return bins[logits.argmax(dim=1)].permute(0, 3, 1, 2)
    if how == "sample":
        b, q, h, w = logits.shape
        probs = torch.softmax(logits, dim=1).permute(0, 2, 3, 1).reshape(-1, q)
        drawn = torch.multinomial(probs, 1).reshape(b, h, w)
        return bins[drawn].permute(0, 3, 1, 2)
    if how == "mean":
        temperature = 1.0
    elif how != "annealed_mean":
        raise ColorlabError(f"how must be one of mode, mean, annealed_mean, sample; got {how!r}")
    if temperature <= 0:
        raise ColorlabError(f"temperature must be > 0, got {temperature}")
    with _no_autocast(logits):  # under bf16 autocast the einsum alone costs up to 0.4 Lab units
        probs = torch.softmax(logits / temperature, dim=1)  # (B, Q, H, W)
        return torch.einsum("bqhw,qc->bchw", probs, bins)


# --------------------------------------------------------------------------------------------
# priors and class rebalancing


def bin_counts(ab: torch.Tensor) -> torch.Tensor:
    """Histogram of hard-quantised ab over the Q bins: (Q,) float64 counts for a (B, 2, H, W) batch."""
    q = ab_bins().shape[0]
    return torch.bincount(nearest_bin(ab).flatten(), minlength=q).double()


def smooth_prior(counts: torch.Tensor, sigma: float = SOFT_SIGMA) -> torch.Tensor:
    """Empirical bin frequencies smoothed by a Gaussian over the ab plane.

    ``p_q = sum_r counts_r exp(-|c_q - c_r|^2 / 2 sigma^2)``, then normalised to sum to 1 (c: bin centres,
    Lab units). With sigma = 5 and the 10-unit grid a bin shares exp(-2) = 13.5% of its mass with each
    of its 4 direct neighbours.

    Args:
        counts: (Q,) non-negative counts (e.g. from ``bin_counts``), not all zero.

    Returns:
        (Q,) float64 probabilities.
    """
    bins = ab_bins().double()
    if counts.shape != (bins.shape[0],):
        raise ColorlabError(f"counts must have shape (Q={bins.shape[0]},), got {tuple(counts.shape)}")
    if counts.sum() <= 0:
        raise ColorlabError("counts are all zero: no pixels were counted")
    kernel = torch.exp(-torch.cdist(bins, bins).pow(2) / (2 * sigma**2))  # (Q, Q)
    p = kernel @ counts.double()
    return p / p.sum()


def rebalance_weights(prior: torch.Tensor, lam: float = REBALANCE_LAMBDA) -> torch.Tensor:
    """Class-rebalancing weights (Zhang et al. 2016, eq. 4).

    ``w_q = ((1 - lam) p_q + lam / Q)^-1``, scaled so that ``sum_q p_q w_q = 1``.

    Args:
        prior: (Q,) probabilities summing to 1.
        lam: weight of the uniform distribution in [0, 1]; 0 = pure inverse prior, 1 = no rebalancing.

    Returns:
        (Q,) float32 weights.
    """
    if not 0.0 <= lam <= 1.0:
        raise ColorlabError(f"lam must be in [0, 1], got {lam}")
    prior = prior.double()
    w = 1.0 / ((1.0 - lam) * prior + lam / prior.numel())
    return (w / (prior * w).sum()).float()
