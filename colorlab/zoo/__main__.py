"""``python -m colorlab.zoo``: maintain the model zoo (``colorlab/zoo``); users list it with ``python -m colorlab models``.

    python -m colorlab.zoo add --ckpt_path RUN/checkpoints/best.ckpt --name lite0-regression \\
        --results_row docs/results_rows.json --row NAME [--data TEXT] [--command TEXT] [--description TEXT] [--default]
    python -m colorlab.zoo remove NAME
    python -m colorlab.zoo verify          # every file's size and sha256 against the manifest
"""

from __future__ import annotations

import argparse
import json
import sys

from colorlab import zoo


def main(args: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m colorlab.zoo", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="action", required=True)
    add = commands.add_parser("add", help="add a checkpoint to the zoo, or replace a model by a better one")
    add.add_argument("--ckpt_path", required=True, help="the trained checkpoint")
    add.add_argument("--name", required=True, help="zoo name, e.g. lite0-regression")
    add.add_argument("--results_row", "--results-row", required=True,
                     help="JSON file: one results row, or a list of rows (report's rows.json) with --row")
    add.add_argument("--row", default=None, help="the row's name when --results_row holds several")
    add.add_argument("--data", default=None, help="training data in words (default: the run's config.yaml data)")
    add.add_argument("--command", default=None, help="training command (default: the run's run.yaml)")
    add.add_argument("--description", default=None, help="what it is, one line for `python -m colorlab models`")
    add.add_argument("--default", action="store_true", help="make it the default model of colorize")
    remove = commands.add_parser("remove", help="remove a model (file and manifest entry)")
    remove.add_argument("name")
    commands.add_parser("verify", help="check every file's size and sha256 against the manifest")
    options = parser.parse_args(args)

    from colorlab.zoo import maintain

    if options.action == "add":
        row = maintain.read_row(options.results_row, options.row)
        found = maintain.add(options.ckpt_path, options.name, row, options.data, options.command,
                             options.description, options.default)  # fmt: skip
        print(f"added {options.name}: {found['size_bytes'] / 1e6:.2f} MB, sha256 {found['sha256']}, float16 round trip "
              f"max {found['fp16_check']['max_abs_diff']:.2e} ab/128\n{json.dumps(found['results'], indent=1)}")
    elif options.action == "remove":
        maintain.remove(options.name)
        print(f"removed {options.name}")
    for name in zoo.names():
        zoo.verified_file(name)
    print(zoo.table())


if __name__ == "__main__":
    try:
        main()
    except (ValueError, FileNotFoundError) as err:
        print(f"colorlab.zoo: error: {err}", file=sys.stderr)
        sys.exit(2)
