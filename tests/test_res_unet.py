"""ResUNet's layout, and the zero-initialised head every catalogue net with a 1x1 head starts from
(the catalogue-wide contract, gradients and overfitting are in test_models.py)."""

from __future__ import annotations

import pytest
import torch

from colorlab import models
from colorlab.models.layers import zero_head

HEADED = [
    "ResNetRegressor",
    "ResUNet",
    "ResidualCNN",
    "UNet",
    "ZhangCNN",
]  # nets whose output is a 1x1 ``head``


@pytest.mark.parametrize("out_channels", [2, 261])
@pytest.mark.parametrize("name", HEADED)
def test_fresh_net_predicts_a_constant(name, out_channels):
    """Before any step the output is exactly 0: grey ab for regression, uniform bins for classification."""
    torch.manual_seed(0)
    net = getattr(models, name)(
        out_channels, **({"width": 8} if name != "ResNetRegressor" else {"width": 16})
    )
    assert isinstance(net.head, torch.nn.Conv2d) and net.head.kernel_size == (1, 1)
    out = net.train()(torch.rand(2, 1, 64, 64))
    assert torch.count_nonzero(out) == 0
    probs = torch.softmax(out, dim=1)
    torch.testing.assert_close(probs, torch.full_like(probs, 1 / out_channels))


def test_zero_head_is_a_zero_1x1_conv():
    head = zero_head(5, 3)
    assert head.kernel_size == (1, 1) and (head.in_channels, head.out_channels) == (5, 3)
    assert torch.count_nonzero(head.weight) == 0 and torch.count_nonzero(head.bias) == 0


def test_res_unet_resolutions_follow_its_layout_table():
    """Stem and stage 1 at H/2 (w channels), stages 2-4 at H/4, H/8, H/16 (2w, 4w, 8w), decoder back to H/8
    (4w) and H/4 (2w), head at H/4; on a non-square input, to catch a swapped H and W."""
    w, h, wd = 8, 48, 80
    net = models.ResUNet(2, width=w, blocks=1).eval()
    shapes: dict[str, tuple[int, ...]] = {}
    modules = {"stem": net.stem, **{f"stage{k + 1}": s for k, s in enumerate(net.stages)},
               "up3": net.up[0], "up2": net.up[1], "head": net.head}  # fmt: skip
    for key, module in modules.items():
        module.register_forward_hook(lambda m, i, o, key=key: shapes.__setitem__(key, tuple(o.shape)))
    with torch.no_grad():
        net(torch.rand(1, 1, h, wd))
    assert shapes == {
        "stem": (1, w, h // 2, wd // 2),
        "stage1": (1, w, h // 2, wd // 2),
        "stage2": (1, 2 * w, h // 4, wd // 4),
        "stage3": (1, 4 * w, h // 8, wd // 8),
        "stage4": (1, 8 * w, h // 16, wd // 16),
        "up3": (1, 4 * w, h // 8, wd // 8),
        "up2": (1, 2 * w, h // 4, wd // 4),
        "head": (1, 2, h // 4, wd // 4),
    }


@pytest.mark.parametrize("blocks", [1, 3])
def test_res_unet_blocks_per_stage(blocks):
    net = models.ResUNet(2, width=8, blocks=blocks)
    assert [len(stage) for stage in net.stages] == [blocks] * 4
    strides = [[block.branch[0][0].stride for block in stage] for stage in net.stages]
    assert strides == [[(1, 1)] * blocks] + [[(2, 2)] + [(1, 1)] * (blocks - 1)] * 3


def test_res_unet_default_size():
    """The size the module docstring states: about 3.0M parameters with 2 outputs."""
    count = sum(p.numel() for p in models.ResUNet(2).parameters())
    assert abs(count - 3.02e6) < 0.01e6


@pytest.mark.parametrize("kwargs", [{"width": 0}, {"blocks": 0}])
def test_res_unet_rejects_bad_sizes(kwargs):
    with pytest.raises(ValueError, match="must be >= 1"):
        models.ResUNet(2, **kwargs)
