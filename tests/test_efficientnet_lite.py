"""colorlab's EfficientNet-Lite encoders against timm's ``features_only`` build, their outside reference: the same
tensor names and shapes, the same features from the same weights (TensorFlow "SAME" padding at odd sizes, in
training and eval mode), the same feature description and input scaling, and TensorFlow's initialisation."""

import math

import pytest
import timm
import torch
from torch import nn

from colorlab.models.efficientnet_lite import VARIANTS, EfficientNetLiteFeatures
from colorlab.pretrained import create_model, input_normalization


@pytest.mark.parametrize("name", ["tf_efficientnet_lite0", "tf_efficientnet_lite2", "tf_efficientnet_lite4"])
def test_features_match_timm_given_the_same_weights(name):
    torch.manual_seed(0)
    reference = timm.create_model(name, features_only=True)
    ours = EfficientNetLiteFeatures(name)
    expected = reference.state_dict()
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [(k, v.shape) for k, v in expected.items()]
    ours.load_state_dict(expected)
    x = torch.randn(2, 3, 67, 90)  # odd and even sides: the strided convs' padding is asymmetric
    for training in (False, True):
        reference.train(training)
        ours.train(training)
        for got, want in zip(ours(x), reference(x), strict=True):
            assert got.shape == want.shape
            torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    # training mode updated the BatchNorm statistics alike
    torch.testing.assert_close(ours.state_dict(), reference.state_dict(), rtol=0, atol=1e-6)
    info = reference.feature_info
    assert ours.feature_info.channels() == info.channels()
    assert ours.feature_info.reduction() == info.reduction()
    assert ours.feature_info.module_name() == info.module_name()
    assert input_normalization(ours) == input_normalization(reference)


def test_initialisation_is_tensorflows():
    torch.manual_seed(0)
    model = EfficientNetLiteFeatures("tf_efficientnet_lite0")
    checked = 0
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and module.weight.numel() >= 4096:
            fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
            assert module.weight.std().item() == pytest.approx(math.sqrt(2 / fan_out), rel=0.1), module
            assert abs(module.weight.mean().item()) < 0.2 * math.sqrt(2 / fan_out)
            checked += 1
        elif isinstance(module, nn.BatchNorm2d):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0)
    assert checked > 20


def test_create_model_builds_lite_encoders_without_timm_and_others_with_it():
    assert type(create_model("tf_efficientnet_lite0", pretrained=False, features_only=True)) is EfficientNetLiteFeatures
    assert type(create_model("tf_efficientnet_lite0", pretrained=False)) is not EfficientNetLiteFeatures  # classifier
    assert type(create_model("resnet18", pretrained=False, features_only=True)) is not EfficientNetLiteFeatures
    with pytest.raises(ValueError, match="unknown EfficientNet-Lite"):
        EfficientNetLiteFeatures("tf_efficientnet_lite9")
    assert set(VARIANTS) == {f"tf_efficientnet_lite{i}" for i in range(5)}
