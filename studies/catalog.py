"""The sweep studies ``wgflow study NAME`` runs (a light module: nothing heavy is imported
until a study runs).

>>> sorted(STUDIES)
['approximation', 'barron', 'coupling', 'global-convergence', 'sgd-vs-pde', 'step-size']
"""

from __future__ import annotations

import dataclasses
import importlib

from wgflow.validation import check_bool, check_choice

__all__ = ["STUDIES", "Study"]


@dataclasses.dataclass(frozen=True)
class Study:
    """A sweep study of ``wgflow study NAME`` (resumable archives, printed fits).

    Parameters
    ----------
    name : str
        Its name on the command line.
    module : str
        The module of ``wgflow.studies`` whose ``run_study(output, scheduler, quick, **choices)``
        runs it.
    description : str
        One line.
    output : str
        Default archive prefix.
    choices : dict
        Extra options and their allowed values (the first is the default).
    """

    name: str
    module: str
    description: str
    output: str
    choices: dict = dataclasses.field(default_factory=dict)

    def run(self, output: str | None = None, scheduler: str | None = None, quick: bool = False,
            **choices) -> int:  # fmt: skip
        """Run the study.

        Parameters
        ----------
        output : str, optional
            Archive prefix (default :attr:`output`).
        scheduler : str, optional
            Dask scheduler address or ``synchronous``.
        quick : bool
            The reduced setting.
        **choices
            Values of :attr:`choices`.

        Returns
        -------
        int
            The exit code.
        """
        for key, value in choices.items():
            check_choice(key, value, self.choices.get(key, ()))
        module = importlib.import_module(f"wgflow.studies.{self.module}")
        return module.run_study(
            output=self.output if output is None else output, scheduler=scheduler,
            quick=check_bool("quick", quick), **choices,
        )  # fmt: skip


#: every study ``wgflow study`` knows, by name
STUDIES: dict[str, Study] = {
    study.name: study
    for study in (
        Study("sgd-vs-pde", "sgd_vs_pde", "rates of the SGD–PDE gap in N, ε and d",
              "sgd-vs-pde", {"problem": ("anisotropic", "teacher-student")}),
        Study("step-size", "step_size", "the εd-corrected and collective PDEs against SGD",
              "step-size"),
        Study("coupling", "coupling", "the proof's four coupling terms and their rates",
              "coupling"),
        Study("global-convergence", "global_convergence",
              "samples to reach inf R + η against d (noisy SGD)", "global-convergence"),
        Study("approximation", "approximation",
              "approximation rates of finite networks (the seed's part A)", "approximation"),
        Study("barron", "barron", "Barron's bound with its Fourier constant (tanh students)",
              "barron"),
    )
}  # fmt: skip
