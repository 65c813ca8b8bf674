"""The network catalogue: every class in ``colorlab.models.__all__`` keeps the contract of
``colorlab/models/__init__.py``, learns, and has the size its source reports."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from skimage import data
from skimage.transform import resize

from colorlab import models
from colorlab.color import AB_SCALE, normalize, rgb_to_lab

NAMES = models.__all__
FAST_EXTRACTOR = "mobilenetv3_small_050"  # a 0.6M-parameter timm net keeps FusionNet quick on CPU
TINY = {"width": 8, "pretrained": False, "extractor": FAST_EXTRACTOR}  # applied where a net takes them


def build(name: str, out_channels: int = 2, **overrides) -> torch.nn.Module:
    """A small, download-free, seeded instance of ``name``: ``TINY`` updated by ``overrides``, each
    argument passed only where the class takes it (so a new net needs no entry here)."""
    cls = getattr(models, name)
    params = inspect.signature(cls).parameters
    kwargs = {k: v for k, v in {**TINY, **overrides}.items() if k in params}
    torch.manual_seed(0)
    return cls(out_channels, **kwargs)


def fit(n: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is >= n."""
    return -(-n // multiple) * multiple


def n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# --------------------------------------------------------------------------------------------
# contract


@pytest.mark.parametrize("name", NAMES)
def test_contract(name):
    cls = getattr(models, name)
    params = list(inspect.signature(cls).parameters.values())
    assert params[0].name == "out_channels" and params[0].annotation in (int, "int")
    doc = inspect.getdoc(cls)
    assert "Args:" in doc, f"{name} documents no Args: (the CLI --help)"
    args_doc = doc.split("Args:", 1)[1]
    for p in params:
        assert p.annotation is not inspect.Parameter.empty, f"{name}.{p.name} has no type"
        assert f"{p.name}:" in args_doc, f"{name}.{p.name} is not documented under Args:"
        if p.name != "out_channels":
            assert p.default is not inspect.Parameter.empty, f"{name}.{p.name} has no default"
    net = build(name)
    assert net.stride in (1, 2, 4)
    assert isinstance(net.multiple, int) and net.multiple >= 1
    assert net.supports and set(net.supports) <= {"regression", "classification"}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("out_channels", [2, 261])
@pytest.mark.parametrize("size", [(64, 64), (48, 80)])
def test_forward_shape(name, out_channels, size):
    net = build(name, out_channels).eval()
    h, w = (fit(n, net.multiple) for n in size)
    x_l = torch.rand(2, 1, h, w)
    with torch.no_grad():
        out = net(x_l)
    assert out.shape == (2, out_channels, h // net.stride, w // net.stride)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_named(name):
    net = build(name).eval()
    m = net.multiple
    with pytest.raises(ValueError, match=r"\(2, 3, "):
        net(torch.rand(2, 3, 4 * m, 4 * m))
    if m > 1:
        with pytest.raises(ValueError, match=f"multiples of {m}"):
            net(torch.rand(1, 1, 4 * m + 1, 4 * m))


@pytest.mark.parametrize("name", NAMES)
def test_every_trainable_parameter_learns(name):
    """After one SGD step every trainable parameter gets a non-zero, finite gradient; frozen ones none.

    One step first, because a net may start its head at zero (``layers.zero_head``: nothing before it gets
    a gradient until the head moves).
    """
    net = build(name).train()
    trainable = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    assert trainable
    opt = torch.optim.SGD([p for _, p in trainable], lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        out = net(torch.rand(2, 1, 64, 64))
        (out * torch.randn_like(out)).sum().backward()  # random weights: no parameter can cancel out
        opt.step()
    for n, p in trainable:
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}.{n} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}.{n} has a non-finite gradient"
    frozen = [p for p in net.parameters() if not p.requires_grad]
    assert all(p.grad is None for p in frozen)


# --------------------------------------------------------------------------------------------
# FusionNet's frozen extractor


def test_fusion_extractor_is_frozen():
    net = build("FusionNet").train()
    assert net.training and not net.extractor.training
    assert not any(p.requires_grad for p in net.extractor.parameters())
    before = {k: v.clone() for k, v in net.extractor.state_dict().items()}
    out = net(torch.rand(2, 1, 64, 64))
    out.sum().backward()
    assert all(p.grad is None for p in net.extractor.parameters())
    after = net.extractor.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "BatchNorm statistics moved"


def test_fusion_loads_local_weights(tmp_path):
    torch.manual_seed(1)
    reference = timm.create_model(FAST_EXTRACTOR, pretrained=False)
    path = tmp_path / "extractor.pth"
    torch.save(reference.state_dict(), path)
    net = build("FusionNet", weights=str(path))
    loaded = net.extractor.state_dict()
    assert loaded.keys() == reference.state_dict().keys()
    assert all(torch.equal(loaded[k], v) for k, v in reference.state_dict().items())


def test_fusion_embedding_subset():
    full = build("FusionNet", embedding="pooled")
    sub = build("FusionNet", embedding="pooled", embed_dims=256)
    again = build("FusionNet", embedding="pooled", embed_dims=256)
    assert full.embed_index.numel() == full.extractor.head_hidden_size
    assert sub.embed_index.numel() == 256 and torch.equal(sub.embed_index, again.embed_index)
    assert "embed_index" in sub.state_dict()  # the subset travels with a checkpoint
    x_l = torch.rand(1, 1, 32, 32)
    torch.testing.assert_close(sub.embed(x_l), full.embed(x_l)[:, sub.embed_index])
    with pytest.raises(ValueError, match="embed_dims"):
        build("FusionNet", embed_dims=5000)


def test_fusion_inception_v3():
    """The report's main extractor (random weights): 299x299 input, 1000 logits, ~24M frozen params."""
    net = build("FusionNet", extractor="inception_v3", embed_dims=256).train()
    assert net.extractor_size == (299, 299)
    assert abs(n_params(net.extractor) - 24e6) < 0.1 * 24e6  # "Inception-v3 ... has 24mln parameters"
    out = net(torch.rand(2, 1, 48, 80))
    assert out.shape == (2, 2, 48, 80) and torch.isfinite(out).all()
    assert not net.extractor.training


# --------------------------------------------------------------------------------------------
# sizes reported by the sources (default widths)

PUBLISHED = [
    # (class, kwargs, reported parameters, source)
    ("ZhangCNN", {"out_channels": 313}, 32.23e6, "SRM review table / Zhang et al. 2016"),
    ("ZhangCNN", {"out_channels": 2, "width": 24, "blocks": 5, "depth": 2}, 1e6, "Padova fruit net"),
    ("ZhangCNN", {"out_channels": 2, "width": 24, "blocks": 7, "depth": 3}, 3.5e6, "Padova animals net"),
    ("ResidualCNN", {"out_channels": 313}, 16.44e6, "SRM review residual table, sum of its P column"),
    ("Autoencoder", {"out_channels": 2}, 6e6, "Padova autoencoder"),
    ("Autoencoder", {"out_channels": 2, "width": 26}, 1e6, "Padova first, smaller autoencoder"),
]


@pytest.mark.parametrize(("name", "kwargs", "reported", "source"), PUBLISHED, ids=[p[3] for p in PUBLISHED])
def test_parameter_count_matches_source(name, kwargs, reported, source):
    count = n_params(getattr(models, name)(**kwargs))
    assert abs(count - reported) <= 0.1 * reported, f"{source}: {count / 1e6:.2f}M vs {reported / 1e6:.2f}M"


# --------------------------------------------------------------------------------------------
# learning: the Olin project's single-image overfit check


@pytest.fixture(scope="module")
def photo():
    """skimage's astronaut at 64x64 as (x_l, y_ab): (1, 1, 64, 64) L/100 and (1, 2, 64, 64) ab/128."""
    rgb = resize(data.astronaut(), (64, 64), anti_aliasing=True).astype(np.float32)  # floats in [0, 1]
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None])
    return normalize(lab)


OVERFIT_STEPS = 150
OVERFIT_LR = 1e-3  # Adam; the Olin project used 1e-4 and hundreds of epochs


@pytest.mark.slow  # 150 Adam steps per net: about 35 s for the catalogue on 2 CPU cores
@pytest.mark.parametrize("name", NAMES)
def test_overfits_one_photo(name, photo):
    """MSE on ab/128 with Adam; the ab L1 (Lab units, full size) must fall below half the best constant's."""
    x_l, y_ab = photo
    net = build(name, width=16)  # width 8 leaves 2-channel layers in some decoders
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=OVERFIT_LR)
    net.train()
    for _ in range(OVERFIT_STEPS):
        ab_hat = F.interpolate(net(x_l), size=x_l.shape[-2:], mode="bilinear", align_corners=False)
        loss = F.mse_loss(ab_hat, y_ab)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        ab_hat = F.interpolate(net(x_l), size=x_l.shape[-2:], mode="bilinear", align_corners=False)
    l1 = (ab_hat - y_ab).abs().mean().item() * AB_SCALE
    median = y_ab.flatten(2).median(dim=2).values[..., None, None]  # the best constant under L1
    constant_l1 = (median - y_ab).abs().mean().item() * AB_SCALE
    assert l1 < 0.5 * constant_l1, f"{name}: ab L1 {l1:.2f} vs constant {constant_l1:.2f} (Lab units)"
