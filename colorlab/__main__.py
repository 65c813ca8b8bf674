"""``python -m colorlab``: see ``colorlab.cli``. A user's mistake (``colorlab.errors.ColorlabError``, a
jsonargparse error) prints one line instead of a traceback; set COLORLAB_DEBUG=1 to see the traceback. Any
other exception is a bug and shows its traceback."""

import os
import sys

from colorlab.cli import cli_main
from colorlab.errors import ColorlabError


def _user_error(err: BaseException) -> bool:
    if isinstance(err, ColorlabError):
        return True
    jsonargparse = sys.modules.get("jsonargparse")  # imported by every command that parses; not here (fast --help)
    return jsonargparse is not None and isinstance(err, jsonargparse.ArgumentError)


def main() -> None:
    sys.argv[0] = "python -m colorlab"  # what usage lines show
    try:
        cli_main()
    except Exception as err:
        if os.environ.get("COLORLAB_DEBUG") or not _user_error(err):
            raise
        print(f"colorlab: error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
