"""The evaluation behind docs/results.md: checkpoints and the three constant baselines on the colour images of the
Tiny ImageNet validation split, with colorlab's own metric classes and predictors (``colorlab.metrics``,
``colorlab.evaluate``).

Why not ``python -m colorlab evaluate``: the protocol leaves the grayscale validation images out (they have no
colour to predict), and ``evaluate`` scores every image of the split. This script also computes only the metrics
in the table, so the full split fits a shared 2-core CPU: it leaves out SSIM, AuC, per-image RMSE and PA.

    python docs/results_eval.py OUT.json --root ../shared/data/tiny-imagenet-200 --baselines \\
        --ckpt res_unet=outputs/tinyimagenet_res_unet/lightning_logs/version_0/checkpoints/last.ckpt

Rows: ``baseline_grey``, ``baseline_mean_ab``, ``baseline_mode_bin`` (constants from every training image with
colour, ``min_chroma`` 1) and one per ``--ckpt``. Classifiers also get ``top1_full`` (argmax bin at full
resolution: logits upsampled by nearest neighbour), ``accuracy`` (the same at the net's resolution) and ``ce``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchmetrics import MetricCollection
from tqdm import tqdm

from colorlab import color
from colorlab.data import TinyImageNetDataModule
from colorlab.data.images import FileListDataset, chroma_spread, open_rgb
from colorlab.evaluate import (
    _constant_predictor,
    _model_predictor,
    ab_statistics,
    baseline_constants,
    lab_batches,
)
from colorlab.metrics import (
    PSNR,
    ABError,
    BinAccuracy,
    Colorfulness,
    CrossEntropy,
    LogitAccuracy,
    ab_at,
    bin_hits,
)
from colorlab.module import LitColorizer
from colorlab.objectives import Classification

MIN_CHROMA = (
    1.0  # mean RGB spread (8-bit) below which an image counts as grayscale, in training and evaluation
)


def top1_hits(logits: torch.Tensor, lab: torch.Tensor) -> torch.Tensor:
    """Pixels whose argmax bin, upsampled by nearest neighbour to the image's size, is the true ab's bin: the same
    count as ``LogitAccuracy`` on nearest-upsampled logits, at a Q-th of the cost (argmax before upsampling)."""
    bins_hat = logits.argmax(dim=1, keepdim=True).float()  # (B, 1, h, w)
    bins_hat = F.interpolate(bins_hat, size=lab.shape[-2:], mode="nearest").long()[:, 0]  # (B, H, W)
    return bin_hits(bins_hat, lab[:, 1:])


def colour_metrics() -> MetricCollection:
    return MetricCollection(
        {
            "ab_l1": ABError(p=1),
            "ab_mse": ABError(p=2),
            "ab_l1_n": ABError(p=1, scale=color.AB_SCALE),
            "ab_mse_n": ABError(p=2, scale=color.AB_SCALE),
            "psnr": PSNR(),
            "bin_acc": BinAccuracy(),
            "colorfulness": Colorfulness("pred"),
            "colorfulness_true": Colorfulness("true"),
            "colorfulness_ratio": Colorfulness("ratio"),
        },
        compute_groups=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", help="JSON file for the rows")
    parser.add_argument("--root", required=True, help="the tiny-imagenet-200 folder")
    parser.add_argument(
        "--ckpt", action="append", default=[], metavar="NAME=PATH", help="a checkpoint to score"
    )
    parser.add_argument("--baselines", action="store_true", help="score the three constant baselines too")
    parser.add_argument("--limit", type=int, default=None, help="the first N colour validation images only")
    args = parser.parse_args()

    datamodule = TinyImageNetDataModule(
        args.root, image_size=64, batch_size=200, num_workers=1, min_chroma=MIN_CHROMA
    )
    datamodule.setup("fit")
    val_paths = datamodule.find_splits()["val"]
    spread = [chroma_spread(np.asarray(open_rgb(p))) for p in tqdm(val_paths, desc="val chroma", leave=False)]
    colour = [p for p, s in zip(val_paths, spread) if s >= MIN_CHROMA][: args.limit]
    loader = DataLoader(
        FileListDataset(colour, transform=datamodule.eval_transform), batch_size=100, num_workers=1
    )
    statistics = ab_statistics(datamodule.train_dataloader(), "cpu")  # every training image with colour
    baselines = baseline_constants(statistics)

    rows = {}
    if args.baselines:
        rows = {name: (_constant_predictor(ab), colour_metrics(), None) for name, ab in baselines.items()}
    for spec in args.ckpt:
        name, _, path = spec.partition("=")
        model = LitColorizer.load_from_checkpoint(path, map_location="cpu").eval()
        bins = None
        if isinstance(model.objective, Classification):
            bins = MetricCollection(
                {"top1_full": LogitAccuracy(), "accuracy": LogitAccuracy(), "ce": CrossEntropy()},
                compute_groups=False,
            )
        rows[name] = (_model_predictor(model), colour_metrics(), bins)
    start = time.time()
    with torch.no_grad():
        for lab in lab_batches(loader, "cpu", desc="evaluate"):
            for predict, metrics, bins in rows.values():
                lab_hat, logits = predict(lab)
                metrics.update(lab_hat, lab)
                if bins is not None:
                    small = ab_at(lab[:, 1:], logits.shape[-2:])  # (B, 2, h, w) at the net's resolution
                    bins["accuracy"].update(logits, small)
                    bins["ce"].update(logits, small)
                    bins["top1_full"]._add(top1_hits(logits, lab), lab[:, 0].numel())
    result = {
        "images": len(colour),
        "excluded_grey": sum(s < MIN_CHROMA for s in spread),
        "baselines": {k: v.tolist() for k, v in baselines.items()},
        "eval_seconds": time.time() - start,
        "rows": {},
    }
    for name, (_, metrics, bins) in rows.items():
        values = {k: float(v) for k, v in metrics.compute().items()}
        if bins is not None:
            values |= {k: float(v) for k, v in bins.compute().items()}
        result["rows"][name] = values
        print(name, {k: round(v, 4) for k, v in values.items()})
    with open(args.output, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
