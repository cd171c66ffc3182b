from onegan.config import OneGANConfig
from onegan.objective import active_losses
from onegan.schedule import FAKE_RECONSTRUCTION as FAKE
from onegan.schedule import GENERATION as GEN
from onegan.schedule import REAL_RECONSTRUCTION as REAL
from onegan.schedule import PhaseSchedule


def schedule(ablation=None):
    return PhaseSchedule(OneGANConfig.preset("paper", 200, 20).with_ablation(ablation).schedule)


def test_paper_phases():
    s = schedule()
    assert s.active_paths(0) == (GEN,) and s.active_paths(199_999) == (GEN,)
    assert s.active_paths(200_000) == (GEN, FAKE) and s.active_paths(399_999) == (GEN, FAKE)
    assert s.active_paths(400_000) == (GEN, FAKE, REAL) and s.active_paths(599_999) == (GEN, FAKE, REAL)
    assert s.phase(199_999) == 1 and s.phase(200_000) == 2
    assert [t for t in (0, 199_999, 200_000, 200_001, 400_000) if s.clones_discriminators_at(t)] == [200_000]
    config = OneGANConfig.preset("paper", 200, 20)
    assert set(active_losses(config, 400_000)) == {GEN, FAKE, REAL}
    assert "L_VAE" in active_losses(config, 400_000)[REAL] and "L_VAE" not in active_losses(config, 0)[GEN]
    assert "L_RM" not in active_losses(config.with_ablation("no-rm"), 400_000)[REAL]


def test_ablated_schedules():
    assert schedule("phase1-only").active_paths(599_999) == (GEN,)
    assert not any(schedule("phase1-only").clones_discriminators_at(t) for t in (0, 200_000, 400_000))
    assert schedule("no-real-recon").active_paths(599_999) == (GEN, FAKE)
    s = schedule("no-multi-phase")
    assert s.active_paths(0) == (GEN, FAKE, REAL) and s.clones_discriminators_at(0)
