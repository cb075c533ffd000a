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


@pytest.mark.parametrize("scheduler", ["synchronous", None])
def test_a_point_returning_a_dimension_named_like_a_parameter_fails_alone(scheduler, tmp_path):
    """With dask (the default scheduler) every archive rewrite used to fail ("Dimension N
    already exists"): no archive at all although every point ran."""
    if scheduler is None:
        pytest.importorskip("dask.distributed")
    from .sweep_functions import dimension_like_parameter

    out = tmp_path / "s.nc"
    ds = sweep(dimension_like_parameter, {"N": [1, 2, 3]}, scheduler, out, progress=False,
               n_workers=1)  # fmt: skip
    for result in (ds, wg.open(out)):
        assert result["sweep_status"].values.tolist() == ["ok", "failed", "ok"]
        assert result["x"].sel(N=3).item() == 3.0
    message = str(ds["sweep_error"].sel(N=2).values)
    assert "dimension(s) ['N'] named like swept parameters" in message


def test_a_result_that_cannot_join_the_others_fails_alone(tmp_path):
    from .sweep_functions import mixed_kinds

    out = tmp_path / "s.nc"
    ds = sweep(mixed_kinds, {"k": [0, 1, 2]}, "synchronous", out, progress=False)
    assert wg.open(out)["sweep_status"].values.tolist() == ["ok", "failed", "ok"]
    assert "cannot be archived" in str(ds["sweep_error"].sel(k=1).values)


@pytest.mark.parametrize("name", ["sweep_status", "sweep_error", "a/b", "", " a", "a\x00b", 3])
def test_parameter_names_are_checked_before_the_first_point(name, tmp_path):
    from .sweep_functions import always_fails

    with pytest.raises(ValueError, match="parameters: .*(reserved|netCDF|NUL|strings)"):
        sweep(always_fails, {name: [1], "seed": [0]}, "synchronous", tmp_path / "s.nc")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "scheduler", ["bogus://nowhere", "tcp://127.0.0.1:9", "nowhere", "tcp://host:99999", 3]
)
def test_bad_schedulers_are_refused_in_seconds(scheduler, tmp_path):
    import time

    from .sweep_functions import always_fails

    start = time.perf_counter()
    with pytest.raises((ValueError, TypeError), match="scheduler"):
        sweep(always_fails, {"a": [1]}, scheduler, tmp_path / "s.nc", progress=False)
    assert time.perf_counter() - start < 10
    assert list(tmp_path.iterdir()) == []


def test_a_running_scheduler_is_accepted(tmp_path):
    """The identity probe accepts a real scheduler (over TCP, as a remote one is reached)."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", dashboard_address=None) as cluster:  # fmt: skip
        ds = sweep(model_run, {"a": [1, 2], "seed": [0]}, cluster.scheduler_address,
                   tmp_path / "s.nc", progress=False)  # fmt: skip
    assert (ds["sweep_status"] == "ok").all()


def test_values_netcdf_cannot_hold_are_refused_before_the_first_point(tmp_path):
    from .sweep_functions import always_fails

    with pytest.raises(ValueError, match="64-bit"):
        sweep(always_fails, {"a": [2**70]}, "synchronous", tmp_path / "s.nc")
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_archive_is_named_as_the_output(tmp_path):
    from .sweep_functions import always_fails

    out = tmp_path / "s.nc"
    out.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match="output: .* cannot be read as a sweep archive"):
        sweep(always_fails, {"a": [1]}, "synchronous", out)
