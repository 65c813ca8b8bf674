"""ActivationMaps: the chosen layers' feature maps of a fixed validation image, as PNG grids."""

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from colorlab import color
from colorlab.callbacks import ActivationMaps, activation_grid
from colorlab.data import ScenesDataModule
from colorlab.models import UNet
from colorlab.module import LitColorizer


def test_activation_grid_hand_worked():
    maps = torch.stack([torch.tensor([[0.0, 1.0], [2.0, 3.0]]), torch.full((2, 2), 7.0)])  # (2, 2, 2)
    grid = np.asarray(activation_grid(maps))
    assert grid.shape == (1 * 3 + 1, 2 * 3 + 1)  # 1 row of 2 tiles of 2x2, 1 px gaps
    np.testing.assert_array_equal(grid[1:3, 1:3], [[0, 85], [170, 255]])  # min-max scaled per channel
    np.testing.assert_array_equal(grid[1:3, 4:6], 0)  # a constant channel is black
    assert (grid[0] == 255).all() and (grid[:, 3] == 255).all()  # white gaps
    assert np.asarray(activation_grid(torch.rand(10, 3, 3), max_channels=4)).shape == (2 * 4 + 1, 2 * 4 + 1)


@pytest.fixture
def data():
    return ScenesDataModule(train_size=8, val_size=4, test_size=4, batch_size=4)


@pytest.mark.slow
def test_callback_saves_each_layers_maps_of_the_fixed_image(tmp_path, data):
    torch.manual_seed(0)
    model = LitColorizer(lambda c: UNet(c, width=4))
    callback = ActivationMaps(["encoder.1", "up.2"], index=2)
    trainer = L.Trainer(max_epochs=2, limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=0,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, callbacks=[callback])  # fmt: skip
    trainer.fit(model, data)
    for name in ("encoder.1", "up.2"):
        assert sorted(p.name for p in (tmp_path / "activations" / name).iterdir()) == ["epoch=0.png", "epoch=1.png"]
    # reference: the same image (third of the first validation batch) through the final weights
    data.setup("validate")
    lab = color.batch_to_lab({"rgb": data.val_set[2]["rgb"][None]})
    captured = {}
    hook = model.net.get_submodule("up.2").register_forward_hook(lambda m, i, out: captured.setdefault("out", out))
    with torch.no_grad():
        model.eval()(color.normalize(lab)[0])
    hook.remove()
    out = captured["out"][0]  # (C, h, w)
    c0 = out[0].numpy()
    expected = np.round(255 * (c0 - c0.min()) / (c0.max() - c0.min()))
    with Image.open(tmp_path / "activations/up.2/epoch=1.png") as image:
        grid = np.asarray(image)
    h, w = out.shape[1:]
    nrow = int(np.ceil(np.sqrt(out.shape[0])))
    assert grid.shape == (-(-out.shape[0] // nrow) * (h + 1) + 1, nrow * (w + 1) + 1)
    np.testing.assert_allclose(grid[1 : 1 + h, 1 : 1 + w], expected, atol=1)


def test_unknown_layer_names_the_valid_ones(tmp_path, data):
    trainer = L.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        default_root_dir=tmp_path, callbacks=[ActivationMaps(["encoder.9"])])  # fmt: skip
    with pytest.raises(ValueError, match=r"encoder\.9.*valid names: encoder, encoder\.0"):
        trainer.fit(LitColorizer(lambda c: UNet(c, width=4)), data)
