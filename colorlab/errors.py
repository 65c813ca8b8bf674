"""colorlab's user-error type: a mistake in what the user asked for (a bad path, a wrong value, a run that
diverged), as opposed to a bug. ``python -m colorlab`` prints these as one line; every other exception keeps
its traceback."""


class ColorlabError(ValueError):
    """A mistake in the user's input or configuration; the message says what was received and what fits.
    A ``ValueError``, so code that catches those keeps working."""


class MissingFileError(ColorlabError, FileNotFoundError):
    """A file or folder the user named does not exist (a ``FileNotFoundError`` too)."""


class NonFiniteLossError(ColorlabError):
    """A training loss that is NaN or infinite (a user error: ``python -m colorlab`` prints one line)."""
