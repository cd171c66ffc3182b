"""The OneGAN training loop (§4): per iteration, the active paths of the phase schedule, one
discriminator step per path, then one step of every generator/encoder/embedding on the summed
losses (L_GEN for the generation path, L_AE for each reconstruction path; ``onegan.objective``).

Everything random in iteration t (codes, z, β's, ε, flips, batches) derives from (seed, t, global
sample index) (``onegan.draws``, ``onegan.data``), so a run resumed from a checkpoint continues exactly
as if never interrupted, and W processes at global batch B (``torchrun``) train the model one process
trains at B, up to float summation order. ``TrainConfig.precision="bf16"`` runs the forward passes
under bfloat16 autocast on CPU and CUDA alike.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from core.atomic import atomic_path, write_json_atomic
from core.errors import UserError
from core.provenance import compute_environment
from core.tensorboard_log import RunBoard
from core.training_run import DEFAULT_CHECKPOINT_MINUTES, CheckpointPolicy, Deadline, LossLog, run_loop
from data_prep.prepared import Prepared, parent_of
from onegan import objective
from onegan.checkpoint import CHECKPOINT_NAME, load_checkpoint, restore_rng_states, save_checkpoint
from onegan.config import OneGANConfig
from onegan.distributed import (
    OverlappedGradientAverager,
    ProcessGroup,
    agree_max,
    average_gradients,
    barrier,
    broadcast_parameters,
    local_batch_size,
)
from onegan.draws import GlobalBatchDraws, iteration_seed
from onegan.mixup import inference_mixup_weights
from onegan.model import OneGANModel, Reconstructed, to_model_range, to_unit_range
from onegan.networks.discriminators import DiscriminatorPair
from onegan.networks.layer_norm import use_fused_layer_norm
from onegan.nuisance_augmentation import DRAWS_PER_SAMPLE
from onegan.schedule import FAKE_RECONSTRUCTION, GENERATION, PATHS, REAL_RECONSTRUCTION, PhaseSchedule
from onegan.step_capture import (
    CapturedStep,
    StepInputs,
    check_capturable,
    set_capturable,
)

LOSS_LOG = "losses.jsonl"
SAMPLES_DIR = "samples"
_SAMPLE_COUNT = 8


class TrainingDiverged(UserError, FloatingPointError):
    """A loss became NaN or infinite; the run stopped and kept its last good checkpoint."""


class ConfigMismatchError(UserError):
    """--resume found a checkpoint trained with different options."""


def _set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


# Fields that say how often to log, sample and save, not what is trained: a run resumes with others.
_BOOKKEEPING = ("log_every", "sample_every", "checkpoint_every")


def _keep_phase_boundaries(requested: OneGANConfig, stored: OneGANConfig) -> OneGANConfig:
    """``requested`` with ``stored``'s phase boundaries: what a resumed run trains with."""
    return dataclasses.replace(requested, schedule=dataclasses.replace(
        requested.schedule, fake_recon_start=stored.schedule.fake_recon_start,
        real_recon_start=stored.schedule.real_recon_start))


def _run_defining(config: OneGANConfig, reference: OneGANConfig) -> OneGANConfig:
    """``config`` with the bookkeeping cadences and the iteration count of ``reference``: two runs whose
    results are equal up to where they stop compare equal."""
    train = dataclasses.replace(config.train, **{k: getattr(reference.train, k) for k in _BOOKKEEPING})
    schedule = dataclasses.replace(config.schedule, iterations=reference.schedule.iterations)
    return dataclasses.replace(config, train=train, schedule=schedule)


class Trainer:
    """Owns the networks, optimisers and bookkeeping of one run directory."""

    def __init__(self, config: OneGANConfig, prepared: Prepared, out: Path, seed: int = 0,
                 device: torch.device | str = "cpu", group: ProcessGroup | None = None,
                 max_minutes: float | None = None, progress: bool = True, fast: bool = True,
                 checkpoint_minutes: float | None = DEFAULT_CHECKPOINT_MINUTES) -> None:
        """``fast``: channels_last convolutions and fused Adam, the model ``fast=False`` (the plain
        reference path: NCHW, Adam's per-tensor loop) trains, up to float rounding. A checkpoint is
        written every ``config.train.checkpoint_every`` iterations and every ``checkpoint_minutes``
        minutes (None: by iterations only), at the end, at ``max_minutes`` and on a signal."""
        from onegan.data import TrainingStreams  # local: keeps `import onegan.trainer` light

        self.config, self.prepared, self.out, self.seed = config, prepared, Path(out), seed
        self.device = torch.device(device)
        self.group = group or ProcessGroup()
        self.max_minutes, self.progress = max_minutes, progress
        self.checkpoint_minutes = checkpoint_minutes
        self.schedule = PhaseSchedule(config.schedule)
        self.local_batch = local_batch_size(config.train.batch_size, self.group)
        torch.manual_seed(seed)
        self.model = OneGANModel(config.model).to(self.device)
        self.discriminators = nn.ModuleDict({path: DiscriminatorPair(config.model) for path in PATHS}).to(self.device)
        performance = config.performance
        if performance.fused_layer_norm:  # the same parameters, computed without layout copies
            use_fused_layer_norm(self.model)
            use_fused_layer_norm(self.discriminators)
        # channels_last: oneDNN's convolutions run without layout reorders (about +10% on CPU).
        self.memory_format = torch.channels_last if fast and performance.channels_last else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)
        self.discriminators.to(memory_format=self.memory_format)
        train = config.train
        if performance.cuda_graphs:
            check_capturable(self.device, self.group)
        adam = {"lr": train.lr, "betas": train.betas, **({"fused": True} if fast else {}),
                # A captured optimiser step keeps its step count on the device.
                **({"capturable": True} if performance.cuda_graphs else {})}
        self.model_optimizer = torch.optim.Adam(self.model.parameters(), **adam)
        self.discriminator_optimizers = {path: torch.optim.Adam(self.discriminators[path].parameters(), **adam)
                                         for path in PATHS}
        broadcast_parameters([self.model, self.discriminators], self.group)
        self.streams = TrainingStreams(prepared, seed, self.group.rank, self.group.world_size)
        self.iteration = 0
        self.autocast_dtype = torch.bfloat16 if train.precision == "bf16" else None
        self._averagers: dict[tuple[str, ...], OverlappedGradientAverager] = {}
        self.captured_step = CapturedStep(self) if performance.cuda_graphs else None

    # ---- state ---------------------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.out / CHECKPOINT_NAME

    def state_dict(self) -> dict:
        return {
            "method": "onegan",
            "config": self.config.to_dict(),
            "iteration": self.iteration,
            "seed": self.seed,
            "world_size": self.group.world_size,
            "model": self.model.state_dict(),
            "discriminators": self.discriminators.state_dict(),
            "model_optimizer": self.model_optimizer.state_dict(),
            "discriminator_optimizers": {p: o.state_dict() for p, o in self.discriminator_optimizers.items()},
            "data": {"fingerprint": self.prepared.fingerprint, "num_classes": self.prepared.num_classes,
                     "num_parents": self.prepared.num_parents, "size": self.prepared.size,
                     "dataset": self.prepared.name, "root": str(self.prepared.root)},
            "compute": compute_environment(),  # the thread count changes the float rounding of training
        }

    def save(self) -> Path:
        if self.group.is_main:
            save_checkpoint(self.checkpoint_path, self.state_dict())
        barrier(self.group)
        return self.checkpoint_path

    def resume(self, extend: bool = True) -> bool:
        """Load ``out/checkpoint.pt`` if present; True when resumed.

        The checkpoint must hold the same run: configuration (bookkeeping cadences aside), data and
        seed. Its iteration count may differ: a resumed run keeps the phase boundaries it was trained
        with and ``config.schedule.iterations`` only says where it stops, so raising it extends a
        (finished) run exactly as a run trained to that length with those boundaries would have gone.
        A fresh run of the new length scales its boundaries with its length (``with_iterations``), so
        the extended run equals a fresh run of that length only where the boundaries do not matter or
        coincide (the "no-multi-phase" and "phase1-only" ablations, or a resume at the same length);
        otherwise this prints one line saying where they stay. (``extend`` is kept for callers;
        extension is always allowed.)"""
        if not self.checkpoint_path.is_file():
            return False
        state = load_checkpoint(self.checkpoint_path, map_location=self.device)
        stored = OneGANConfig.from_dict(state["config"])
        # The performance switches change float rounding only, like the thread count: any resume.
        stored = dataclasses.replace(stored, performance=self.config.performance)
        done = int(state["iteration"])
        adopted = _keep_phase_boundaries(self.config, stored)
        if _run_defining(stored, adopted) != _run_defining(adopted, adopted):
            raise ConfigMismatchError(
                f"{self.checkpoint_path} was trained with a different configuration (preset "
                f"{stored.preset_name}, ablation {stored.ablation}); "
                "resume with the same options, --restart to start over, or choose another --out")
        if done > adopted.schedule.iterations:
            raise ConfigMismatchError(f"{self.checkpoint_path} is at iteration {done}, past --iterations "
                                      f"{adopted.schedule.iterations}; give at least {done} or use another --out")
        if state["data"]["fingerprint"] != self.prepared.fingerprint:
            raise ConfigMismatchError(f"{self.checkpoint_path} was trained on other data "
                                      f"(fingerprint {state['data']['fingerprint']}, now {self.prepared.fingerprint})")
        # The world size may change: the global batch and every draw are keyed by global sample index.
        if state["seed"] != self.seed:
            raise ConfigMismatchError(f"{self.checkpoint_path} was trained with seed {state['seed']}; "
                                      "resume with the same")
        kept, fresh = PhaseSchedule(adopted.schedule), PhaseSchedule(self.config.schedule)
        moved = (kept.fake_start, kept.real_start) != (fresh.fake_start, fresh.real_start)
        if moved and self.group.is_main:
            s, want = adopted.schedule, self.config.schedule
            print(f"onegan: {self.checkpoint_path} continues to {s.iterations} iterations with its phase "
                  f"boundaries (fake reconstruction from {s.fake_recon_start}, real from {s.real_recon_start}); "
                  f"a fresh {s.iterations}-iteration run would start them at {want.fake_recon_start} and "
                  f"{want.real_recon_start}", file=sys.stderr, flush=True)
        self.config, self.schedule = adopted, PhaseSchedule(adopted.schedule)
        self.model.load_state_dict(state["model"])
        self.discriminators.load_state_dict(state["discriminators"])
        self.model_optimizer.load_state_dict(state["model_optimizer"])
        for path, optimizer in self.discriminator_optimizers.items():
            optimizer.load_state_dict(state["discriminator_optimizers"][path])
        for optimizer in (self.model_optimizer, *self.discriminator_optimizers.values()):
            set_capturable(optimizer, self.config.performance.cuda_graphs)  # not what the checkpoint said
        restore_rng_states(state["rng"])
        self.iteration = done
        if self.group.is_main:
            # Log lines past the checkpoint (written after it, before the run was killed) are logged again.
            LossLog(self.out / LOSS_LOG).truncate(lambda r: r.get("iteration", 0) <= self.iteration)
        return True

    # ---- one iteration -------------------------------------------------------------------------------

    def clone_discriminators(self) -> None:
        """Entering Phase II: every path gets a copy of the generation path's D_bg, D_c and optimiser."""
        source = self.discriminators[GENERATION]
        for path in PATHS[1:]:
            self.discriminators[path].load_state_dict(source.state_dict())
            self.discriminator_optimizers[path].load_state_dict(self.discriminator_optimizers[GENERATION].state_dict())

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        # A CUDA graph must not keep autocast's cache of cast weights from its capture.
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype,
                              cache_enabled=not self.config.performance.cuda_graphs)

    def _nonfinite(self, named: dict[str, torch.Tensor]) -> torch.Tensor:
        """1 when any of this process's losses is NaN or infinite, else 0 (a tensor: no host sync)."""
        values = torch.stack([v.detach().float() for v in named.values()])
        return (~torch.isfinite(values).all()).float()

    def _diverged(self, named: dict[str, torch.Tensor]) -> TrainingDiverged:
        bad = [name for name, v in named.items() if not torch.isfinite(v.detach()).all()]
        kind = "NaN" if any(torch.isnan(named[b].detach()).any() for b in bad) else "infinite"
        last = (f"the last good checkpoint is {self.checkpoint_path}" if self.checkpoint_path.exists()
                else "no checkpoint had been written yet")
        return TrainingDiverged(f"loss {', '.join(bad) or '(on another process)'} became {kind} at iteration "
                                f"{self.iteration}; training stopped and {last}")

    def step(self) -> dict[str, torch.Tensor]:
        """Run iteration ``self.iteration``; returns the named scalar losses (detached tensors: read
        them, a host sync on a GPU, only when logging)."""
        if self.captured_step is not None:  # PerformanceConfig.cuda_graphs (onegan/step_capture.py)
            return self.captured_step.step()
        named, _ = self.compute_step(self.step_inputs(self.iteration))
        self.iteration += 1
        return {k: v.detach() for k, v in named.items()}

    def step_inputs(self, t: int) -> StepInputs:
        """Everything iteration ``t`` takes from outside the networks: the real batch and the keyed
        draws that come before the forward pass (φ_c, z). Clones the discriminators when ``t`` enters
        Phase II. Kept apart from ``compute_step`` so that a captured step (onegan/step_capture.py)
        can copy these into static buffers."""
        model_cfg = self.config.model
        if self.schedule.clones_discriminators_at(t):
            self.clone_discriminators()
        n, device, group = self.local_batch, self.device, self.group
        torch.manual_seed(iteration_seed(self.seed, t))  # for any draw outside `draws`: resumable
        draws = GlobalBatchDraws(self.seed, t, group.rank, n, group.world_size, device)
        objects, backgrounds = self.streams.batch(t, n, self.config.train.flip)
        size = model_cfg.image_size
        real = to_model_range(objects["image"].to(device), size).contiguous(memory_format=self.memory_format)
        real_bg = to_model_range(backgrounds.to(device), size).contiguous(memory_format=self.memory_format)
        child = draws.randint(model_cfg.num_classes)
        parent = parent_of(child, model_cfg.num_classes, model_cfg.num_parents)
        z = draws.randn(model_cfg.z_dim)
        return StepInputs(t, self.schedule.active_paths(t), real, real_bg, child, parent, z, draws)

    def compute_step(self, inputs: StepInputs, defer_finite_check: bool = False
                     ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """Forward, backward and optimiser steps of one iteration from ``inputs``; returns the named
        losses and, with ``defer_finite_check``, a 0/1 tensor that is 1 when a loss was not finite.
        Deferred, nothing here waits for the device (a captured step checks after the replay);
        otherwise a non-finite loss raises before the optimiser step that would use it."""
        cfg, model_cfg = self.config, self.config.model
        draws = inputs.draws
        real, real_bg, child, parent, z = inputs.real, inputs.real_bg, inputs.child, inputs.parent, inputs.z
        paths = inputs.paths

        with self._autocast():
            generated = self.model.generate(child, parent, z)
            reconstructions: dict[str, tuple[torch.Tensor, Reconstructed]] = {}
            if FAKE_RECONSTRUCTION in paths:
                fake_input = generated.image.detach() if cfg.loss.detach_fake_reconstruction_input else generated.image
                known = child if cfg.loss.fake_reconstruction_codes == "known" else None
                reconstructions[FAKE_RECONSTRUCTION] = (fake_input, self.model.reconstruct(
                    fake_input, draws.mixup_weights(model_cfg), child=known, noise=draws.randn_like))
            if REAL_RECONSTRUCTION in paths:
                reconstructions[REAL_RECONSTRUCTION] = (real, self.model.reconstruct(
                    real, draws.mixup_weights(model_cfg), noise=draws.randn_like))

        fakes = {GENERATION: (generated.image, generated.background)}
        fakes.update({path: (rec.image, rec.background) for path, (_, rec) in reconstructions.items()})

        # Discriminator steps (Eq. 10), one pair per path.
        with self._autocast():
            named, discriminator_total = objective.discriminator_objective(self.discriminators, fakes, real, real_bg,
                                                                           child, cfg.loss)
        nonfinite = self._nonfinite(named)
        for path in fakes:
            self.discriminator_optimizers[path].zero_grad(set_to_none=True)
        # One bucketed average over every stepped pair; it also tells each process whether any diverged.
        if self._backward_and_average(("discriminators", *fakes), discriminator_total,
                                      [p for path in fakes for p in self.discriminators[path].parameters()],
                                      None if defer_finite_check else nonfinite):
            raise self._diverged(named)
        for path in fakes:
            self.discriminator_optimizers[path].step()

        # Generator / encoder / embedding step (Eqs. 11-18), discriminators frozen.
        _set_requires_grad(self.discriminators, False)
        try:
            with self._autocast():
                # Drawn last, and only when on, so the default path's draws are unchanged.
                nuisance = hue = None
                if cfg.loss.nuisance_augmentation:
                    nuisance = draws.rand(DRAWS_PER_SAMPLE)
                    hue = draws.rand(1) if cfg.loss.augment_parent_hue else None
                g_named, model_total = objective.generator_objective(self.model, self.discriminators, generated,
                                                                     child, parent, reconstructions, cfg, nuisance, hue)
            named.update(g_named)
            model_nonfinite = self._nonfinite(g_named)
            self.model_optimizer.zero_grad(set_to_none=True)
            if self._backward_and_average(("model", *fakes), model_total, self.model.parameters(),
                                          None if defer_finite_check else model_nonfinite):
                raise self._diverged(g_named)
            self.model_optimizer.step()
        finally:
            _set_requires_grad(self.discriminators, True)
        return named, torch.maximum(nonfinite, model_nonfinite) if defer_finite_check else None

    def _backward_and_average(self, key: tuple[str, ...], loss: torch.Tensor,
                              parameters: Iterable[nn.Parameter], nonfinite: torch.Tensor | None) -> bool:
        """``loss.backward()`` and the gradient average over processes; True when a process flagged
        ``nonfinite``. With ``PerformanceConfig.overlap_gradient_reduction`` under torchrun the
        buckets are all-reduced while the backward pass runs, one averager per parameter set ``key``."""
        if self.config.performance.overlap_gradient_reduction and self.group.distributed:
            if key not in self._averagers:
                self._averagers[key] = OverlappedGradientAverager(parameters, self.group)
            return self._averagers[key].backward(loss, nonfinite)
        loss.backward()
        return average_gradients(parameters, self.group, nonfinite)

    # ---- samples -------------------------------------------------------------------------------------

    @torch.no_grad()
    def write_samples(self) -> None:
        """Fig. 3 grid (rows: image, foreground, mask, background) and Fig. 4 grid (rows: real,
        reconstruction, foreground, background, GT mask, predicted mask)."""
        if not self.group.is_main:
            return
        cfg = self.config.model
        self.model.eval()
        try:
            generator = torch.Generator().manual_seed(self.seed)
            child = torch.arange(_SAMPLE_COUNT) % cfg.num_classes
            z = torch.randn(_SAMPLE_COUNT, cfg.z_dim, generator=generator).to(self.device)
            child = child.to(self.device)
            gen = self.model.generate(child, parent_of(child, cfg.num_classes, cfg.num_parents), z)
            rows = [to_unit_range(gen.image), to_unit_range(gen.foreground), gen.mask.expand(-1, 3, -1, -1),
                    to_unit_range(gen.background)]
            directory = self.out / SAMPLES_DIR
            self._save_grid(torch.cat(rows), directory / f"generation_{self.iteration:07d}.png")
            self._board_grid("generation", torch.cat(rows))
            objects = self.streams.fixed_objects(_SAMPLE_COUNT)
            real = to_model_range(objects["image"].to(self.device), cfg.image_size)
            rec = self.model.reconstruct(real, inference_mixup_weights(real.shape[0], cfg, self.device), sample=False)
            gt_mask = torch.nn.functional.interpolate(objects["mask"].to(self.device), size=real.shape[-2:],
                                                      mode="nearest")
            rows = [to_unit_range(real), to_unit_range(rec.image), to_unit_range(rec.foreground),
                    to_unit_range(rec.background), gt_mask.expand(-1, 3, -1, -1), rec.mask.expand(-1, 3, -1, -1)]
            self._save_grid(torch.cat(rows), directory / f"reconstruction_{self.iteration:07d}.png")
            self._board_grid("reconstruction", torch.cat(rows))
        finally:
            self.model.train()

    def _board_grid(self, name: str, images: torch.Tensor) -> None:
        board = getattr(self, "board", None)  # set by run(): samples drawn outside it go to PNG only
        if board is not None:
            from torchvision.utils import make_grid  # lazily: its import costs ~2 s (see _save_grid)

            board.image_grid(self.iteration, name, make_grid(images.float().cpu(), nrow=_SAMPLE_COUNT, padding=1))

    @staticmethod
    def _save_grid(images: torch.Tensor, path: Path) -> None:
        # torchvision is imported when a grid is first drawn, not with the trainer: its import pulls in
        # torch._dynamo (~2 s), which every cluster job of a run would otherwise pay at start
        from torchvision.utils import save_image

        with atomic_path(path) as tmp:
            save_image(images.float().cpu(), tmp, nrow=_SAMPLE_COUNT, padding=1, format="png")

    # ---- the loop ------------------------------------------------------------------------------------

    def run(self, until: int | None = None) -> Path:
        """Train until the schedule's last iteration (or iteration ``until``, or ``max_minutes``, or a
        signal: see ``core.training_run``); returns the checkpoint path, which exists on return (a
        run of 0 iterations saves its initial state). ``until`` serves snapshots of one long run
        (``bench curve``)."""
        cfg = self.config
        total = cfg.schedule.iterations if until is None else min(until, cfg.schedule.iterations)
        if self.group.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.out / "config.json", cfg.to_dict())
        if self.iteration >= total:
            if not self.checkpoint_path.exists():
                self.save()
            return self.checkpoint_path
        start_time = time.monotonic()
        self.board = RunBoard(self.out, start_step=self.iteration, enabled=self.group.is_main)  # TensorBoard
        self.board.start_timing(self.iteration)

        def after_step(t: int, losses_now: dict[str, torch.Tensor]) -> dict[str, str] | None:
            postfix = None
            if t % cfg.train.log_every == 0 or t == total:
                values = {k: float(v) for k, v in losses_now.items()}
                self._log(values, time.monotonic() - start_time)
                postfix = {k: f"{values[k]:.3f}" for k in ("gen/L_D", "gen/L_G", "real/L_REC", "fake/L_REC")
                           if k in values}
            if t % cfg.train.sample_every == 0 or t == total:
                self.write_samples()
            return postfix

        agree = None
        if self.group.distributed:
            def agree(flags: list[int]) -> list[int]:
                return agree_max(flags, self.group, self.device)
        try:
            result = run_loop(what=f"onegan {cfg.preset_name}", start=self.iteration, total=total,
                              step=lambda _i: self.step(), save=lambda _done: self.save(),
                              checkpoint_path=self.checkpoint_path,
                              policy=CheckpointPolicy(cfg.train.checkpoint_every, self.checkpoint_minutes),
                              deadline=Deadline(self.max_minutes, start_time), after_step=after_step,
                              progress=self.progress and self.group.is_main, agree=agree,
                              announce=self.group.is_main)
        finally:
            self.board.close()
        if result.stopped_early and self.group.is_main:
            tqdm.write(f"onegan: --max-minutes {self.max_minutes} reached at iteration {result.completed}/{total}; "
                       f"checkpoint saved, rerun with --resume to continue")
        return self.checkpoint_path

    def _log(self, values: dict[str, float], elapsed: float) -> None:
        if not self.group.is_main:
            return
        record = {"iteration": self.iteration, "phase": self.schedule.phase(self.iteration - 1),
                  "paths": list(self.schedule.active_paths(self.iteration - 1)), "seconds": round(elapsed, 2),
                  **{k: (v if math.isfinite(v) else str(v)) for k, v in values.items()}}
        LossLog(self.out / LOSS_LOG).append(record)
        if getattr(self, "board", None) is not None:
            self.board.scalars(self.iteration, values, phase=record["phase"])
