"""Run observers called by :func:`wgflow.driver.run` at every observation time."""

from __future__ import annotations

import math
import time as _time

import numpy as np
from tqdm.auto import tqdm


class Tracker:
    """Base observer: ``start`` once, ``handle`` at each observation time, ``finish`` at the end."""

    def start(self, solver, state, t_final: float) -> None:
        pass

    def handle(self, solver, state, t: float) -> None:
        pass

    def finish(self) -> None:
        pass


class SnapshotRecorder(Tracker):
    """Keeps ``(t, solver.snapshot(state), solver.observables(state))`` at each observation."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.snapshots: list = []
        self.observables: list[dict] = []

    def handle(self, solver, state, t):
        self.times.append(float(solver.time(state)))
        self.snapshots.append(solver.snapshot(state))
        self.observables.append(solver.observables(state))


class ProgressBar(Tracker):
    """tqdm bar over simulated time; hidden when ``enabled`` is False or stderr is not a tty."""

    def __init__(self, enabled: bool = True, description: str = "wgflow") -> None:
        self.enabled = enabled
        self.description = description
        self.bar = None
        self._last = 0.0

    def start(self, solver, state, t_final):
        self.bar = tqdm(
            total=float(t_final),
            disable=None if self.enabled else True,
            desc=self.description,
            unit="t",
            bar_format="{l_bar}{bar}| t={n:.4g}/{total:.4g} [{elapsed}<{remaining}]",
        )

    def handle(self, solver, state, t):
        if self.bar is not None:
            self.bar.update(float(t) - self._last)
            self._last = float(t)

    def finish(self):
        if self.bar is not None:
            self.bar.close()


class BlowUpGuard(Tracker):
    """Stops the run when an observable turns non-finite (raises :class:`BlowUpError`)."""

    def handle(self, solver, state, t):
        for name, value in solver.observables(state).items():
            if not np.all(np.isfinite(value)):
                raise BlowUpError(t, f"observable {name!r} is not finite ({value})")


class WallTimeLimit(Tracker):
    """Stops the run (raises :class:`WallTimeExceeded`) after ``seconds`` of wall time."""

    def __init__(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"seconds: need > 0, got {seconds}")
        self.seconds = seconds
        self._start = math.nan

    def start(self, solver, state, t_final):
        self._start = _time.perf_counter()

    def handle(self, solver, state, t):
        if _time.perf_counter() - self._start > self.seconds:
            raise WallTimeExceeded(t, f"wall-time limit of {self.seconds} s reached")


class RunStopped(Exception):
    """A run ended before ``t_final``; ``dataset`` holds what was computed (or ``None``)."""

    def __init__(self, t: float, cause: str) -> None:
        super().__init__(f"run stopped at t = {t:.6g}: {cause}")
        self.time = t
        self.cause = cause
        self.dataset = None


class BlowUpError(RunStopped, RuntimeError):
    """Non-finite or negative state, or a time step driven below its floor."""


class WallTimeExceeded(RunStopped):
    """The wall-time limit was reached."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``dataset`` holds the snapshots taken before the interrupt."""

    def __init__(self, t: float) -> None:
        super().__init__(f"run interrupted at t = {t:.6g}")
        self.time = t
        self.dataset = None
