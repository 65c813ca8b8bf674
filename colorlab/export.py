"""Export a checkpoint's network for use outside PyTorch: ``python -m colorlab export``.

    python -m colorlab export --ckpt_path RUN.ckpt --format onnx --size 256 256 --output model.onnx
    python -m colorlab export --ckpt_path RUN.ckpt --format torchscript --dynamic true

The exported graph is ``x_l -> ab``: the network, its padding to the size it needs (fixed-size exports), a
classifier's decoding of bin logits to ab, and the bilinear upsampling of ab to the input's size. Turning
a photo into ``x_l`` and ``ab`` back into a photo is left to the caller (a few lines, in any language): the
contract is written next to the file as ``<output>.json`` (see ``contract``) and in the README. Every export
is checked against PyTorch on a test image (onnxruntime runs the ONNX file) before it is kept.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from colorlab import color
from colorlab.data.procedural import ProceduralScenes
from colorlab.errors import ColorlabError
from colorlab.infer import Picture, load_model, read_picture
from colorlab.network import ColorModel
from colorlab.objectives import Classification

TOLERANCE = 1e-3  # max |exported - PyTorch| of ab/128 on the test image: 0.128 Lab units, far below what shows
OPSET = 18


def contract(model: ColorModel, file_format: str, shape: list[Any], multiple: int) -> dict[str, Any]:
    """The pre/post-processing contract written next to an export (``<output>.json``)."""
    objective = model.objective
    trained = list(model.train_resolution) if model.train_resolution else "unknown"
    return {
        "format": file_format,
        "input": {"name": "x_l", "shape": shape, "dtype": "float32",
                  "meaning": "CIE L* (D65, 2 deg) of the image, divided by 100: [0, 1]"},
        "output": {"name": "ab", "shape": [shape[0], 2, *shape[2:]], "dtype": "float32",
                   "meaning": "predicted CIE a*, b* divided by 128, at the input's height and width"},
        "sizes": (f"H and W multiples of {multiple}" if isinstance(shape[2], str) else f"exactly {shape[2]} x {shape[3]}"),
        "preprocess": [
            "decode the image, apply its EXIF orientation; treat pixel values as sRGB in [0, 1]",
            f"resize to the model's input size (bilinear, antialiased; trained at {trained} px)",
            "convert sRGB -> CIE Lab (D65) and keep L; x_l = L / 100",
        ],
        "postprocess": [
            "upsample ab (bilinear, half-pixel centres as PyTorch align_corners=False) to the full image size",
            "Lab = (L of the full-resolution image, 128 * a, 128 * b); convert Lab (D65) -> sRGB, clip to [0, 1]",
        ],
        "objective": objective.kind,
        "decoding": getattr(objective, "decoding", None),
        "temperature": getattr(objective, "temperature", None) if isinstance(objective, Classification) else None,
        "network": f"{type(model.net).__module__}.{type(model.net).__qualname__}",
        "l_scale": color.L_SCALE,
        "ab_scale": color.AB_SCALE,
    }


def _test_input(image: str | None, height: int, width: int) -> torch.Tensor:
    """(1, 1, height, width) x_l of the test image (a file, or colorlab's first procedural scene)."""
    if image is None:
        picture = Picture(ProceduralScenes(1, seed=0, size=(height, width))[0]["rgb"].permute(1, 2, 0).numpy())
    else:
        picture = read_picture(image)
    return color.normalize(color.rgb_to_lab(picture.resized((height, width))))[0].contiguous()


def _run_onnx(path: Path, x_l: torch.Tensor) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["ab"], {"x_l": x_l.numpy()})[0]


def export(
    ckpt_path: str | None = None,
    format: Literal["onnx", "torchscript"] = "onnx",
    output: str | None = None,
    size: list[int] | None = None,
    dynamic: bool = False,
    image: str | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """Export a checkpoint's network (x_l -> ab) as ONNX or TorchScript, write its contract as
    ``<output>.json`` and check it against PyTorch on a test image.

    Args:
        ckpt_path: the checkpoint (or ``model``).
        format: onnx (checked with onnxruntime) or torchscript.
        output: the file to write; default the checkpoint's path (or ``./<model>``) with .onnx / .pt.
        size: [H, W] of a fixed-size export; default the training resolution.
        dynamic: any batch size and any H, W that are multiples of the net's ``multiple`` (then pad the input
            to that multiple yourself, e.g. by reflection, and crop the output).
        image: test image for the parity check; default a built-in procedural scene.
        model: a zoo model's name (``python -m colorlab models``) instead of a checkpoint.

    Returns:
        the contract, with the measured ``max_abs_diff`` under ``verified``.
    """
    if format not in ("onnx", "torchscript"):
        raise ColorlabError(f"--format must be onnx or torchscript, got {format!r}")
    if (ckpt_path is None) == (model is None):
        raise ColorlabError(f"give --ckpt_path or --model (a zoo model), not {'both' if model else 'neither'}")
    source = ckpt_path or model
    model = load_model(ckpt_path, "cpu", model=model)
    # NCHW weights: channels_last strides would make the exporter specialise the batch size (dynamic exports)
    model.net.to(memory_format=torch.contiguous_format)
    if getattr(model.objective, "decoding", None) == "sample":
        raise ColorlabError("decoding 'sample' draws random numbers and cannot be exported; re-save with another")
    multiple = getattr(model.net, "multiple", 1)
    if dynamic and size is not None:
        raise ColorlabError("give --size H W or --dynamic true, not both")
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise ColorlabError(f"--size must be H W (two positive integers), got {size}")
    if size is None and not dynamic and model.train_resolution is None:
        raise ColorlabError(f"{source} records no training resolution: give --size H W")
    height, width = size or model.train_resolution or (4 * multiple, 4 * multiple)
    if dynamic:  # examples at a multiple of the net's multiple, so no padding branch is recorded
        height, width = (-(-max(height, width) // multiple) * multiple,) * 2
    output_path = Path(output or Path(source).with_suffix(".onnx" if format == "onnx" else ".pt"))
    output_path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = model.eval()
    x_l = _test_input(image, height, width)
    if dynamic:  # an example of batch 1 would fix the batch size at 1 (torch.export specialises sizes 0 and 1)
        x_l = torch.cat([x_l, x_l.flip(-1)])
    with torch.no_grad():
        expected = wrapper(x_l).numpy()
        if format == "onnx":
            _export_onnx(wrapper, x_l, output_path, dynamic, multiple)
            got = _run_onnx(output_path, x_l)
            runtime = "onnxruntime"
        else:
            traced = torch.jit.trace(wrapper, x_l, check_trace=False)
            traced.save(str(output_path))
            got = torch.jit.load(str(output_path))(x_l).numpy()
            runtime = f"torch.jit {torch.__version__}"
    shape: list[Any] = ["batch", 1, "height", "width"] if dynamic else [1, 1, height, width]
    info = contract(model, format, shape, multiple)
    diff = float(np.abs(got - expected).max())
    info["verified"] = {"runtime": runtime, "test_image": image or "colorlab.data.ProceduralScenes(seed=0)[0]",
                        "size": [height, width], "max_abs_diff": diff, "tolerance": TOLERANCE}
    if got.shape != expected.shape or not diff <= TOLERANCE:
        output_path.unlink(missing_ok=True)
        raise ColorlabError(f"export of {source} differs from PyTorch by {diff:.2e} > {TOLERANCE} (ab/128); not kept")
    Path(f"{output_path}.json").write_text(json.dumps(info, indent=2))
    info["output"] = str(output_path)
    return info


def _export_onnx(wrapper: nn.Module, x_l: torch.Tensor, path: Path, dynamic: bool, multiple: int) -> None:
    dynamic_shapes = None
    if dynamic:
        dim = torch.export.Dim
        dynamic_shapes = {"x_l": {0: dim("batch", max=1024), 2: multiple * dim("h", max=1024),
                                  3: multiple * dim("w", max=1024)}}
    program = torch.onnx.export(wrapper, (x_l,), input_names=["x_l"], output_names=["ab"], opset_version=OPSET,
                                dynamic_shapes=dynamic_shapes, dynamo=True)
    program.save(os.fspath(path))


def main(args: list[str]) -> dict[str, Any]:
    """``python -m colorlab export --ckpt_path X.ckpt --output FILE [options]``."""
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(
        prog="colorlab export",
        description="Export a checkpoint's network (x_l -> ab) as ONNX or TorchScript, with its pre/post-processing "
        "contract in <output>.json, checked against PyTorch on a test image.",
    )
    parser.add_function_arguments(export, skip={"size"})
    parser.add_argument("--size", type=int, nargs=2, default=None, help="H W of a fixed-size export "
                        "(default: the training resolution)")
    options = {k: v for k, v in vars(parser.parse_args(args)).items() if k != "__path__"}
    info = export(**options)
    check = info["verified"]
    print(f"{info['output']} ({info['format']}, input {info['input']['shape']}; {info['sizes']}): matches PyTorch "
          f"within {check['max_abs_diff']:.1e} ab/128 (tolerance {check['tolerance']}) in {check['runtime']}; "
          f"contract in {info['output']}.json")
    return info
