"""A local web page to colorize photos: ``python -m colorlab app`` (``make app``).

    python -m colorlab app                                     # the zoo's models, http://127.0.0.1:7860
    python -m colorlab app --ckpt_path RUN.ckpt --port 8080    # a checkpoint of yours beside them
    python -m colorlab app --host 0.0.0.0                      # reachable from other machines (no login!)

Upload one or several photos, pick a model (the zoo's, and the checkpoint given), for classifiers the decoding and
temperature, and press Colorize: each photo comes back as grayscale | result at its full resolution, by the path
``colorize`` takes (``colorlab.infer``: the net sees a small copy, the result keeps the photo's own L), with the
results to download in the photo's format. A file that is not an image, or is too large, gets a message on the
page and the other photos are still colorized.

The page is gradio's (``pip install 'colorlab[app]'``), served from the installed package with nothing fetched from
the internet (analytics off, no share link, its fonts bundled); it listens on 127.0.0.1 unless ``--host`` says
otherwise. ``colorize_file`` is the page's work without the page.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorlab.errors import ColorlabError

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no usage reports, no version check

MAX_MEGAPIXELS = 50.0  # an 8000 x 6000 photo; about 1.5 GB of float32 strips and buffers at most
MAX_FILE_MB = 100
GREY_SUFFIX, RESULT_SUFFIX = "_grayscale", "_colorized"
OWN_DECODING = "the model's own"


@dataclass
class Outcome:
    """What became of one uploaded file: ``result`` and ``grey`` are written files, or ``error`` says why not."""

    name: str
    result: Path | None = None
    grey: Path | None = None
    error: str | None = None
    seconds: float = 0.0
    size: tuple[int, int] | None = None  # (width, height)

    def line(self) -> str:
        if self.error is not None:
            return f"- **{self.name}**: {self.error}"
        return f"- **{self.name}**: {self.size[0]} x {self.size[1]} px, colorized in {self.seconds:.1f} s"


def colorize_file(
    path: str | os.PathLike,
    colorizer: Any,
    folder: Path,
    max_megapixels: float = MAX_MEGAPIXELS,
    max_file_mb: float = MAX_FILE_MB,
    name: str | None = None,
) -> Outcome:
    """Colorize one uploaded file into ``folder``: ``<stem>_colorized.<ext>`` and ``<stem>_grayscale.<ext>`` (the
    input's format where colorlab writes it, else PNG), both at the input's full resolution.

    Args:
        path: the uploaded file.
        colorizer: a ``colorlab.infer.Colorizer``.
        folder: where the two files go.
        max_megapixels, max_file_mb: larger files are refused (``Outcome.error``), before they are decoded.
        name: the file's name as the user knows it (default ``path``'s).
    """
    from PIL import Image

    from colorlab import infer

    path, start = Path(path), time.perf_counter()
    outcome = Outcome(name or path.name)
    megabytes = path.stat().st_size / 1e6
    if megabytes > max_file_mb:
        outcome.error = f"{megabytes:.1f} MB, above this page's limit of {max_file_mb:g} MB"
        return outcome
    try:
        with Image.open(path) as header:  # the size, without decoding the pixels
            width, height = header.size
        if width * height > max_megapixels * 1e6:
            outcome.error = (f"{width} x {height} px = {width * height / 1e6:.1f} megapixels, above this page's limit "
                             f"of {max_megapixels:g}")  # fmt: skip
            return outcome
        picture = infer.read_picture(path)
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        reason = str(err).replace(f"'{path}'", "").replace(str(path), outcome.name).strip()  # no server paths
        outcome.error = f"not an image colorlab can read ({type(err).__name__}{': ' + reason if reason else ''})"
        return outcome
    extension = path.suffix.lower() if path.suffix.lower().lstrip(".") in infer.FORMATS else ".png"
    stem = Path(outcome.name).stem
    outcome.result, outcome.grey = folder / f"{stem}{RESULT_SUFFIX}{extension}", folder / f"{stem}{GREY_SUFFIX}{extension}"
    ab = colorizer.predict_ab(picture.resized(colorizer.working_size(picture.height, picture.width)))
    rgb, grey = infer.render(picture, ab, grey=True)
    infer.write_picture(rgb, picture, outcome.result)
    infer.write_picture(grey, picture, outcome.grey)
    outcome.seconds, outcome.size = time.perf_counter() - start, (picture.width, picture.height)
    return outcome


class Models:
    """The models on offer, loaded on first use and kept: the zoo's, by name, and a checkpoint, by path."""

    def __init__(self, ckpt_path: str | None = None, device: str = "auto") -> None:
        from colorlab import zoo

        self.choices = ([ckpt_path] if ckpt_path else []) + zoo.names()
        if not self.choices:
            raise ColorlabError("app: the model zoo is empty; give a checkpoint with --ckpt_path")
        self.ckpt_path, self.device = ckpt_path, device
        self.loaded: dict[str, tuple[Any, tuple[str, float] | None]] = {}

    def colorizer(self, choice: str, decoding: str, temperature: float) -> Any:
        """A ``Colorizer`` of model ``choice``, a classifier decoding as asked (``OWN_DECODING``: as saved)."""
        from colorlab import infer
        from colorlab.objectives import Classification

        if choice not in self.choices:
            raise ColorlabError(f"unknown model {choice!r}; choose from {', '.join(self.choices)}")
        if choice not in self.loaded:
            model = infer.load_model(choice if choice == self.ckpt_path else None, self.device,
                                     model=None if choice == self.ckpt_path else choice)  # fmt: skip
            objective = model.objective
            saved = (objective.decoding, objective.temperature) if isinstance(objective, Classification) else None
            self.loaded[choice] = (infer.Colorizer(model), saved)
        colorizer, saved = self.loaded[choice]
        if saved is not None:
            own = decoding == OWN_DECODING
            colorizer.model.objective.set_decoding(saved[0] if own else decoding, saved[1] if own else temperature)
        return colorizer


def build(models: Models, default: str, max_megapixels: float = MAX_MEGAPIXELS, max_file_mb: float = MAX_FILE_MB):
    """The page (a ``gradio.Blocks``); ``default`` is the model chosen when it opens."""
    import gradio as gr

    scratch = Path(tempfile.mkdtemp(prefix="colorlab-app-"))

    def run(files: list[str] | None, choice: str, decoding: str, temperature: float):
        if not files:
            return "Upload one or more photos first.", [], None
        try:
            colorizer = models.colorizer(choice, decoding, temperature)
        except (ValueError, OSError) as err:
            return f"**{choice}** cannot be used: {err}", [], None
        folder = Path(tempfile.mkdtemp(dir=scratch))
        outcomes = [colorize_file(f, colorizer, folder, max_megapixels, max_file_mb) for f in files]
        done = [o for o in outcomes if o.error is None]
        gallery = [(str(p), f"{o.name}: {what}") for o in done for p, what in ((o.grey, "grayscale"), (o.result, choice))]
        head = f"{len(done)} of {len(outcomes)} colorized with **{choice}**."
        return "\n".join([head, *(o.line() for o in outcomes)]), gallery, [str(o.result) for o in done] or None

    with gr.Blocks(title="colorlab") as page:
        gr.Markdown("## colorlab: colorize your photos\nGrayscale in, colour out, at full resolution. "
                    "Colour photos work too: their colour is ignored and predicted again.")  # fmt: skip
        with gr.Row():
            with gr.Column(scale=2):
                upload = gr.File(label="Photos", file_count="multiple", elem_id="upload")
            with gr.Column(scale=1):
                choice = gr.Dropdown(models.choices, value=default, label="Model", elem_id="model")
                decoding = gr.Dropdown([OWN_DECODING, "annealed_mean", "mean", "mode", "sample"], value=OWN_DECODING,
                                       label="Decoding (classifiers only)", elem_id="decoding")  # fmt: skip
                temperature = gr.Slider(0.05, 1.0, value=0.38, step=0.01, elem_id="temperature",
                                        label="Temperature (classifiers, annealed mean)")  # fmt: skip
                button = gr.Button("Colorize", variant="primary", elem_id="run")
        status = gr.Markdown(elem_id="status")
        gallery = gr.Gallery(label="grayscale | result", columns=2, object_fit="contain", height="auto",
                             elem_id="results")  # fmt: skip
        downloads = gr.File(label="Download the results", file_count="multiple", elem_id="downloads")
        button.click(run, [upload, choice, decoding, temperature], [status, gallery, downloads], api_name="colorize")
    return page


def wait_until_serving(url: str, server: subprocess.Popen, seconds: float) -> None:
    """Return once ``url`` answers; RuntimeError if ``server`` (the app's process) exits or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the app at {url} did not start") from None
            time.sleep(0.5)


def app_main(args: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m colorlab app", description=__doc__.split("\n\n")[0] + " Upload "
                                     "photos, pick a model, download the results.")  # fmt: skip
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", default=None, help="zoo model chosen when the page opens (default: the zoo's)")
    source.add_argument("--ckpt_path", default=None, help="a checkpoint to offer beside the zoo's models, chosen first")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    parser.add_argument("--max_megapixels", type=float, default=MAX_MEGAPIXELS, help="larger photos are refused")
    parser.add_argument("--max_file_mb", type=float, default=MAX_FILE_MB, help="larger uploads are refused")
    options = parser.parse_args(args)
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise ColorlabError("app needs gradio: pip install 'colorlab[app]'") from None
    from colorlab import zoo

    models = Models(options.ckpt_path, options.device)
    if options.model is not None:
        zoo.entry(options.model)
    default = options.ckpt_path or options.model or zoo.default_name()
    page = build(models, default, options.max_megapixels, options.max_file_mb)
    page.queue().launch(server_name=options.host, server_port=options.port, share=False, ssr_mode=False,
                        max_file_size=f"{options.max_file_mb:g}mb", show_error=True)  # fmt: skip
