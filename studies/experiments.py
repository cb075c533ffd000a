"""One registry for everything ``wgflow run`` runs: network presets and grid jobs.

An :class:`Experiment` knows its settings and their defaults (:meth:`~Experiment.known`),
resolves a user's overrides once (:meth:`~Experiment.resolve`: the preset's values, its quick
size, the step reading) and runs the resolved settings (:meth:`~Experiment.run`), stamping the
archive's experiment attributes once (``job``, ``job_parameters``; a preset's description,
source and unconfirmed values). ``wgflow run NAME --from FILE.nc`` reruns ``job_parameters``
as they are: they are already resolved.

>>> sorted(EXPERIMENTS)[:3]
['aggregation', 'flagship', 'jko-vs-fv']
"""

from __future__ import annotations

import abc
import dataclasses
import os

import xarray as xr

from wgflow import schema
from wgflow.docstrings import inherit_docstrings
from wgflow.errors import RunStopped
from wgflow.io import to_json
from wgflow.validation import check_bool, check_choice

from . import presets
from .comparison import Comparison, compare
from .jobs import JOBS, make_job

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "GridExperiment",
    "PresetExperiment",
    "experiment",
]


class Experiment(abc.ABC):
    """A named experiment of ``wgflow run``.

    Parameters
    ----------
    name : str
        Its name on the command line.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """One line: what it computes."""

    @abc.abstractmethod
    def known(self) -> dict:
        """Every setting it accepts, with its default.

        Returns
        -------
        dict
            Setting → default.
        """

    @abc.abstractmethod
    def resolve(self, quick: bool | None = None, **overrides) -> dict:
        """The complete settings of a run: defaults, quick size and ``overrides``.

        Parameters
        ----------
        quick : bool, optional
            The reduced size (default: ``WGFLOW_QUICK=1``).
        **overrides
            Settings that replace the defaults.

        Returns
        -------
        dict
            Setting → value (JSON-serializable: archived as ``job_parameters``).
        """

    @abc.abstractmethod
    def _compute(self, settings: dict, progress: bool) -> xr.Dataset:
        """The archive of a run with resolved settings (without the experiment attributes)."""

    def attributes(self) -> dict:
        """The experiment's own archive attributes (besides ``job`` and ``job_parameters``).

        Returns
        -------
        dict
            Name → string.
        """
        return {"description": f"{self.name}: {self.description}"}

    def run(self, settings: dict, progress: bool = False) -> xr.Dataset:
        """Run resolved settings and stamp the experiment's attributes once.

        Parameters
        ----------
        settings : dict
            From :meth:`resolve` (or an archive's ``job_parameters``).
        progress : bool
            Progress bars.

        Returns
        -------
        xarray.Dataset
            The archive, with ``job``, ``job_parameters`` and :meth:`attributes`.

        Raises
        ------
        RunStopped, KeyboardInterrupt
            Their ``dataset`` carries the same attributes.
        """
        progress = check_bool("progress", progress)
        self._refuse_unknown(settings)
        try:
            ds = self._compute(dict(settings), progress)
        except (RunStopped, RuntimeError, KeyboardInterrupt) as exc:
            if getattr(exc, "dataset", None) is not None:
                self._stamp(exc.dataset, settings)
            raise
        return self._stamp(ds, settings)

    def _refuse_unknown(self, settings) -> None:
        unknown = sorted(set(settings) - set(self.known()))
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: not a setting of {self.name!r}; known: "
                f"{', '.join(sorted(self.known()))}"
            )

    def _stamp(self, ds: xr.Dataset, settings: dict) -> xr.Dataset:
        ds.attrs.update(self.attributes())
        ds.attrs["job"] = self.name
        ds.attrs["job_parameters"] = to_json(settings)
        return ds


def _quick(quick: bool | None) -> bool:
    if quick is None:
        return os.environ.get("WGFLOW_QUICK") == "1"
    return check_bool("quick", quick)


@inherit_docstrings(Experiment)
class PresetExperiment(Experiment):
    """A network preset: an SGD-vs-PDE :class:`~wgflow.studies.comparison.Comparison`.

    Parameters
    ----------
    name : str
        A key of :data:`wgflow.studies.presets.PRESETS`.
    """

    @property
    def description(self) -> str:
        """One line: what the preset computes."""
        return presets.PRESETS[self.name]["description"]

    def known(self) -> dict:
        fields = {f.name: f.default for f in dataclasses.fields(Comparison) if f.init}
        return {**fields, **presets.known_settings(self.name)}

    def resolve(self, quick: bool | None = None, **overrides) -> dict:
        self._refuse_unknown(overrides)
        settings = presets.settings(self.name, _quick(quick), **overrides)
        settings["step_reading"] = overrides.get("step_reading", "seed")
        checked = {k: v for k, v in settings.items() if k != "step_reading"}
        scales = checked.get("initial_scale")
        if isinstance(scales, tuple | list):  # a κ sweep: every κ is checked
            if not scales:
                raise ValueError("initial_scale: need at least one value")
            for kappa in scales:
                Comparison(**{**checked, "initial_scale": kappa})
        else:
            Comparison(**checked)  # every setting checked now, before any work
        return settings

    def attributes(self) -> dict:
        preset = presets.PRESETS[self.name]
        return {
            **super().attributes(),
            "preset": self.name,
            "preset_source": preset["source"],
            "preset_unconfirmed": "; ".join(preset["unconfirmed"]),
        }

    def _compute(self, settings: dict, progress: bool) -> xr.Dataset:
        kwargs = dict(settings)
        reading = check_choice("step_reading", kwargs.pop("step_reading", "seed"),
                               presets.STEP_READINGS)  # fmt: skip
        scales = kwargs.get("initial_scale")
        if isinstance(scales, tuple | list):
            ds = _kappa_sweep(kwargs, scales, progress)
        else:
            ds = compare(**kwargs, progress=progress)
        ds.attrs["step_reading"] = reading
        return ds


def _kappa_sweep(kwargs: dict, scales, progress: bool) -> xr.Dataset:
    """One comparison per initial scale ``κ``, on a ``kappa`` dimension."""
    parts = []
    for kappa in scales:
        try:
            parts.append(compare(**{**kwargs, "initial_scale": kappa}, progress=progress))
        except (RunStopped, RuntimeError, KeyboardInterrupt) as exc:
            if parts:  # the finished κ are kept; the stopped one is named
                kept = _on_kappa(parts, scales[: len(parts)])
                kept.attrs["status"] = "incomplete"
                kept.attrs["stage"] = f"κ = {kappa:g} stopped: {str(exc).splitlines()[0]}"
                exc.dataset = kept
            raise
    ds = _on_kappa(parts, scales)
    for name in (schema.risk_gap(), schema.w2()):
        ds.attrs[schema.sup(name)] = float(ds[name].max())
    return ds


@inherit_docstrings(Experiment)
def _on_kappa(parts: list, scales) -> xr.Dataset:
    ds = xr.concat(parts, dim="kappa", combine_attrs="override")
    return ds.assign_coords(
        kappa=("kappa", list(scales), {"units": "1", "long_name": "initial scale κ"})
    )


@inherit_docstrings(Experiment)
class GridExperiment(Experiment):
    """A grid job: a PDE with an exact reference, archived with its L1 error.

    Parameters
    ----------
    name : str
        A key of :data:`wgflow.studies.jobs.JOBS`.
    """

    @property
    def description(self) -> str:
        """One line: what the job computes."""
        return JOBS[self.name].description

    def known(self) -> dict:
        return {f.name: f.default for f in dataclasses.fields(JOBS[self.name])}

    def resolve(self, quick: bool | None = None, **overrides) -> dict:
        self._refuse_unknown(overrides)
        job = make_job(self.name, _quick(quick), **overrides)  # checked now, before any work
        return {f.name: getattr(job, f.name) for f in dataclasses.fields(job)}

    def attributes(self) -> dict:
        return {"description": JOBS[self.name].description}

    def _compute(self, settings: dict, progress: bool) -> xr.Dataset:
        return JOBS[self.name](**settings).run(progress=progress)


#: every experiment ``wgflow run`` knows, by name
EXPERIMENTS: dict[str, Experiment] = {
    **{name: PresetExperiment(name) for name in presets.PRESETS},
    **{name: GridExperiment(name) for name in JOBS},
}


def experiment(name: str) -> Experiment:
    """The experiment called ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENTS` (``wgflow presets`` lists them).

    Returns
    -------
    Experiment
        It.
    """
    return EXPERIMENTS[check_choice("experiment", name, tuple(EXPERIMENTS))]
