"""Trial: do test-time flips or averaging trained regression checkpoints move ab L1 / L2?

Scores every checkpoint alone, with its horizontally flipped prediction averaged in, and every combination of
them averaged (plain and flipped), on the colour images of the Tiny ImageNet validation split (chroma spread
>= 1, as `evaluate --min_chroma 1`), in the Stanford report's ab/128 units. Results: docs/results.md.

    OMP_NUM_THREADS=1 python docs/trials/ensemble_tta.py /path/to/tiny-imagenet-200 RUN.ckpt [RUN.ckpt ...]
"""

import itertools
import sys

import torch

from colorlab import color
from colorlab.data import TinyImageNetDataModule
from colorlab.evaluate import lab_batches
from colorlab.metrics import ABError
from colorlab.module import LitColorizer


def main(root: str, checkpoints: list[str]) -> None:
    models = {
        path: LitColorizer.load_from_checkpoint(path, map_location="cpu").eval() for path in checkpoints
    }
    datamodule = TinyImageNetDataModule(root=root, image_size=64, batch_size=128, num_workers=0)
    datamodule.setup("validate")
    errors: dict[str, tuple[ABError, ABError]] = {}  # name -> running L1, L2 in ab/128 (colorlab.metrics)

    def add(name: str, y_ab_hat: torch.Tensor, x_l: torch.Tensor, lab: torch.Tensor) -> None:
        for metric in errors.setdefault(name, (ABError(1, color.AB_SCALE), ABError(2, color.AB_SCALE))):
            metric.update(color.denormalize(x_l, y_ab_hat), lab)

    with torch.no_grad():
        for lab in lab_batches(datamodule.val_dataloader(), "cpu", None, "val", min_chroma=1.0):
            x_l, _ = color.normalize(lab)
            preds = {}
            for path, model in models.items():
                plain = model.objective.decode(model(x_l), x_l.shape[-2:])  # (B, 2, H, W) ab/128
                flipped = model.objective.decode(model(x_l.flip(-1)), x_l.shape[-2:]).flip(-1)
                preds[path] = (plain, (plain + flipped) / 2)
            for r in range(1, len(models) + 1):
                for group in itertools.combinations(models, r):
                    add(" + ".join(group), sum(preds[p][0] for p in group) / r, x_l, lab)
                    add(" + ".join(group) + " (+flip)", sum(preds[p][1] for p in group) / r, x_l, lab)
    scores = {name: (float(l1.compute()), float(l2.compute())) for name, (l1, l2) in errors.items()}
    for name, (l1, l2) in sorted(scores.items(), key=lambda item: item[1][0]):
        print(f"L1 {l1:.4f}  L2 {l2:.5f}  {name}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
