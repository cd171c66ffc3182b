"""User journeys of `bench train` at `smoke` on a tiny synthetic set: nothing trained is ever thrown
away without being asked, and every interruption says what it kept.

Each journey is the documented command line (in-process through ``benchmark.cli.main`` where a
signal is not involved, as a subprocess where one is); weights are compared bit for bit with an
uninterrupted run of the same length.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from benchmark.cli import main as bench_main
from core.atomic import read_jsonl
from core.errors import TrainingInterrupted
from core.training_run import CheckpointPolicy, StepAbandoned, run_loop, signal_pending
from data_prep.prepared import load_prepared
from data_prep.synthetic import write_synthetic

ROOT = Path(__file__).resolve().parents[2]
TOTAL = 24        # iterations of the runs that get interrupted (smoke: phases at 8 and 16, log every 5)
BATCH = ["--batch-size", "2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("journeys") / "synthetic", classes=4, parents=2, images=40,
                           size=24, seed=0)


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "--preset", "smoke", "--out", str(out), "--device", "cpu", *BATCH, *extra]


def weights(out: Path) -> dict[str, torch.Tensor]:
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    return {**{f"m.{k}": v for k, v in state["model"].items()},
            **{f"d.{k}": v for k, v in state["discriminators"].items()}}


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    different = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not different, different[:5]


def logged_iterations(out: Path) -> list[int]:
    return [r["iteration"] for r in read_jsonl(out / "losses.jsonl")]


@pytest.fixture(scope="module")
def straight(data, tmp_path_factory) -> Path:
    """An uninterrupted run of TOTAL iterations."""
    out = tmp_path_factory.mktemp("straight") / "run"
    torch.set_num_threads(1)
    assert bench_main(train_args(data, out, "--iterations", str(TOTAL))) == 0
    return out


# --------------------------------------------------------------------------------------------------
# Re-running, restarting, extending


def test_a_second_run_without_resume_is_refused_with_one_line_and_touches_nothing(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert bench_main(train_args(data, out, "--iterations", "6")) == 0
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert bench_main(train_args(data, out, "--iterations", "6")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "already holds a training run" in err and "--resume" in err and "--restart" in err
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_restart_starts_over_deliberately(data, tmp_path, capsys):
    out, fresh = tmp_path / "run", tmp_path / "fresh"
    assert bench_main(train_args(data, out, "--iterations", "12")) == 0
    assert bench_main(train_args(data, out, "--iterations", "6", "--restart")) == 0
    assert "--restart: the previous run was removed" in capsys.readouterr().err
    assert bench_main(train_args(data, fresh, "--iterations", "6")) == 0
    assert torch.load(out / "checkpoint.pt", weights_only=True)["iteration"] == 6
    assert logged_iterations(out) == logged_iterations(fresh) == [5, 6]
    assert sorted(p.name for p in (out / "samples").iterdir()) == sorted(p.name for p in (fresh / "samples").iterdir())
    assert_same_weights(out, fresh)
    assert not list(tmp_path.glob(".run.restarted-*"))


def test_resume_and_restart_together_are_refused(data, tmp_path, capsys):
    with pytest.raises(SystemExit):
        bench_main(train_args(data, tmp_path / "run", "--resume", "--restart"))
    assert "not allowed with argument" in capsys.readouterr().err


def test_raising_iterations_extends_a_finished_run_exactly_where_the_schedule_allows(data, tmp_path, capsys):
    # "no-multi-phase" runs every path from iteration 0: the phase boundaries do not matter, so a run
    # of 6 extended to 12 is the run of 12.
    extended, whole = tmp_path / "extended", tmp_path / "whole"
    ablation = ["--ablation", "no-multi-phase"]
    assert bench_main(train_args(data, extended, "--iterations", "6", *ablation)) == 0
    capsys.readouterr()
    assert bench_main(train_args(data, extended, "--iterations", "12", "--resume", *ablation)) == 0
    assert "phase boundaries" not in capsys.readouterr().err
    assert bench_main(train_args(data, whole, "--iterations", "12", *ablation)) == 0
    assert_same_weights(extended, whole)
    assert logged_iterations(extended) == [5, 6, 10, 12]  # 6 was the end of the first run; none twice
    assert torch.load(extended / "checkpoint.pt", weights_only=True)["config"]["schedule"]["iterations"] == 12


def test_extending_a_phased_run_keeps_its_boundaries_and_says_so(data, tmp_path, capsys):
    from onegan.config import OneGANConfig
    from onegan.trainer import Trainer

    extended = tmp_path / "extended"
    assert bench_main(train_args(data, extended, "--iterations", "6")) == 0  # boundaries at 2 and 4
    capsys.readouterr()
    assert bench_main(train_args(data, extended, "--iterations", "12", "--resume")) == 0
    notice = [line for line in capsys.readouterr().err.splitlines() if "phase boundaries" in line]
    assert len(notice) == 1
    assert "fake reconstruction from 2, real from 4" in notice[0] and "start them at 4 and 8" in notice[0]
    # It equals a run of 12 iterations with the boundaries at 2 and 4.
    prepared = load_prepared(data)
    config = OneGANConfig.preset("smoke", prepared.num_classes, prepared.num_parents).with_iterations(6)
    config = dataclasses.replace(config, schedule=dataclasses.replace(config.schedule, iterations=12),
                                 train=dataclasses.replace(config.train, batch_size=2))
    Trainer(config, prepared, tmp_path / "fixed", seed=0, progress=False).run()
    assert_same_weights(extended, tmp_path / "fixed")


def test_a_checkpoint_past_the_requested_length_is_refused(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert bench_main(train_args(data, out, "--iterations", "6")) == 0
    capsys.readouterr()
    assert bench_main(train_args(data, out, "--iterations", "4", "--resume")) == 2
    assert "is at iteration 6, past --iterations 4" in capsys.readouterr().err


def test_zero_iterations_writes_the_checkpoint_it_announces(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert bench_main(train_args(data, out, "--iterations", "0")) == 0
    printed = capsys.readouterr().out
    assert f"checkpoint {out / 'checkpoint.pt'} (iteration 0 of 0)" in printed
    assert torch.load(out / "checkpoint.pt", weights_only=True)["iteration"] == 0


# --------------------------------------------------------------------------------------------------
# Signals and kills (a real `bench train` process)


def _start(data: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    # A test run in the background inherits an ignored SIGINT; the user's terminal does not.
    return subprocess.Popen([sys.executable, "-m", "benchmark.cli", *train_args(data, out, "--iterations", str(TOTAL),
                                                                                  *extra)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_logged(proc: subprocess.Popen, out: Path, iteration: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"bench train ended early ({proc.returncode}): {proc.stderr.read()[-2000:]}")
        try:
            if any(i >= iteration for i in logged_iterations(out)):
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("bench train logged nothing in time")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_save_at_once_say_so_and_resume_exactly(signum, data, tmp_path, straight, capsys):
    out = tmp_path / "run"
    proc = _start(data, out, "--checkpoint-every", "1000", "--checkpoint-minutes", "0")
    _wait_for_logged(proc, out, 5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signum, err
    name = signal.Signals(signum).name
    lines = [line.strip() for line in err.replace("\r", "\n").splitlines() if name in line]
    assert len(lines) == 2, err  # what was saved, then the CLI's closing line
    iteration = torch.load(out / "checkpoint.pt", weights_only=True)["iteration"]
    assert 5 <= iteration < TOTAL
    assert f"{name} received; checkpoint {out / 'checkpoint.pt'} written at iteration {iteration}" in lines[0]
    assert lines[1].startswith(f"bench train: onegan smoke stopped by {name}") and "--resume" in lines[1]
    assert "Traceback" not in err
    capsys.readouterr()
    assert bench_main(train_args(data, out, "--iterations", str(TOTAL), "--resume")) == 0
    assert_same_weights(out, straight)
    assert logged_iterations(out) == logged_iterations(straight)


def test_sigkill_loses_only_what_followed_the_last_checkpoint(data, tmp_path, straight):
    out = tmp_path / "run"
    proc = _start(data, out, "--checkpoint-every", "10", "--checkpoint-minutes", "0")
    _wait_for_logged(proc, out, 15)
    proc.kill()
    proc.communicate(timeout=60)
    saved = torch.load(out / "checkpoint.pt", weights_only=True)["iteration"]
    assert saved in (10, 20) and max(logged_iterations(out)) >= 15
    assert bench_main(train_args(data, out, "--iterations", str(TOTAL), "--resume")) == 0
    assert_same_weights(out, straight)
    assert logged_iterations(out) == logged_iterations(straight) == [5, 10, 15, 20, 24]


# --------------------------------------------------------------------------------------------------
# The deferred-signal contract (core.training_run), in-process


def _loop(tmp_path: Path, events: list, total: int = 5, signal_at: int = 2, signum: int = signal.SIGUSR1,
          abandon: bool = False):
    checkpoint = tmp_path / "checkpoint.txt"

    def step(i: int) -> dict:
        events.append(("step", i))
        if i == signal_at and not any(e == ("signalled",) for e in events):
            events.append(("signalled",))
            os.kill(os.getpid(), signum)
            if abandon and signal_pending() == signum:
                raise StepAbandoned
        return {}

    def save(done: bool) -> None:
        step_count = sum(1 for e in events if e[0] == "step")
        checkpoint.write_text(str(step_count))
        events.append(("save", step_count))

    return run_loop(what="test", start=0, total=total, step=step, save=save, checkpoint_path=checkpoint,
                    policy=CheckpointPolicy(every_iterations=None, every_minutes=None), progress=False)


def test_a_previous_python_handler_is_called_after_the_checkpoint_is_written(tmp_path, capsys):
    events: list = []

    def submitit_like(signum, frame):
        events.append(("previous handler", signum, (tmp_path / "checkpoint.txt").read_text()))

    old = signal.signal(signal.SIGUSR2, submitit_like)
    try:
        result = _loop(tmp_path, events, signum=signal.SIGUSR2)
        assert signal.getsignal(signal.SIGUSR2) is submitit_like  # restored when the loop ended
    finally:
        signal.signal(signal.SIGUSR2, old)
    # Recorded during step 2, acted on at its boundary: save (3 steps done), then the old handler,
    # which returned: training went on to the end.
    assert events[:6] == [("step", 0), ("step", 1), ("step", 2), ("signalled",), ("save", 3),
                          ("previous handler", signal.SIGUSR2, "3")]
    assert events[-1] == ("save", 5) and result.completed == 5
    assert "test: SIGUSR2 received; checkpoint" in capsys.readouterr().err


def test_a_previous_handler_that_exits_exits_after_the_save(tmp_path):
    events: list = []

    def requeue_and_exit(signum, frame):
        events.append(("requeued",))
        raise SystemExit(-1)

    old = signal.signal(signal.SIGUSR2, requeue_and_exit)
    try:
        with pytest.raises(SystemExit):
            _loop(tmp_path, events, signum=signal.SIGUSR2)
        assert signal.getsignal(signal.SIGUSR2) is requeue_and_exit
    finally:
        signal.signal(signal.SIGUSR2, old)
    assert events[-2:] == [("save", 3), ("requeued",)]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGUSR1])
def test_without_a_previous_handler_the_loop_raises_training_interrupted(signum, tmp_path):
    events: list = []
    # What a fresh interpreter has (a test run in the background may have SIGINT ignored).
    before = signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)
    try:
        with pytest.raises(TrainingInterrupted) as caught:
            _loop(tmp_path, events, signum=signum)
        assert signal.getsignal(signum) in (signal.default_int_handler, signal.SIG_DFL)
    finally:
        signal.signal(signum, before)
    assert caught.value.signum == signum and caught.value.iteration == 3
    assert caught.value.checkpoint == tmp_path / "checkpoint.txt"
    assert events[-1] == ("save", 3) and ("step", 3) not in events


def test_an_abandoned_step_keeps_the_last_checkpoint(tmp_path, capsys):
    events: list = []
    (tmp_path / "checkpoint.txt").write_text("earlier")
    with pytest.raises(TrainingInterrupted) as caught:
        _loop(tmp_path, events, signum=signal.SIGTERM, abandon=True)
    assert caught.value.iteration == 2 and not any(e[0] == "save" for e in events)
    assert "kept (the unfinished iteration is redone on resume)" in capsys.readouterr().err


def test_an_ignored_signal_stays_ignored(tmp_path):
    events: list = []
    old = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        result = _loop(tmp_path, events, signum=signal.SIGUSR1)
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert result.completed == 5 and [e for e in events if e[0] == "save"] == [("save", 5)]


def test_checkpoint_cadence_by_iterations_and_minutes(tmp_path, monkeypatch):
    import core.training_run as training_run

    clock = [0.0]
    monkeypatch.setattr(training_run.time, "monotonic", lambda: clock[0])
    saved_after: list[int] = []

    def step(i: int) -> None:
        clock[0] += 20.0  # each step takes 20 s

    def save(done: bool) -> None:
        saved_after.append(int(clock[0] // 20))

    run_loop(what="t", start=0, total=10, step=step, save=save, checkpoint_path=tmp_path / "c",
             policy=CheckpointPolicy(every_iterations=4, every_minutes=1.0), progress=False)
    # A minute after the last save (steps 3 and 7), every 4 iterations (4, 8), and at the end.
    assert saved_after == [3, 4, 7, 8, 10]


# --------------------------------------------------------------------------------------------------
# The baselines share the scaffold: the same refusal, restart, extension and loss-log rules


def test_a_baseline_run_is_refused_restarted_and_extended_exactly(data, tmp_path, monkeypatch):
    from baselines import iic
    from core.contract import TrainRequest
    from core.training_run import RunExistsError

    def train(out, steps, **options):
        monkeypatch.setitem(iic.PRESETS, "smoke", dataclasses.replace(iic.PRESETS["smoke"], steps=steps))
        return iic.train(TrainRequest(data=data, out=out, preset="smoke", seed=2, device="cpu", **options))

    def model(out):
        return torch.load(out / "checkpoint.pt", weights_only=True)["model"]

    train(tmp_path / "whole", 12)
    train(tmp_path / "extended", 6)
    with pytest.raises(RunExistsError, match="already holds a training run"):
        train(tmp_path / "extended", 12, resume=False)
    train(tmp_path / "extended", 12)  # resume (the API's default) with more steps: a finished run goes on
    whole, extended = model(tmp_path / "whole"), model(tmp_path / "extended")
    assert all(torch.equal(whole[k], extended[k]) for k in whole)
    train(tmp_path / "extended", 12, resume=False, restart=True)
    again = model(tmp_path / "extended")
    assert all(torch.equal(whole[k], again[k]) for k in whole)


def test_a_gan_baseline_logs_no_iteration_twice_after_a_kill(data, tmp_path):
    from baselines import finegan
    from baselines.gan_training import read_losses
    from core.atomic import append_jsonl
    from core.contract import TrainRequest

    smoke = finegan.FineGANConfig.preset("smoke")

    def short(iterations: int, encoder_iterations: int) -> finegan.FineGANConfig:
        return dataclasses.replace(smoke, iterations=iterations, log_every=1, checkpoint_every=100,
                                   encoders=dataclasses.replace(smoke.encoders, iterations=encoder_iterations))

    request = TrainRequest(data=data, out=tmp_path, preset="smoke", device="cpu")
    finegan.train(request, config=short(3, 2))
    # What a run killed after its checkpoint leaves: log lines past the saved iterations.
    append_jsonl(tmp_path / "losses.jsonl", {"phase": "finegan-encoders", "iteration": 3, "child_ce": 9.0})
    finegan.train(request, config=short(5, 3))
    log = read_losses(tmp_path)
    assert [r["iteration"] for r in log if r["phase"] == "finegan"] == [1, 2, 3, 4, 5]
    assert [r["iteration"] for r in log if r["phase"] == "finegan-encoders"] == [1, 2, 3]
    assert all(r.get("child_ce") != 9.0 for r in log)


def test_ctrl_c_twice_stops_at_once_without_saving(tmp_path):
    saves: list[bool] = []

    def step(i: int) -> None:
        if i == 1:
            os.kill(os.getpid(), signal.SIGINT)  # recorded: the step goes on
            os.kill(os.getpid(), signal.SIGINT)  # the impatient second one stops it here

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_loop(what="t", start=0, total=5, step=step, save=saves.append, checkpoint_path=tmp_path / "c",
                     policy=CheckpointPolicy(every_iterations=None, every_minutes=None), progress=False)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)
    assert saves == []
