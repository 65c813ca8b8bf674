"""``python -m colorlab colorize``: photos, folders, globs and videos at full resolution with a checkpoint.

    python -m colorlab colorize --ckpt_path RUN.ckpt --input photos/ --output colorized/ --compare true

Which input takes which path is decided here: images go through ``colorlab.infer`` (batched, full-resolution
recombination), videos through ``colorlab.video`` (frame batches, the same recombination, audio copied).
"""

from __future__ import annotations

import time
from pathlib import Path

from colorlab import color
from colorlab.errors import ColorlabError
from colorlab.infer import (
    FORMATS,
    Colorizer,
    Precision,
    Summary,
    colorize_images,
    find_inputs,
    load_model,
    output_path,
)
from colorlab.video import VIDEO_EXTENSIONS, colorize_video


def colorize(
    input: str,
    ckpt_path: str | None = None,
    model: str | None = None,
    output: str = "colorized",
    size: list[int] | None = None,
    compare: bool = False,
    decoding: color.Decoding | None = None,
    temperature: float | None = None,
    device: str = "auto",
    batch_size: int = 8,
    precision: Precision = "auto",
    format: str | None = None,
    overwrite: bool = False,
    temporal_smoothing: float = 0.0,
) -> Summary:
    """Colorize photos and videos with a zoo model or a trained checkpoint, at their full resolution.

    Args:
        input: an image, a video (.mp4 .mov .mkv .avi .webm), a folder (searched recursively for images)
            or a glob (quote it: "photos/*.jpg").
        ckpt_path: a checkpoint (``.ckpt``); nothing else is needed.
        model: a zoo model's name (``python -m colorlab models``); with neither, the zoo's default model.
        output: folder to write to; a folder input's sub-folders are mirrored.
        size: the model's input size: [S] = shorter side S px (aspect kept), [H, W] = exactly; default
            the checkpoint's training resolution's shorter side. The output is always at the input's size.
        compare: also write <name>_compare.<ext>: grayscale | result | original side by side.
        decoding: classifiers: mode, mean, annealed_mean or sample (default: the checkpoint's).
        temperature: classifiers: annealed-mean temperature (default: the checkpoint's, 0.38 in Zhang et al.).
        device: auto (CUDA if available), cpu, cuda, cuda:N.
        batch_size: images or video frames per forward pass.
        precision: auto (float16 on CUDA, float32 on CPU), 32, 16 or bf16; colour maths stays float32.
        format: output image format (png, jpg, webp, tif, bmp); default the input's.
        overwrite: replace existing outputs (default: skip them).
        temporal_smoothing: videos: weight of the previous frames' ab in an exponential moving average,
            in [0, 1); 0 = frame by frame. Against flicker on steady shots; smears colour across cuts.
    """
    if format is not None and format.lower() not in FORMATS:
        raise ColorlabError(f"--format must be one of {', '.join(FORMATS)}; got {format!r}")
    out_dir = Path(output)
    sources, base = find_inputs(input, exclude=out_dir)
    colorizer = Colorizer(load_model(ckpt_path, device, decoding, temperature, model), size, precision, batch_size)
    start = time.perf_counter()
    summary = Summary()
    images, image_outputs = [], []
    for source in sources:
        video = source.suffix.lower() in VIDEO_EXTENSIONS
        destination = output_path(source, base, out_dir, None if video else format)
        if destination.exists() and not overwrite:
            summary.existing.append(destination)
        elif video:
            try:
                colorize_video(colorizer, source, destination, temporal_smoothing)
                summary.written.append(destination)
            except (OSError, ValueError) as err:
                summary.failed[str(source)] = f"{type(err).__name__}: {err}"
        else:
            images.append(source)
            image_outputs.append(destination)
    done = colorize_images(colorizer, images, image_outputs, compare)
    summary.written += done.written
    summary.failed.update(done.failed)
    summary.seconds = time.perf_counter() - start
    return summary


def main(args: list[str]) -> Summary:
    """``python -m colorlab colorize --ckpt_path X.ckpt --input PATH [options]``; exit status 1 if any input failed."""
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(
        prog="colorlab colorize",
        description="Colorize photos (a file, a folder searched recursively, or a glob) and videos at full "
        "resolution with a trained checkpoint. Exit status 1 if any input failed (the others are written).",
    )
    parser.add_function_arguments(colorize, skip={"size"})
    parser.add_argument("--size", type=int, nargs="+", default=None,
                        help="model input size: S (shorter side, aspect kept) or H W; default the training resolution")
    options = {k: v for k, v in vars(parser.parse_args(args)).items() if k != "__path__"}
    summary = colorize(**options)
    print(f"{options['output']}: {summary}")
    if summary.failed:
        raise SystemExit(1)
    return summary
