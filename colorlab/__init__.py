"""colorlab: a PyTorch Lightning framework for image colorization (grayscale in, colour out).
``python -m colorlab --help`` lists the commands; ``colorlab.module.LitColorizer`` is the model."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("colorlab")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
