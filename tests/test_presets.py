"""Presets run end to end at reduced size (same code path as full size)."""

import numpy as np
import pytest

import wgflow as wg
from wgflow.studies import presets


@pytest.mark.parametrize("name", list(presets.PRESETS))
def test_preset_runs_end_to_end_in_quick_mode(name, tmp_path):
    ds = presets.run(name, quick=True)
    assert ds.attrs["preset"] == name and ds.attrs["preset_source"]
    for var in ("risk_sgd", "risk_pde", "risk_gap", "w2"):
        assert np.all(np.isfinite(ds[var].values)), var
    # the two risk curves start together (same initial law) and stay close relative to R(0)
    start = ds["risk_pde"].isel(time=0)
    assert float(np.max(ds["risk_gap"].isel(time=0) / start)) < 0.03
    assert float(np.max(ds["risk_gap"].max("time") / start)) < 0.1
    path = wg.save(ds, tmp_path / f"{name}.nc")
    assert wg.open(path)["risk_sgd"].shape == ds["risk_sgd"].shape


def test_preset_settings_and_overrides():
    s = presets.settings("mmn-relu", quick=False)
    assert (s["d"], s["s0"], s["n_neurons"], s["parameters"]) == (320, 60, 800, "abw")
    assert s["step_size"] == 2 * s["mmn_step_size"]  # MMN's 2 s_k convention
    assert presets.settings("flagship", quick=True, n_neurons=50)["n_neurons"] == 50
    assert presets.settings("mmn-isotropic", quick=False)["delta"] == 0.8
    assert "mmn-nonmonotone" in presets.describe("mmn-nonmonotone")
    with pytest.raises(ValueError, match="preset"):
        presets.settings("mmn-sigmoid")
