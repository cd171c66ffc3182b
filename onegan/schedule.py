"""Multi-phase training schedule (§4.3): which paths run at iteration t.

Phase I (t < fake_recon_start): generation path only. Phase II: the reconstruction path on fake
images joins at ``fake_recon_start`` and on real images at ``real_recon_start`` (paper: 200k / 400k
of 600k). On entering Phase II each discriminator (D_bg, D_c) is cloned so that every path has its
own pair (3 D_bg + 3 D_c in all). Ablations: "Phase I only" never leaves Phase I, "no real recon"
never adds real images, "no multi-phase" runs every path from t = 0 (each with its own pair).
"""

from __future__ import annotations

from dataclasses import dataclass

from onegan.config import ScheduleConfig

GENERATION = "generation"
FAKE_RECONSTRUCTION = "fake_reconstruction"
REAL_RECONSTRUCTION = "real_reconstruction"
PATHS: tuple[str, ...] = (GENERATION, FAKE_RECONSTRUCTION, REAL_RECONSTRUCTION)


@dataclass(frozen=True)
class PhaseSchedule:
    config: ScheduleConfig

    @property
    def fake_start(self) -> int | None:
        """First iteration of fake reconstruction (None: never)."""
        if not self.config.reconstruction:
            return None
        return 0 if not self.config.multi_phase else self.config.fake_recon_start

    @property
    def real_start(self) -> int | None:
        """First iteration of real reconstruction (None: never)."""
        if not (self.config.reconstruction and self.config.real_reconstruction):
            return None
        return 0 if not self.config.multi_phase else self.config.real_recon_start

    def active_paths(self, iteration: int) -> tuple[str, ...]:
        paths = [GENERATION]
        if self.fake_start is not None and iteration >= self.fake_start:
            paths.append(FAKE_RECONSTRUCTION)
        if self.real_start is not None and iteration >= self.real_start:
            paths.append(REAL_RECONSTRUCTION)
        return tuple(paths)

    def phase(self, iteration: int) -> int:
        """1 or 2."""
        return 2 if len(self.active_paths(iteration)) > 1 else 1

    @property
    def phase_two_start(self) -> int | None:
        """The iteration at which the discriminators are cloned per path (None: never)."""
        return self.fake_start

    def clones_discriminators_at(self, iteration: int) -> bool:
        return self.phase_two_start is not None and iteration == self.phase_two_start

