"""The error type the CLI prints as one line (no traceback) before exiting with status 2."""


class UserError(Exception):
    """Bad input or missing files the user can fix; the message says what and how."""


class MissingWeightsError(UserError, FileNotFoundError):
    """Pretrained weights were asked for but the local file is absent; the message says which
    file, where it was looked for and how to obtain it."""
