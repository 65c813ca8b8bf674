"""Colorizing videos (colorlab.video): frames, size, timing and audio survive; smoothing reduces flicker."""

from pathlib import Path

import av
import lightning as L
import numpy as np
import pytest
import torch
from skimage import data as skdata
from torch import nn

from colorlab import checkpoint, infer
from colorlab.cli import cli_main
from colorlab.module import LitColorizer
from colorlab.video import ab_flicker


class LightToColour(nn.Module):
    """ab follows L steeply (orange where bright, blue where dark), so sensor noise on L shows as flicker."""

    stride = 1
    multiple = 1

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(20.0))

    def forward(self, x_l: torch.Tensor) -> torch.Tensor:
        t = torch.tanh(self.gain * (x_l - 0.45))
        return torch.cat([0.3 * t, 0.4 * t], dim=1)  # (B, 2, H, W) ab/128


def make_video(path: Path, frames: int = 12, audio: bool = True, noise: float = 3.0) -> Path:
    """A still shot (a real photo, 64 x 48) with sensor noise, H.264 at 12 fps, optionally 1 s of AAC audio."""
    rng = np.random.default_rng(0)
    base = skdata.chelsea()[:96:2, :128:2].astype(float)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=12)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.options = {"crf": "0"}  # lossless: keep the noise the test is about
        sound = container.add_stream("aac", rate=8000) if audio else None
        for _ in range(frames):
            image = np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype(np.float32)[None]
            for start in range(0, samples.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(samples[:, start : start + 1024], format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 8000, start
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path


def streams(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        return {"frames": frames, "size": (video.codec_context.width, video.codec_context.height),
                "audio": [s.codec_context.name for s in container.streams.audio]}


@pytest.fixture
def checkpoint_path(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(checkpoint.TRUST_ENV, LightToColour.__module__)
    model = LitColorizer(LightToColour)
    model.train_resolution = (24, 24)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, max_steps=0)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    return tmp_path / "model.ckpt"


@pytest.mark.parametrize("audio", [True, False])
def test_video_round_trip_keeps_frames_size_and_audio(tmp_path, checkpoint_path, audio):
    source = make_video(tmp_path / "clip.mp4", frames=12, audio=audio)
    cli_main(["colorize", "--ckpt_path", str(checkpoint_path), "--input", str(source),
              "--output", str(tmp_path / "out"), "--batch_size", "5"])  # fmt: skip
    before, after = streams(source), streams(tmp_path / "out/clip.mp4")
    assert after["frames"] == before["frames"] == 12 and after["size"] == before["size"] == (64, 48)
    assert after["audio"] == (["aac"] if audio else [])
    with av.open(str(tmp_path / "out/clip.mp4")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    assert np.abs(frame[..., 0] - frame[..., 2]).mean() > 10  # colour, not grey


def test_temporal_smoothing_reduces_flicker_on_a_still_shot(tmp_path, checkpoint_path):
    source = make_video(tmp_path / "still.mp4", frames=16, audio=False)
    colorizer = infer.Colorizer(infer.load_model(checkpoint_path, "cpu"))
    from colorlab.video import colorize_video

    flicker = {}
    for smoothing in (0.0, 0.8):
        colorize_video(colorizer, source, tmp_path / f"s{smoothing}.mp4", smoothing)
        flicker[smoothing] = ab_flicker(tmp_path / f"s{smoothing}.mp4")
    assert flicker[0.0] > 0.1  # the net turns L noise into colour changes (0.15 Lab units here)
    assert flicker[0.8] < 0.5 * flicker[0.0]  # 0.24x here; (1 - s) / sqrt(1 + s) = 0.15x for white noise
    with pytest.raises(ValueError, match="temporal_smoothing"):
        colorize_video(colorizer, source, tmp_path / "x.mp4", 1.0)


def test_an_unreadable_video_is_reported(tmp_path, checkpoint_path, capsys):
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    with pytest.raises(SystemExit):
        cli_main(["colorize", "--ckpt_path", str(checkpoint_path), "--input", str(tmp_path / "broken.mp4"),
                  "--output", str(tmp_path / "out")])  # fmt: skip
    assert "broken.mp4" in capsys.readouterr().out and not (tmp_path / "out/broken.mp4").exists()


