"""Streaming for data that outgrows one disk (Places365-Challenge: 8M images): LitData shards.

Convert any image DataModule once (progress bar; local output, then copy it to an object store)::

    python -m colorlab shards --data colorlab.data.PlacesDataModule \\
        --data.root /data/places365 --data.train_list challenge --output_dir /data/places-shards

then train from the shards, local or remote, with the same batch contract::

    --data colorlab.data.StreamingDataModule --data.root s3://bucket/places-shards

Each split becomes ``<output_dir>/<split>/`` (``index.json`` + ``chunk-*.bin``). An item is the encoded
image, shorter side reduced to ``max_side``, not yet cropped: JPEG at quality 95 with full-resolution
chroma (4:4:4, the colour is the training target) for RGB sources, lossless PNG for 8-bit Lab ones
(``"kind"`` says which key it becomes). Cropping and flipping happen when streaming, seeded by
``(seed, epoch, index)``; the near-grayscale filter (``min_chroma``) is applied while converting.
LitData shards the stream across DDP ranks and loader workers.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from litdata import StreamingDataLoader, StreamingDataset
from litdata.streaming.sampler import ChunkedIndex
from litdata.streaming.writer import BinaryWriter
from PIL import Image
from tqdm.auto import tqdm

from colorlab.data.datasets import ImageDataset
from colorlab.data.decoding import open_rgb
from colorlab.data.images import ImageDataModule
from colorlab.data.layout import LayoutError
from colorlab.data.transforms import Transform, item_rng
from colorlab.errors import ColorlabError

BLOCK = 1024  # items encoded per thread-pool round: bounds memory whatever the dataset size


def _encode(dataset: ImageDataset, index: int, max_side: int | None, quality: int) -> bytes | None:
    array = dataset.load(index, max_side, upscale=False)
    if array is None:
        return None  # unreadable or near-grayscale: already recorded by the dataset
    buffer = io.BytesIO()
    if dataset.key == "rgb":
        Image.fromarray(array).save(buffer, format="JPEG", quality=quality, subsampling=0)
    else:  # 8-bit Lab: JPEG's YCbCr transform and chroma loss would corrupt it
        Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _write(dataset: ImageDataset, out: Path, name: str, order: np.ndarray, options: dict) -> int:
    if (out / "index.json").exists():
        raise FileExistsError(f"{out} already holds shards; remove it or choose another output_dir")
    writer = BinaryWriter(str(out), chunk_bytes=options["chunk_bytes"])
    encode = functools.partial(_encode, dataset, max_side=options["max_side"], quality=options["quality"])
    written = 0
    with (
        ThreadPoolExecutor(options["num_threads"]) as pool,
        tqdm(total=len(order), desc=name, unit="img") as bar,
    ):
        for start in range(0, len(order), BLOCK):
            for data in pool.map(encode, order[start : start + BLOCK].tolist()):
                bar.update()
                if data is not None:
                    writer[written] = {"image": data, "kind": dataset.key}
                    written += 1
    if written == 0:
        raise ColorlabError(f"{name}: every image was skipped ({dataset.skipped_counts()}); nothing to write")
    writer.done()
    writer.merge()
    return written


def convert_to_shards(
    source: ImageDataModule | ImageDataset,
    output_dir: str,
    splits: Sequence[str] = ("train", "val"),
    max_side: int | None = 256,
    quality: int = 95,
    chunk_bytes: str = "64MB",
    num_threads: int = 4,
    shuffle: bool = True,
    seed: int = 0,
) -> dict[str, int]:
    """Write a DataModule's splits (or one dataset) as LitData shards of encoded uint8 images.

    Args:
        source: an image DataModule (``prepare_data`` and ``setup`` are called; its ``min_chroma`` filters
            the train split, its ``strict`` applies) or one ``ImageDataset``.
        output_dir: local folder; a DataModule's split ``s`` goes to ``output_dir/s``, a dataset to
            ``output_dir`` itself. Must not already hold shards.
        splits: which of the DataModule's splits to write ("train", "val", "test", "predict").
        max_side: reduce the shorter side to this many px (never enlarging); None keeps stored sizes.
            Keep it >= the ``resize`` you will train at.
        quality: JPEG quality of RGB sources.
        chunk_bytes: target chunk size, e.g. "64MB".
        num_threads: decode/encode threads (PIL releases the GIL while it works).
        shuffle: write the items in a random order. LitData shuffles chunks, and items within a chunk,
            never across chunks: a class-sorted source would stream single-class batches.
        seed: seed of that order.

    Returns:
        Images written per split (skipped files are warned about by the dataset and not written).
    """
    options = {
        "max_side": max_side,
        "quality": quality,
        "chunk_bytes": chunk_bytes,
        "num_threads": num_threads,
    }

    def order(n: int) -> np.ndarray:
        return np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)

    if isinstance(source, ImageDataset):
        return {"dataset": _write(source, Path(output_dir), "dataset", order(len(source)), options)}
    source.prepare_data()
    source.setup("fit")
    written = {}
    for split in splits:
        dataset = getattr(source, f"{split}_set", None)
        if not isinstance(dataset, ImageDataset):
            raise ColorlabError(f"{type(source).__name__} has no {split!r} split to convert")
        written[split] = _write(dataset, Path(output_dir) / split, split, order(len(dataset)), options)
    return written


class ShardDataset(StreamingDataset):
    """LitData shards written by ``convert_to_shards`` -> the batch contract's items.

    Args:
        input_dir: local folder or object-store URL of one split.
        image_transform: resize / crop / flip applied to each decoded image.
        **kwargs: ``litdata.StreamingDataset`` options (shuffle, seed, cache_dir, max_cache_size, ...).
    """

    def __init__(self, input_dir: str, image_transform: Transform, **kwargs) -> None:
        super().__init__(input_dir, **kwargs)
        self.image_transform = image_transform  # not ``transform``: StreamingDataset applies that itself

    def __getitem__(self, index: ChunkedIndex | int) -> dict:
        item = super().__getitem__(index)
        i = index.index if isinstance(index, ChunkedIndex) else int(index)
        image = open_rgb(io.BytesIO(item["image"]), self.image_transform.shorter_side)
        rng = item_rng(self.seed, self.current_epoch, i)
        return {item["kind"]: self.image_transform(image, rng), "index": i}


class StreamingDataModule(ImageDataModule):
    """Streams the shards ``convert_to_shards`` wrote, from a local folder or an object store.

    LitData shuffles the training stream (seeded) and shards it across ranks and workers; predict streams
    the validation split (its items carry no path: shards hold no file names).

    Args:
        root: the folder or URL (``s3://``, ``gs://``, ...) holding ``train/`` and ``val/`` (``test/`` used
            when present locally).
        cache_dir: where remote chunks are cached; None = LitData's default.
        max_cache_size: cache budget for remote chunks, e.g. "50GB".
        image_size: side of the square images, px.
        **kwargs: ``ImageDataModule`` options: resize, crop, hflip, batch_size, num_workers, seed.
    """

    def __init__(
        self,
        root: str,
        cache_dir: str | None = None,
        max_cache_size: str = "50GB",
        image_size: int = 64,
        **kwargs,
    ) -> None:
        super().__init__(root, image_size=image_size, **kwargs)
        self.cache_dir = cache_dir
        self.max_cache_size = max_cache_size

    def _split_dir(self, split: str) -> str:
        return f"{self.root.rstrip('/')}/{split}"

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        remote = "://" in self.root
        if not remote:
            missing = [
                s
                for s in ("train", "val")
                if not os.path.isfile(os.path.join(self._split_dir(s), "index.json"))
            ]
            if missing:
                raise LayoutError(
                    f"Streaming: {self.root} lacks {', '.join(f'{s}/index.json' for s in missing)}; expected the "
                    f"output of convert_to_shards: <root>/train/ and <root>/val/ with index.json and chunk-*.bin"
                )
        common = {"seed": self.seed, "cache_dir": self.cache_dir, "max_cache_size": self.max_cache_size}
        self.train_set = ShardDataset(self._split_dir("train"), self.train_transform, shuffle=True, **common)
        self.val_set = ShardDataset(self._split_dir("val"), self.eval_transform, **common)
        if not remote and os.path.isfile(os.path.join(self._split_dir("test"), "index.json")):
            self.test_set = ShardDataset(self._split_dir("test"), self.eval_transform, **common)
        # Under DDP LitData drops each split's last partial batch; evaluation needs every image once (the
        # last rank takes the remainder: evaluation has no per-step collective to keep ranks in step).
        # Set after construction: passing drop_last=False to the constructor logs a training-only warning.
        for split in (self.val_set, self.test_set):
            if split is not None:
                split.set_drop_last(False)

    def _stream(self, dataset: ShardDataset | None, stage: str) -> StreamingDataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__} has no {stage} split (call setup() first?)")
        return StreamingDataLoader(
            dataset,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            # not persistent: LitData's workers then ignore the shutdown signal, costing 5 s each at exit
            persistent_workers=False,
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> StreamingDataLoader:
        return self._stream(self.train_set, "train")

    def val_dataloader(self) -> StreamingDataLoader:
        return self._stream(self.val_set, "val")

    def test_dataloader(self) -> StreamingDataLoader:
        return self._stream(self.test_set or self.val_set, "test")

    def predict_dataloader(self) -> StreamingDataLoader:
        return self._stream(self.val_set, "predict")
