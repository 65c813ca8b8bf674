"""Trial: does a 200-class auxiliary loss on the ResUNet's bottleneck help its regression?

Iizuka et al. 2016 ("Let there be Color!") train their colorizer jointly with the image's class. Here: colorlab's
ResUNet (width 32, 2 blocks) plus a linear classifier on its globally pooled H/16 features (256 -> 200), loss =
SmoothL1(beta 0.05) on ab/128 + w x cross-entropy of the Tiny ImageNet class; the rest as
experiments/tinyimagenet_res_unet.yaml (Adam 2e-3, batch 32, cosine over 12 epochs, horizontal flips, images of
chroma spread >= 1) in a hand loop with bf16 autocast on the CPU. w = 0 is the control. Scores the 9,802 colour
validation images at the end. Results: docs/results.md.

    OMP_NUM_THREADS=1 python docs/trials/aux_class.py /path/to/tiny-imagenet-200 W [EPOCHS [STRIDE]]

STRIDE 2 predicts ab at half resolution instead of a quarter (a third decoder stage, with the stage-1 skip).
"""

import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from colorlab import color
from colorlab.data.decoding import batch_chroma_spread
from colorlab.metrics import ABError
from colorlab.models import ResUNet
from colorlab.models.layers import zero_head
from colorlab.models.res_unet import _Up


def load(root: Path) -> tuple[torch.Tensor, ...]:
    """uint8 (N, 3, 64, 64) RGB and class ids of the training and validation images with colour."""
    read = lambda paths: torch.from_numpy(np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths]))
    wnids = sorted(p.name for p in (root / "train").iterdir())
    train = sorted((root / "train").glob("*/images/*.JPEG"))
    with open(root / "val" / "val_annotations.txt") as lines:
        annotations = dict(line.split("\t")[:2] for line in lines)
    val = sorted(annotations)
    x_train = read(train).permute(0, 3, 1, 2).contiguous()
    y_train = torch.tensor([wnids.index(p.parts[-3]) for p in train])
    x_val = read(root / "val" / "images" / f for f in val).permute(0, 3, 1, 2).contiguous()
    y_val = torch.tensor([wnids.index(annotations[f]) for f in val])
    keep, keep_val = batch_chroma_spread(x_train) >= 1, batch_chroma_spread(x_val) >= 1
    return x_train[keep], y_train[keep], x_val[keep_val], y_val[keep_val]


class AuxResUNet(ResUNet):
    """ResUNet + a class head; ``stride`` 2 adds a third decoder stage, to H/2 with the stage-1 skip."""

    def __init__(self, classes: int = 200, stride: int = 4) -> None:
        super().__init__(2, width=32, blocks=2)
        self.classify = nn.Linear(256, classes)
        self.stride = stride
        if stride == 2:
            self.up.append(_Up(64, 32))
            self.head = zero_head(32, 2)

    def forward(self, x_l: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.stem(x_l)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        logits = self.classify(x.mean((2, 3)))  # (B, 200) from the (B, 256, H/16, W/16) bottleneck
        x = self.up[1](self.up[0](x, features[2]), features[1])  # (B, 64, H/4, W/4)
        if self.stride == 2:
            x = self.up[2](x, features[0])  # (B, 32, H/2, W/2)
        return self.head(x), logits


def main(root: str, weight: float, epochs: int = 12, stride: int = 4, batch: int = 32) -> None:
    torch.manual_seed(0)
    x_train, y_train, x_val, y_val = load(Path(root))
    net = AuxResUNet(stride=stride)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    steps = len(x_train) // batch
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps)
    start = time.time()
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(x_train))
        for i in range(steps):
            pick = order[i * batch : (i + 1) * batch]
            rgb = x_train[pick]
            rgb = torch.where((torch.rand(len(pick)) < 0.5).view(-1, 1, 1, 1), rgb.flip(-1), rgb)
            x_l, y_ab = color.normalize(color.rgb8_to_lab(rgb))
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out, logits = net(x_l)
            ab_hat = F.interpolate(out.float(), size=y_ab.shape[-2:], mode="bilinear", align_corners=False)
            loss = F.smooth_l1_loss(ab_hat, y_ab, beta=0.05) + weight * F.cross_entropy(
                logits.float(), y_train[pick]
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch}: {time.time() - start:.0f} s", flush=True)
    net.eval()
    l1, l2, correct = ABError(1, color.AB_SCALE), ABError(2, color.AB_SCALE), 0
    with torch.no_grad():
        for i in range(0, len(x_val), 256):
            lab = color.rgb8_to_lab(x_val[i : i + 256])
            x_l, _ = color.normalize(lab)
            out, logits = net(x_l)
            lab_hat = color.denormalize(
                x_l, F.interpolate(out, size=x_l.shape[-2:], mode="bilinear", align_corners=False)
            )
            l1.update(lab_hat, lab)
            l2.update(lab_hat, lab)
            correct += int((logits.argmax(1) == y_val[i : i + 256]).sum())
    print(
        f"w {weight}, stride {stride}: val ab L1 {float(l1.compute()):.4f}  L2 {float(l2.compute()):.5f}  "
        f"class accuracy {correct / len(x_val):.3f}  {(time.time() - start) / 60:.1f} min, "
        f"{len(x_val)} colour validation images"
    )


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), *(int(a) for a in sys.argv[3:]))
