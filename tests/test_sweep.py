import numpy as np
import pytest

import wgflow as wg
from wgflow.sweep import sweep

from .sweep_functions import always_fails, model_run

PARAMS = {"a": [1, 2, 3], "seed": [0, 1]}


def check_result(ds):
    assert set(ds["risk"].dims) == {"a", "seed", "time"}
    np.testing.assert_allclose(ds["final"].sel(a=2, seed=1), 21.0)
    assert ds["sweep_status"].sel(a=3, seed=1) == "failed"
    assert "bad point" in str(ds["sweep_error"].sel(a=3, seed=1).values)
    assert np.isnan(ds["final"].sel(a=3, seed=1))
    assert (ds["sweep_status"] == "ok").sum() == 5


def test_synchronous_sweep_records_failures_and_resumes(tmp_path):
    out = tmp_path / "sweep.nc"
    ds = sweep(model_run, PARAMS, scheduler="synchronous", output=out, progress=False)
    check_result(ds)
    check_result(wg.open(out))
    # rerun: finished points are skipped (always_fails would raise for them), the failed
    # point is retried and fails again with the new message
    again = sweep(always_fails, PARAMS, scheduler="synchronous", output=out, progress=False)
    assert (again["sweep_status"] == "ok").sum() == 5
    assert "must not be called" in str(again["sweep_error"].sel(a=3, seed=1).values)
    np.testing.assert_allclose(again["final"].sel(a=1, seed=0), 10.0)


def test_sweep_on_a_local_dask_cluster(tmp_path):
    pytest.importorskip("dask.distributed")
    ds = sweep(model_run, PARAMS, output=tmp_path / "s.nc", progress=False, n_workers=2)
    check_result(ds)
    # distinct seeds stay distinct results (pure=False: no merging of replicates)
    assert not np.allclose(ds["risk"].sel(a=1, seed=0), ds["risk"].sel(a=1, seed=1))


def test_a_dask_sweep_rewrites_its_archive_while_it_runs(tmp_path):
    """One worker, points in order: each finds the earlier ones already archived (the
    background saver writes while the client is running; it used to fail with "no Client
    active", so nothing was archived before the sweep ended)."""
    pytest.importorskip("dask.distributed")
    import functools

    from .sweep_functions import sees_earlier_points

    out = tmp_path / "live.nc"
    fn = functools.partial(sees_earlier_points, path=str(out))
    ds = sweep(fn, {"order": [0, 1, 2]}, output=out, progress=False, n_workers=1)
    assert ds["saw"].values.tolist() == [1.0, 1.0, 1.0]


def test_bad_sweep_input(tmp_path):
    with pytest.raises(ValueError, match="parameters"):
        sweep(model_run, {}, scheduler="synchronous")
    with pytest.raises(ValueError, match="distinct"):
        sweep(model_run, {"a": [1, 1], "seed": [0]}, scheduler="synchronous")
    with pytest.raises(TypeError, match="fn"):
        sweep(3, PARAMS, scheduler="synchronous")
    plain = tmp_path / "plain.nc"
    import xarray as xr

    wg.save(xr.Dataset({"x": ("t", [1.0])}), plain)
    with pytest.raises(ValueError, match="not a sweep"):
        sweep(model_run, PARAMS, scheduler="synchronous", output=plain)
