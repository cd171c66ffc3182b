"""Moved to ``core.training_run`` (the one training scaffold); these names stay importable from here
for code written against the old module. New code imports ``core.training_run``."""

from core.training_run import (  # noqa: F401 - re-exports
    CHECKPOINT_NAME,
    RunState,
    choose_preset,
    load_checkpoint,
    pick_device,
    read_checkpoint,
    restore_modules,
    resume_payload,
    run_training,
    save_checkpoint,
    seed_everything,
)
from core.training_run import pick_device as resolve_device  # noqa: F401
