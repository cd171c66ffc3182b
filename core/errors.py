"""The error types the CLI prints as one line (no traceback): ``UserError`` (exit status 2) and
``TrainingInterrupted`` (a signal stopped training after its checkpoint was saved; 128 + signum)."""

import signal
from pathlib import Path


class UserError(Exception):
    """Bad input or missing files the user can fix; the message says what and how."""


class MissingWeightsError(UserError, FileNotFoundError):
    """Pretrained weights were asked for but the local file is absent; the message says which
    file, where it was looked for and how to obtain it."""


class TrainingInterrupted(Exception):  # noqa: N818 - what happened, not a mistake of the user
    """A signal stopped training after the checkpoint ``checkpoint`` was written (at ``iteration``);
    see ``core.training_run`` for the deferred-signal contract."""

    def __init__(self, signum: int, checkpoint: Path | None, iteration: int, what: str = "training") -> None:
        self.signum, self.checkpoint, self.iteration = int(signum), checkpoint, int(iteration)
        name = signal.Signals(self.signum).name
        kept = (f"{self.checkpoint} holds iteration {self.iteration}; rerun to continue from it "
                "(`bench train`: with --resume)"
                if self.checkpoint is not None else "nothing was saved")
        super().__init__(f"{what} stopped by {name}; {kept}")


def exit_status(err: TrainingInterrupted) -> int:
    """The shell's convention for a death by signal: 128 + signum."""
    return 128 + err.signum
