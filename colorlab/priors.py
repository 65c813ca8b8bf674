"""``python -m colorlab priors``: bin frequencies of an experiment's training split, for class rebalancing
(``Classification(priors=...)``); the file format is ``objectives.write_priors`` / ``load_prior``."""

from __future__ import annotations

from pathlib import Path

from colorlab import color
from colorlab.arguments import datamodule_from, experiment_data_parser
from colorlab.data.base import ColorDataModule
from colorlab.evaluate import ab_statistics
from colorlab.machine import pick_device
from colorlab.objectives import write_priors


def priors(
    datamodule: ColorDataModule,
    output: str | None = None,
    sigma: float = color.SOFT_SIGMA,
    max_batches: int | None = None,
    device: str = "auto",
    config: str = "",
) -> Path:
    """Count hard-quantised ab bins over a DataModule's training split, smooth them with a Gaussian over the
    ab plane, and write a priors file for ``Classification(priors=...)``.

    Args:
        datamodule: the data (``--config``'s ``data:`` section and ``--data.*`` overrides).
        output: priors file to write; default ``priors/<config stem>.pt``.
        sigma: width of the smoothing Gaussian, Lab units.
        max_batches: stop after this many training batches (None: the whole split).
        device: auto (CUDA if available), cpu, cuda, cuda:N.
        config: the experiment file, recorded in the priors file.
    """
    path = Path(output or f"priors/{Path(config).stem}.pt")
    datamodule.prepare_data()
    datamodule.setup("fit")
    statistics = ab_statistics(datamodule.train_dataloader(), pick_device(device), max_batches)
    counts, images = statistics["counts"], statistics["images"]
    write_priors(path, counts, images, sigma, str(config))
    print(f"priors of {images} images ({int(counts.sum())} pixels, {int((counts > 0).sum())}/{counts.numel()} "
          f"bins seen) written to {path}\nuse it with: --model.objective.init_args.priors {path}")
    return path


def main(args: list[str]) -> Path:
    """``python -m colorlab priors --config X.yaml [--data.* ...] [options]``."""
    parser = experiment_data_parser("colorlab priors", priors.__doc__.split("\n\n")[0])
    parser.add_function_arguments(priors, skip={"datamodule", "config"})
    cfg, datamodule = datamodule_from(parser, args)
    return priors(datamodule, cfg.output, cfg.sigma, cfg.max_batches, cfg.device, cfg.config)
