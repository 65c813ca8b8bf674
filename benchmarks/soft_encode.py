"""Soft-encoding: colorlab's encoder (``color.soft_encode``: k nearest bins + Gaussian weights; on the CPU the
compiled pass of ``colorlab._soft_pass``) against Zhang et al.'s reference method,
``sklearn.neighbors.NearestNeighbors`` (ball tree, as in their ``NNEncode``) + the same Gaussian weights, on the
same pixels: 8 real 64x64 photos = 32,768 pixels, k = 10; the headline ratio takes only sklearn's search and
the weights. Also Zhang's whole ``NNEncode`` (which also fills a dense (P, Q) float64 target), colorlab's
PyTorch-ops encoder (what other devices run, ``color._encode``), kd-tree and brute-force sklearn, the fraction of
identical neighbour sets, and the int64 / dense memory the encoders hold per pixel.

Run: .venv/bin/python benchmarks/soft_encode.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from sklearn.neighbors import NearestNeighbors

from colorlab import color

sys.path.insert(0, str(Path(__file__).parent))
from common import best_time, sample_images

K, SIGMA = color.SOFT_K, color.SOFT_SIGMA


def sklearn_encoder(algorithm: str):
    """Zhang's reference: a fitted NearestNeighbors, then exp(-d^2 / 2 sigma^2) normalised per pixel."""
    nn = NearestNeighbors(n_neighbors=K, algorithm=algorithm).fit(color.ab_bins().double().numpy())

    def encode(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dist, idx = nn.kneighbors(points)
        weight = np.exp(-(dist**2) / (2 * SIGMA**2))
        return idx, weight / weight.sum(1, keepdims=True)

    return encode


def nnencode():
    """Zhang et al.'s ``NNEncode.encode_points_mtx_nd`` as published (colorization/caffe util), with its
    ``sameBlock`` reuse of the dense target: k nearest by ball tree, Gaussian weights, scattered into the
    zeroed dense (P, Q) float64 target, returned as (B, Q, H, W)."""
    encode = sklearn_encoder("ball_tree")
    dense = {}

    def run_once(ab_nd: np.ndarray) -> np.ndarray:  # (B, 2, H, W) float64
        b, _, h, w = ab_nd.shape
        points = ab_nd.transpose(0, 2, 3, 1).reshape(-1, 2)
        if "target" in dense:
            dense["target"][...] = 0
        else:
            dense["target"] = np.zeros((len(points), color.ab_bins().shape[0]))
            dense["rows"] = np.arange(len(points))[:, None]
        idx, weight = encode(points)
        dense["target"][dense["rows"], idx] = weight
        return dense["target"].reshape(b, h, w, -1).transpose(0, 3, 1, 2)

    return run_once


def run() -> dict:
    ab = color.batch_to_lab({"rgb": sample_images(8)})[:, 1:].contiguous()  # (8, 2, 64, 64)
    points = ab.permute(0, 2, 3, 1).reshape(-1, 2).double().numpy()
    color.soft_encode(ab)  # build the candidate table outside the timing
    t_ours = best_time(lambda: color.soft_encode(ab), repeats=10)
    flat = ab.transpose(0, 1).reshape(2, -1)
    t_torch = best_time(lambda: color._encode(flat, K, SIGMA, chunk=65536), repeats=10)
    times = {}
    for algorithm in ("ball_tree", "kd_tree", "brute"):
        encode = sklearn_encoder(algorithm)
        times[algorithm] = best_time(lambda encode=encode: encode(points), repeats=3)
    ab_nd = ab.double().numpy()
    zhang = nnencode()
    times["nnencode"] = best_time(lambda: zhang(ab_nd), repeats=3)
    ref_idx, _ = sklearn_encoder("brute")(points)
    dist_k1, _ = NearestNeighbors(n_neighbors=K + 1).fit(color.ab_bins().double().numpy()).kneighbors(points)
    ours = color.soft_encode(ab)[0].permute(0, 2, 3, 1).reshape(-1, K).numpy()
    same = (np.sort(ours, 1) == np.sort(ref_idx, 1)).all(1)
    tied = np.isclose(dist_k1[:, K - 1], dist_k1[:, K], rtol=0, atol=1e-6)  # k-th and (k+1)-th bin equally near
    return {
        "soft_encode_speedup": round(times["ball_tree"] / t_ours, 1),
        "soft_encode_identical_fraction": float(same.mean()),
        "soft_encode": {
            "pixels": len(points), "k": K, "q": color.ab_bins().shape[0],
            "colorlab_ms": round(t_ours * 1e3, 2),
            "colorlab_torch_ops_ms": round(t_torch * 1e3, 2),
            **{f"sklearn_{a}_ms": round(t * 1e3, 2) for a, t in times.items()},
            **{f"speedup_vs_{a}": round(t / t_ours, 1) for a, t in times.items()},
            "pixels_with_a_tie_at_the_kth_bin": int(tied.sum()),
            "differing_sets_all_at_ties": bool(tied[~same].all()),
            "bytes_per_pixel_returned": K * (8 + 4),  # int64 index + float32 weight
            "bytes_per_pixel_dense_target": color.ab_bins().shape[0] * 4,
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
