"""``python -m colorlab``: see ``colorlab.cli``. Mistakes in input (a bad path, a wrong value) print one
line instead of a traceback; set COLORLAB_DEBUG=1 to see the traceback."""

import os
import sys

from colorlab.cli import cli_main


def main() -> None:
    sys.argv[0] = "python -m colorlab"  # what usage lines show
    try:
        cli_main()
    except (ValueError, TypeError, FileNotFoundError, NotADirectoryError, KeyError) as err:
        if os.environ.get("COLORLAB_DEBUG"):
            raise
        print(f"colorlab: error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
