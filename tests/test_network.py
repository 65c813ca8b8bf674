"""colorlab.network: the Lightning-free model that inference runs, against LitColorizer built from the same config."""

import pytest
import torch

from colorlab import color, network
from colorlab.module import from_config

CONFIG = {
    "net": {"class_path": "colorlab.models.PretrainedUNet",
            "init_args": {"pretrained": False, "decoder_channels": [16, 16, 16], "input_scale": 1}},
    "objective": {"class_path": "colorlab.objectives.Classification",
                  "init_args": {"priors": torch.linspace(1, 2, 261).div(torch.linspace(1, 2, 261).sum()).tolist(),
                                "lam": 1.0, "prior_shift": 0.7, "decoding": "annealed_mean", "temperature": 0.5}},
}  # fmt: skip


def test_build_gives_litcolorizers_predictions_from_the_same_weights():
    torch.manual_seed(0)
    lit = from_config(CONFIG).eval()
    for parameter in lit.net.parameters():  # random everywhere (the head starts at zero)
        torch.nn.init.normal_(parameter, std=0.1)
    model = network.build(CONFIG, "test config", (32, 32))
    model.load_state_dict(lit.state_dict())
    model.eval()
    assert model.train_resolution == (32, 32) and model.objective.prior_shift == 0.7
    x_l = torch.rand(2, 1, 40, 56)  # not a multiple of the net's 32: padded and cropped alike
    with torch.no_grad():
        ab = model(x_l)
        torch.testing.assert_close(model.colorize(x_l), lit.colorize(x_l), rtol=0, atol=1e-5)
    assert ab.shape == (2, 2, 40, 56) and ab.abs().max() > 0.01
    torch.testing.assert_close(ab * color.AB_SCALE, lit.colorize(x_l)[:, 1:], rtol=0, atol=1e-4)


def test_build_defaults_to_regression_and_refuses_untrusted_classes():
    model = network.build({"net": {"class_path": "colorlab.models.UNet", "init_args": {"width": 4}}}, "a config")
    assert model.objective.kind == "regression" and model.train_resolution is None
    assert model(torch.rand(1, 1, 16, 24)).shape == (1, 2, 16, 24)
    with pytest.raises(ValueError, match="refused before importing"):
        network.build({"net": {"class_path": "subprocess.Popen"}}, "a config")
    with pytest.raises(ValueError, match="names no net"):
        network.build({}, "a config")
