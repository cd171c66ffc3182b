"""Running the grid of ``bench run`` (and one ``bench train``) as jobs: Slurm through submitit, or
local processes through submitit's local executor.

- ``options``: the ``--launcher`` flags and their per-method resource defaults;
- ``cells``: where each planned cell stands (done / running / queued / failed / cut short), read from
  the records, the cell locks, the run folders and the job registry under ``<out>/jobs``;
- ``submit``: the job array, the preemption-safe cell job (``submitit.helpers.Checkpointable``) and
  the wait-and-report loop; ``estimate``: GPU-hours of a cell for ``--dry-run``;
- ``status``: ``bench status``; ``train``: ``bench train --launcher``.
"""
