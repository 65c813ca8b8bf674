"""``python -m colorlab shards``: convert an image DataModule's splits into LitData shards, to train with
``--data colorlab.data.StreamingDataModule --data.root DIR_OR_URL`` (``colorlab.data.streaming``)."""

from __future__ import annotations

from jsonargparse import ArgumentParser

from colorlab.data.images import ImageDataModule
from colorlab.data.streaming import convert_to_shards


def main(args: list[str]) -> dict[str, int]:
    """``python -m colorlab shards --data CLASS --data.root PATH --output_dir DIR [options]``."""
    parser = ArgumentParser(
        prog="colorlab shards",
        description="Convert an image DataModule's splits into LitData shards (progress bar), to train with "
        "--data colorlab.data.StreamingDataModule --data.root DIR_OR_URL.",
    )
    parser.add_subclass_arguments(ImageDataModule, "data", required=True)
    parser.add_function_arguments(convert_to_shards, skip={"source"})
    init = parser.instantiate_classes(parser.parse_args(args))
    options = {k: v for k, v in vars(init).items() if k not in ("data", "__path__")}
    written = convert_to_shards(init.data, **options)
    print(f"shards written to {options['output_dir']}: " + ", ".join(f"{k} {v} images" for k, v in written.items()))
    return written
