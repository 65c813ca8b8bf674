"""Colorizing real photos at full resolution (colorlab.infer, ``colorize``, ``predict``), checked with oracle
networks that know the photo's true colours, against scikit-image's Lab conversion and PSNR."""

import functools
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage import color as skcolor
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio
from torch import nn

from colorlab import checkpoint, color, infer
from colorlab.cli import cli_main
from colorlab.colorize import colorize
from colorlab.models import UNet
from colorlab.module import LitColorizer
from colorlab.objectives import Classification, Regression


def bilinear_bin_logits(ab: torch.Tensor) -> torch.Tensor:
    """(B, 2, h, w) ab (Lab units) -> (B, Q, h, w) logits whose softmax puts the bilinear-interpolation
    weights of ab on the 4 bins around it, so that *mean* decoding (sum_q p_q c_q) gives back ab exactly
    wherever the 4 bins are in gamut (the soft-encoding's Gaussian weights would not: their mean is pulled
    towards the cell centre by up to ~2 Lab units)."""
    bins = color.ab_bins()
    n = round(color.GRID_EXTENT / color.GRID_STEP)
    table = torch.full((2 * n + 2, 2 * n + 2), -1, dtype=torch.long)
    ij = (bins / color.GRID_STEP).round().long() + n
    table[ij[:, 0], ij[:, 1]] = torch.arange(bins.shape[0])
    g = ab / color.GRID_STEP + n  # grid units, offset so the smallest bin centre is at 0
    base = g.floor().long().clamp(0, 2 * n)
    frac = g - base
    logits = torch.full((ab.shape[0], bins.shape[0], *ab.shape[2:]), -40.0)
    for da in (0, 1):
        for db in (0, 1):
            weight = (frac[:, 0] if da else 1 - frac[:, 0]) * (frac[:, 1] if db else 1 - frac[:, 1])  # (B, h, w)
            index = table[base[:, 0] + da, base[:, 1] + db]  # (B, h, w), -1 where no bin
            present = index >= 0
            logits.scatter_(1, index.clamp(min=0)[:, None],
                            torch.where(present, weight.clamp_min(1e-12).log(), -40.0)[:, None])
    return logits


class OracleNet(nn.Module):
    """Knows one photo's true ab (a buffer, saved in the checkpoint) and returns it, area-resized to the
    input's size: as ab/128 for regression, as bilinear-bin logits for classification. The input is ignored."""

    stride = 1
    multiple = 1

    def __init__(self, out_channels: int, height: int = 8, width: int = 8) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.register_buffer("ab", torch.zeros(1, 2, height, width))  # Lab units
        self.dummy = nn.Parameter(torch.zeros(()))  # a parameter, so optimizers and Lightning accept the net

    def forward(self, x_l: torch.Tensor) -> torch.Tensor:
        ab = F.interpolate(self.ab, size=x_l.shape[-2:], mode="area").expand(x_l.shape[0], -1, -1, -1)
        out = ab / color.AB_SCALE if self.out_channels == 2 else bilinear_bin_logits(ab)
        return out + 0 * self.dummy


def photo(name: str = "chelsea", step: int = 1) -> np.ndarray:
    """A real photo shipped with scikit-image, (H, W, 3) uint8 (chelsea: 300 x 451, an odd width)."""
    return np.ascontiguousarray(getattr(skdata, name)()[::step, ::step])


def save_checkpoint(model: LitColorizer, path: Path) -> Path:
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, max_steps=0)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(path)
    return path


def oracle_model(rgb: np.ndarray, objective, train_resolution=None) -> LitColorizer:
    model = LitColorizer(functools.partial(OracleNet, height=rgb.shape[0], width=rgb.shape[1]), objective)
    model.net.ab.copy_(torch.from_numpy(skcolor.rgb2lab(rgb)[..., 1:]).permute(2, 0, 1)[None].float())
    model.train_resolution = train_resolution or rgb.shape[:2]
    return model


@pytest.fixture
def trust_oracle(monkeypatch):
    """Checkpoints naming OracleNet (this test module) may be loaded."""
    monkeypatch.setenv(checkpoint.TRUST_ENV, OracleNet.__module__)


def lab_of(path: Path) -> np.ndarray:
    return skcolor.rgb2lab(np.asarray(Image.open(path).convert("RGB")))


OBJECTIVES = {
    "regression": (Regression(), []),
    # saved with mode decoding (quantised to the 10-unit bins); --decoding mean makes the oracle exact
    "classification": (Classification(decoding="mode"), ["--decoding", "mean"]),
}


# ------------------------------------------------------------------------------ LitColorizer.colorize
@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_colorize_with_an_oracle_reproduces_the_photo_and_keeps_l(kind):
    rgb = photo("astronaut", step=4)  # 128 x 128
    objective = Regression() if kind == "regression" else Classification(decoding="mean")
    model = oracle_model(rgb, objective).eval()
    lab = torch.from_numpy(skcolor.rgb2lab(rgb)).permute(2, 0, 1)[None].float()
    x_l = lab[:, :1] / 100
    with torch.no_grad():
        lab_hat = model.colorize(x_l)
    assert torch.equal(lab_hat[:, :1], x_l * color.L_SCALE)
    rgb_hat = skcolor.lab2rgb(lab_hat[0].permute(1, 2, 0).double().numpy())  # scikit-image's Lab -> sRGB
    assert peak_signal_noise_ratio(rgb / 255.0, rgb_hat, data_range=1.0) > 40


# ------------------------------------------------------------------------------ colorize command
@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_colorize_command_reproduces_a_photo_at_full_resolution(kind, tmp_path, trust_oracle):
    rgb = photo("chelsea", step=2 if kind == "classification" else 1)  # 300 x 451 / 150 x 226
    objective, options = OBJECTIVES[kind]
    ckpt = save_checkpoint(oracle_model(rgb, objective), tmp_path / "oracle.ckpt")
    Image.fromarray(rgb).save(tmp_path / "cat.png")
    cli_main(["colorize", "--ckpt_path", str(ckpt), "--input", str(tmp_path / "cat.png"),
              "--output", str(tmp_path / "out"), "--device", "cpu", *options])  # fmt: skip
    out = tmp_path / "out/cat.png"
    result = np.asarray(Image.open(out).convert("RGB"))
    assert result.shape == rgb.shape
    assert peak_signal_noise_ratio(rgb, result) > 40
    # the output's L is the input's to 8-bit rounding (the photo was converted to grey first: only L is used)
    assert np.abs(lab_of(out)[..., 0] - skcolor.rgb2lab(rgb)[..., 0]).max() < 0.6


def test_colorize_at_a_lower_working_size_upsamples_ab_smoothly(tmp_path, trust_oracle):
    """The default working size is the checkpoint's training resolution (shorter side 150 here, half the
    photo's): ab predicted there and upsampled bilinearly still gives > 40 dB on this photo (32-40 dB
    on busier ones: the ceiling any model at that resolution has)."""
    rgb = photo("chelsea")
    ckpt = save_checkpoint(oracle_model(rgb, Regression(), train_resolution=(150, 150)), tmp_path / "o.ckpt")
    Image.fromarray(rgb).save(tmp_path / "cat.jpg", quality=98)
    cli_main(["colorize", "--ckpt_path", str(ckpt), "--input", str(tmp_path / "cat.jpg"),
              "--output", str(tmp_path / "out"), "--compare", "true"])  # fmt: skip
    result = np.asarray(Image.open(tmp_path / "out/cat.jpg"))
    assert result.shape == rgb.shape and peak_signal_noise_ratio(rgb, result) > 40
    compared = np.asarray(Image.open(tmp_path / "out/cat_compare.jpg"))
    width = rgb.shape[1]
    assert compared.shape == (rgb.shape[0], 3 * width + 16, 3)
    grey, middle, original = compared[:, :width], compared[:, width + 8 : 2 * width + 8], compared[:, -width:]
    assert np.abs(grey.astype(int) - grey[..., :1]).max() <= 4  # grey: R = G = B (JPEG chroma aside)
    assert peak_signal_noise_ratio(rgb, middle) > 38 and peak_signal_noise_ratio(rgb, original) > 38


def test_working_size_follows_the_checkpoint_or_size():
    model = LitColorizer(functools.partial(UNet, width=4)).color_model()
    model.train_resolution = (64, 64)
    assert infer.Colorizer(model).working_size(300, 451) == (64, 96)
    assert infer.Colorizer(model, size=[100]).working_size(451, 300) == (150, 100)
    assert infer.Colorizer(model, size=[32, 48]).working_size(300, 451) == (32, 48)
    model.train_resolution = None
    with pytest.raises(ValueError, match="--size"):
        infer.Colorizer(model)


def test_strips_are_exactly_the_full_bilinear_upsampling(monkeypatch):
    ab = torch.randn(1, 2, 7, 9)
    full = F.interpolate(ab, size=(61, 83), mode="bilinear", align_corners=False)
    ab_x = F.interpolate(ab, size=(7, 83), mode="bilinear", align_corners=False)
    strips = torch.cat([infer.upsample_rows(ab_x, slice(top, min(61, top + 10)), 61) for top in range(0, 61, 10)], 2)
    torch.testing.assert_close(strips, full, atol=1e-5, rtol=0)
    # and the recombination, strip by strip (forced: 3 rows a strip), has the input's L exactly
    monkeypatch.setattr(infer, "STRIP_PIXELS", 83 * 3)
    rgb = photo("coffee")[:61, :83]
    picture = infer.Picture(rgb)
    lab = torch.cat([lab for _, lab, _ in infer.full_resolution_lab(picture, ab)], dim=2)
    reference = torch.from_numpy(skcolor.rgb2lab(rgb)).permute(2, 0, 1)[None].float()
    assert (lab[:, :1] - reference[:, :1]).abs().max() < 1e-3  # kornia's L vs scikit-image's, float32
    torch.testing.assert_close(lab[:, 1:], full * color.AB_SCALE, atol=1e-3, rtol=0)


def test_exif_rotated_odd_sized_input_comes_out_upright_at_its_size(tmp_path, trust_oracle):
    upright = photo("chelsea")[:37, :53]  # 37 x 53
    stored = np.ascontiguousarray(np.rot90(upright, k=1))  # 53 x 37, shown upright by orientation 6
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    Image.fromarray(stored).save(tmp_path / "rot.jpg", exif=exif.tobytes(), quality=98)
    ckpt = save_checkpoint(oracle_model(upright, Regression()), tmp_path / "o.ckpt")
    cli_main(["colorize", "--ckpt_path", str(ckpt), "--input", str(tmp_path / "rot.jpg"),
              "--output", str(tmp_path / "out")])  # fmt: skip
    out = Image.open(tmp_path / "out/rot.jpg")
    assert out.size == (53, 37) and out.getexif().get(0x0112, 1) == 1
    assert peak_signal_noise_ratio(upright, np.asarray(out)) > 30  # upright content (rotated would be ~10 dB)


def test_modes_grey_palette_rgba_16bit_keep_size_alpha_and_precision(tmp_path):
    rgb = photo("coffee", step=5)  # 80 x 120
    grey16 = (skcolor.rgb2gray(rgb) * 65535).round().astype(np.uint16)
    alpha = np.linspace(0, 255, rgb.shape[1], dtype=np.uint8)[None].repeat(rgb.shape[0], 0)
    Image.fromarray(rgb).convert("L").save(tmp_path / "grey.png")
    Image.fromarray(rgb).quantize(64).save(tmp_path / "palette.png")
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "rgba.png")
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode.startswith("I")
    # precision: L of a 16-bit grey file is computed from all 16 bits (scikit-image as the reference)
    picture = infer.read_picture(tmp_path / "grey16.png")
    lab = next(infer.full_resolution_lab(picture, torch.zeros(1, 2, 4, 4)))[1]
    grey = grey16 / 65535.0
    reference = skcolor.rgb2lab(np.dstack([grey] * 3))[..., 0]
    assert np.abs(lab[0, 0].numpy() - reference).max() < 1e-3

    model = LitColorizer(functools.partial(UNet, width=4))
    model.train_resolution = (32, 32)
    ckpt = save_checkpoint(model, tmp_path / "unet.ckpt")
    cli_main(["colorize", "--ckpt_path", str(ckpt), "--input", str(tmp_path), "--output", str(tmp_path / "out")])
    for name in ("grey", "palette", "rgba", "grey16"):
        out = Image.open(tmp_path / f"out/{name}.png")
        assert out.size == (rgb.shape[1], rgb.shape[0]), name
        assert out.mode == ("RGBA" if name == "rgba" else "RGB"), name
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out/rgba.png"))[..., 3], alpha)


def test_folder_with_a_corrupt_file_writes_the_rest_and_exits_1(tmp_path, capsys):
    rgb = photo("coffee", step=8)
    (tmp_path / "in/sub").mkdir(parents=True)
    Image.fromarray(rgb).save(tmp_path / "in/a.png")
    Image.fromarray(rgb).save(tmp_path / "in/sub/b.jpg")
    (tmp_path / "in/broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    model = LitColorizer(functools.partial(UNet, width=4))
    model.train_resolution = (16, 16)
    ckpt = save_checkpoint(model, tmp_path / "unet.ckpt")
    args = ["colorize", "--ckpt_path", str(ckpt), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
            "--format", "png"]  # fmt: skip
    with pytest.raises(SystemExit) as exit_:
        cli_main(args)
    assert exit_.value.code == 1
    report = capsys.readouterr().out
    assert "2 written" in report and "broken.jpg" in report and "1 failed" in report
    assert (tmp_path / "out/a.png").is_file() and (tmp_path / "out/sub/b.png").is_file()
    # existing outputs are kept unless --overwrite
    (tmp_path / "in/broken.jpg").unlink()
    before = (tmp_path / "out/a.png").stat().st_mtime_ns
    summary = cli_main(args)
    assert len(summary.existing) == 2 and not summary.written
    assert (tmp_path / "out/a.png").stat().st_mtime_ns == before
    assert len(cli_main([*args, "--overwrite", "true"]).written) == 2


def test_bad_input_and_options_are_one_line_errors(tmp_path):
    model = LitColorizer(functools.partial(UNet, width=4))
    model.train_resolution = (16, 16)
    ckpt = save_checkpoint(model, tmp_path / "unet.ckpt")
    with pytest.raises(FileNotFoundError, match="nothing_here"):
        colorize(str(tmp_path / "nothing_here"), str(ckpt))
    Image.fromarray(photo("coffee", step=8)).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match="regression"):
        colorize(str(tmp_path / "a.png"), str(ckpt), decoding="mean")
    with pytest.raises(ValueError, match="format"):
        colorize(str(tmp_path / "a.png"), str(ckpt), format="gif")


# ------------------------------------------------------------------------------ predict
def test_predict_writes_full_resolution_files_through_the_writer(tmp_path, trust_oracle):
    rgb = photo("chelsea")
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("one", "two"):
        Image.fromarray(rgb).save(folder / f"{name}.png")
    ckpt = save_checkpoint(oracle_model(rgb, Classification(decoding="mean")), tmp_path / "oracle.ckpt")
    # LightningCLI wants model.net before it reads the checkpoint; the checkpoint's init_args then apply
    cli_main(["predict", "--model.net", f"{OracleNet.__module__}.OracleNet",
              "--data", "colorlab.data.FolderDataModule", "--data.root", str(folder),
              "--data.image_size", "64", "--data.num_workers", "0", "--data.batch_size", "2",
              "--ckpt_path", str(ckpt), "--trainer.default_root_dir", str(tmp_path / "run"),
              "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"])  # fmt: skip
    for name in ("one", "two"):
        out = np.asarray(Image.open(tmp_path / f"run/predictions/{name}.png"))
        assert out.shape == rgb.shape and peak_signal_noise_ratio(rgb, out) > 40


def test_reduced_precision_runs_the_net_only_and_stays_close():
    """bf16 autocast (what --precision 16 does on CUDA, with float16) changes the net's arithmetic only: ab
    comes back float32 and close to the float32 run; L is not touched (it never goes through the net)."""
    torch.manual_seed(0)
    model = LitColorizer(functools.partial(UNet, width=8), Classification(decoding="mean")).eval()
    model.train_resolution = (32, 32)
    for parameter in model.parameters():  # random everywhere (the output layer starts at zero)
        torch.nn.init.normal_(parameter, std=0.2)
    model = model.color_model()
    rgb = infer.Picture(photo("coffee", step=10)).resized((32, 48))
    full = infer.Colorizer(model, precision="32").predict_ab(rgb)
    half = infer.Colorizer(model, precision="bf16").predict_ab(rgb)
    assert half.dtype == torch.float32 and full.shape == half.shape == (1, 2, 32, 48)
    assert 0 < (half - full).abs().max() < 0.05 * full.abs().max() + 1e-3
