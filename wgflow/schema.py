"""Names of the variables and attributes of an SGD-vs-PDE comparison archive, defined once.

The experiment that writes the archive (``wgflow.studies``), the plots and the command line
that read it all build names here, so a renamed variable cannot leave a reader behind.

A comparison holds SGD (``source = "sgd"``) and one or more reduced PDEs: the plain one
(``variant = "plain"``) and each correction (``"corrected"``: the one-neuron finite-step-size
drift; ``"collective"``: the reduced PDE coupled to the collective scalars of :data:`COLLECTIVE`).
A PDE variant's variables carry its suffix (``risk_pde``, ``risk_pde_corrected``).

Examples
--------
>>> risk_pde("corrected"), risk_gap(), mean("r1", "pde", "corrected")
('risk_pde_corrected', 'risk_gap', 'mean_r1_pde_corrected')
"""

from __future__ import annotations

__all__ = [
    "PDE_VARIANTS",
    "RISK_SGD",
    "RISK_SGD_STDERR",
    "COLLECTIVE",
    "attributes",
    "collective",
    "density",
    "free_energy_pde",
    "mean",
    "particle",
    "risk_gap",
    "risk_pde",
    "std",
    "sup",
    "variants_in",
    "w2",
    "whole_run",
]

#: the PDE curves a comparison may hold: variant → (suffix, description)
PDE_VARIANTS: dict[str, tuple[str, str]] = {
    "plain": ("", "reduced PDE"),
    "corrected": ("_corrected", "reduced PDE with the step-size correction"),
    "collective": ("_collective", "reduced PDE with the collective mode"),
}
#: the collective scalars measured on SGD and predicted by the collective model
COLLECTIVE = {
    "v2": "squared norm of the mean uninformative weight ‖mean_j P⊥w_j‖²",
    "u2": "squared norm of the mean informative weight ‖mean_j P w_j‖²",
    "pair_correlation": "pair correlation C = mean_{i≠j}⟨v_i, v_j⟩ / mean ‖v_i‖²",
}
#: SGD's risk over time
RISK_SGD = "risk_sgd"
#: the standard error of SGD's held-out risk estimate (absent when the risk is exact)
RISK_SGD_STDERR = "risk_sgd_stderr"
#: the PDE's own time axis when it runs longer than SGD
PDE_TIME = "pde_time"


def _suffix(variant: str) -> str:
    if variant not in PDE_VARIANTS:
        raise ValueError(f"variant: must be one of {list(PDE_VARIANTS)}, got {variant!r}")
    return PDE_VARIANTS[variant][0]


def risk_pde(variant: str = "plain") -> str:
    """The PDE's risk on SGD's times (``risk_pde``, ``risk_pde_corrected``).

    Parameters
    ----------
    variant : str
        A key of :data:`PDE_VARIANTS`.

    Returns
    -------
    str
        The variable name.
    """
    return "risk_pde" + _suffix(variant)


def risk_gap(variant: str = "plain") -> str:
    """``|R_N − R|`` against a PDE variant.

    Parameters
    ----------
    variant : str
        A key of :data:`PDE_VARIANTS`.

    Returns
    -------
    str
        The variable name.
    """
    return "risk_gap" + _suffix(variant)


def w2(variant: str = "plain") -> str:
    """W2 between SGD's neurons and a PDE variant, in reduced coordinates.

    Parameters
    ----------
    variant : str
        A key of :data:`PDE_VARIANTS`.

    Returns
    -------
    str
        The variable name.
    """
    return "w2" + _suffix(variant)


def density(variant: str = "plain") -> str:
    """A grid PDE's density on SGD's times.

    Parameters
    ----------
    variant : str
        A key of :data:`PDE_VARIANTS`.

    Returns
    -------
    str
        The variable name.
    """
    return "density" + _suffix(variant)


def free_energy_pde() -> str:
    """The plain grid PDE's reduced free energy on SGD's times.

    Returns
    -------
    str
        The variable name.
    """
    return "free_energy_pde"


def mean(axis: str, source: str, variant: str = "plain") -> str:
    """Mean of a reduced coordinate over SGD's neurons or under a PDE.

    Parameters
    ----------
    axis : str
        Reduced coordinate (``r1``, ``a``, …).
    source : {"sgd", "pde"}
        Whose mean.
    variant : str
        For ``source = "pde"``: a key of :data:`PDE_VARIANTS`.

    Returns
    -------
    str
        ``mean_<axis>_sgd``, ``mean_<axis>_pde`` or ``mean_<axis>_pde_<suffix>``.
    """
    return f"mean_{axis}_{_source(source, variant)}"


def std(axis: str, source: str, variant: str = "plain") -> str:
    """Standard deviation of a reduced coordinate (particle PDEs and SGD).

    Parameters
    ----------
    axis : str
        Reduced coordinate.
    source : {"sgd", "pde"}
        Whose spread.
    variant : str
        For ``source = "pde"``: a key of :data:`PDE_VARIANTS`.

    Returns
    -------
    str
        ``std_<axis>_<source>``.
    """
    return f"std_{axis}_{_source(source, variant)}"


def _source(source: str, variant: str) -> str:
    if source == "sgd":
        return "sgd"
    if source != "pde":
        raise ValueError(f"source: must be 'sgd' or 'pde', got {source!r}")
    return "pde" + _suffix(variant)


def collective(name: str, source: str) -> str:
    """A collective scalar over time: measured on SGD or predicted by the collective model.

    Parameters
    ----------
    name : str
        A key of :data:`COLLECTIVE` (``v2``, ``u2``, ``pair_correlation``).
    source : {"sgd", "pde"}
        Measured (SGD) or predicted (the ``collective`` PDE variant).

    Returns
    -------
    str
        ``<name>_sgd`` or ``<name>_pde_collective``.
    """
    if name not in COLLECTIVE:
        raise ValueError(f"name: must be one of {list(COLLECTIVE)}, got {name!r}")
    return f"{name}_{_source(source, 'collective')}"


def particle(axis: str) -> str:
    """SGD's neurons in a reduced coordinate, ``(time, particle)``.

    Parameters
    ----------
    axis : str
        Reduced coordinate.

    Returns
    -------
    str
        ``particle_<axis>``.
    """
    return f"particle_{axis}"


def whole_run(quantity: str, variant: str = "plain") -> str:
    """A PDE quantity over the PDE's whole run (on :data:`PDE_TIME`).

    Parameters
    ----------
    quantity : {"risk", "density"}
        What.
    variant : str
        A key of :data:`PDE_VARIANTS`.

    Returns
    -------
    str
        ``risk_pde_full``, ``density_pde_full``, ``risk_pde_corrected_full``.
    """
    if quantity not in ("risk", "density"):
        raise ValueError(f"quantity: must be 'risk' or 'density', got {quantity!r}")
    return f"{quantity}_pde{_suffix(variant)}_full"


def sup(name: str) -> str:
    """The attribute holding the supremum over time of a variable (``sup_risk_gap``).

    Parameters
    ----------
    name : str
        A variable name.

    Returns
    -------
    str
        ``sup_<name>``.
    """
    return f"sup_{name}"


def variants_in(ds) -> list[str]:
    """The PDE variants whose risk a comparison archive holds, plain first.

    Parameters
    ----------
    ds : xarray.Dataset
        A comparison archive.

    Returns
    -------
    list of str
        Keys of :data:`PDE_VARIANTS`.
    """
    return [v for v in PDE_VARIANTS if risk_pde(v) in ds]


def attributes(name: str) -> dict:
    """``long_name`` and ``units`` of a comparison variable.

    Parameters
    ----------
    name : str
        A variable name built by this module.

    Returns
    -------
    dict
        CF attributes.
    """
    if name == RISK_SGD:
        return {"long_name": "SGD risk R_N(θ^k)", "units": "1"}
    if name == RISK_SGD_STDERR:
        return {"long_name": "standard error of SGD's held-out risk estimate", "units": "1"}
    for variant, (_, label) in PDE_VARIANTS.items():
        fixed = {
            risk_pde(variant): f"risk of the {label} R(ρ̄_t)",
            risk_gap(variant): f"risk gap |R_N − R| ({label})",
            w2(variant): f"W2 between SGD and the {label} (reduced coordinates)",
            density(variant): f"probability density of the {label} (cell average)",
            whole_run("risk", variant): f"risk of the {label}, whole run",
            whole_run("density", variant): f"density of the {label}, whole run",
        }
        if name in fixed:
            return {"long_name": fixed[name], "units": "1"}
    for key, label in COLLECTIVE.items():
        if name == collective(key, "sgd"):
            return {"long_name": f"{label} (SGD)", "units": "1"}
        if name == collective(key, "pde"):
            if key == "pair_correlation":  # the model's own formula, equal up to O(1/N)
                label = "pair correlation C = ‖v̄‖² / (‖v̄‖² + ∫ r2² dρ̃)"
            return {"long_name": f"{label} (collective model)", "units": "1"}
    if name == free_energy_pde():
        return {"long_name": "reduced free energy of the PDE", "units": "1"}
    if name.startswith("particle_"):
        return {"long_name": f"SGD neurons: {name[len('particle_'):]}", "units": "1"}
    raise ValueError(f"name: {name!r} is not a comparison variable built by wgflow.schema")
