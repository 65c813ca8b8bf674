"""PretrainedUNet and the LitColorizer options made for it: the encoder's input scaling, its frozen first
layers, its own learning rate, a frozen first epoch, and a scheduler stepped per batch."""

from __future__ import annotations

from functools import partial

import lightning as L
import numpy as np
import pytest
import torch
from skimage.color import lab2rgb

from colorlab.data import ScenesDataModule
from colorlab.models import PretrainedUNet, ResUNet
from colorlab.module import LitColorizer
from colorlab.objectives import Regression

SMALL = {"pretrained": False, "decoder_channels": [8, 8, 8]}


def small_net(out_channels: int = 2, **kwargs) -> PretrainedUNet:
    torch.manual_seed(0)
    return PretrainedUNet(out_channels, **{**SMALL, **kwargs})


def test_encoder_sees_the_grey_srgb_image_in_its_own_normalisation():
    net = small_net(input_scale=1)
    x_l = torch.linspace(0, 1, 16 * 16).view(1, 1, 16, 16)
    lab = np.stack([100 * x_l[0, 0].numpy(), np.zeros((16, 16)), np.zeros((16, 16))], axis=-1)
    gray = torch.from_numpy(lab2rgb(lab)).permute(2, 0, 1)[None].float()  # (1, 3, 16, 16), R = G = B
    expected = (gray - 0.5) / 0.5  # tf_efficientnet_lite0 was trained on inputs in [-1, 1]
    torch.testing.assert_close(net.encoder_input(x_l), expected, atol=2e-4, rtol=0)
    scaled = small_net(input_scale=2).encoder_input(x_l)
    assert scaled.shape == (1, 3, 32, 32)


@pytest.mark.parametrize(("scale", "stride", "multiple"), [(1, 4, 32), (2, 2, 16), (4, 1, 8)])
def test_input_scale_sets_stride_and_multiple(scale, stride, multiple):
    net = small_net(input_scale=scale).eval()
    assert (net.stride, net.multiple) == (stride, multiple)
    with torch.no_grad():
        assert net(torch.rand(1, 1, 32, 64)).shape == (1, 2, 32 // stride, 64 // stride)


def test_frozen_layers_keep_weights_and_statistics():
    net = small_net(frozen_to=8).train()
    frozen_params = {n for n, p in net.encoder.named_parameters() if not p.requires_grad}
    assert any(n.startswith("blocks.2.") for n in frozen_params), "the 1/8 stage is frozen"
    assert not any(n.startswith("blocks.3.") for n in frozen_params), "the 1/16 stage trains"
    before = {k: v.clone() for k, v in net.encoder.state_dict().items()}
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    for _ in range(2):
        out = net(torch.rand(2, 1, 32, 32))
        opt.zero_grad()
        (out * torch.randn_like(out)).sum().backward()
        opt.step()
    after = net.encoder.state_dict()
    for key, value in before.items():
        frozen = key.startswith(("conv_stem", "bn1", "blocks.0.", "blocks.1.", "blocks.2."))
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(value, after[key]) == frozen, f"{key}: frozen={frozen}"
    with pytest.raises(ValueError, match="frozen_to"):
        small_net(frozen_to=3)


def test_encoder_gets_its_own_learning_rate_and_schedule():
    model = LitColorizer(
        partial(PretrainedUNet, **SMALL),
        optimizer=partial(torch.optim.Adam, lr=1e-3),
        scheduler=partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=10),
        scheduler_interval="step",
        encoder_lr=0.1,
    )
    config = model.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]
    assert scheduler["interval"] == "step"
    decoder, encoder = optimizer.param_groups
    assert decoder["lr"] == pytest.approx(1e-3) and encoder["lr"] == pytest.approx(1e-4)
    assert {id(p) for p in encoder["params"]} == {id(p) for p in model.net.encoder.parameters()}
    assert not {id(p) for p in encoder["params"]} & {id(p) for p in decoder["params"]}
    for _ in range(5):
        optimizer.step()
        scheduler["scheduler"].step()
    assert encoder["lr"] == pytest.approx(0.1 * decoder["lr"]) and decoder["lr"] == pytest.approx(5e-4)


def test_one_group_without_encoder_options_and_a_clear_refusal():
    model = LitColorizer(partial(ResUNet, width=4))
    assert len(model.configure_optimizers().param_groups) == 1
    with pytest.raises(ValueError, match="ResUNet has none"):
        LitColorizer(partial(ResUNet, width=4), encoder_lr=0.5)
    with pytest.raises(ValueError, match="scheduler_interval"):
        LitColorizer(partial(ResUNet, width=4), scheduler_interval="batch")


class EncoderSnapshots(L.Callback):
    """The encoder's state dict at the end of every training epoch."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: LitColorizer) -> None:
        self.states.append({k: v.clone() for k, v in pl_module.net.encoder.state_dict().items()})


def test_encoder_frozen_for_the_first_epoch_then_trained(tmp_path):
    model = LitColorizer(
        partial(PretrainedUNet, **SMALL), Regression(), freeze_encoder_epochs=1, encoder_lr=0.5, channels_last=False
    )
    start = {k: v.clone() for k, v in model.net.encoder.state_dict().items()}
    snapshots = EncoderSnapshots()
    trainer = L.Trainer(
        max_epochs=2, limit_train_batches=2, limit_val_batches=0, callbacks=[snapshots], logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(model, ScenesDataModule(train_size=16, val_size=4, batch_size=4, image_size=32, num_workers=0))
    first, second = snapshots.states
    assert all(torch.equal(first[k], v) for k, v in start.items()), "weights or BatchNorm statistics moved in epoch 0"
    assert not torch.equal(second["conv_stem.weight"], start["conv_stem.weight"]), "epoch 1 trains the encoder"
    assert not torch.equal(second["bn1.running_mean"], start["bn1.running_mean"])
