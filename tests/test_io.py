import json

import netCDF4
import numpy as np
import pytest
import xarray as xr

import wgflow as wg
from wgflow.problems import OrnsteinUhlenbeck
from wgflow.solvers import FiniteVolume


@pytest.fixture(scope="module")
def result():
    prob = OrnsteinUhlenbeck(dim=2, diffusion=0.5, mean0=(1.0, 0.5), var0=0.3)
    grid = wg.Grid.box([(-5, 5), (-4, 4)], shape=(20, 16))
    return FiniteVolume(prob.energy, grid).run(
        prob.initial_density(grid), 0.2, 0.05, progress=False
    )


def test_round_trip_is_identical(result, tmp_path):
    path = wg.save(result, tmp_path / "ou.nc")
    back = wg.open(path)
    xr.testing.assert_identical(result, back)
    assert back["density"].dtype == np.float64


def test_archive_reads_with_plain_netcdf4(result, tmp_path):
    path = wg.save(result, tmp_path / "ou.nc")
    with netCDF4.Dataset(path) as nc:
        assert nc.Conventions == "CF-1.10"
        assert nc.dimensions["time"].isunlimited()
        density = nc["density"]
        assert density.dimensions == ("time", "x", "y")
        assert density.filters()["zlib"] and density.filters()["complevel"] == 4
        assert density.chunking() == [1, 20, 16]
        assert nc["x"].units == "1" and nc["x"].bounds == "x_bnds"
        np.testing.assert_array_equal(density[:], result["density"].values)
        params = json.loads(nc.parameters)
        assert params["solver"] == "FiniteVolume" and params["grid"]["shape"] == [20, 16]
        assert params["energy"]["problem"] == "OrnsteinUhlenbeck"


def test_float32_storage_halves_precision_not_meaning(result, tmp_path):
    path = wg.save(result, tmp_path / "ou32.nc", float32=True)
    with netCDF4.Dataset(path) as nc:
        assert nc["density"].dtype == np.float32 and nc["density"].storage_precision == "float32"
    back = wg.open(path)
    np.testing.assert_allclose(back["density"], result["density"], rtol=1e-7, atol=1e-30)


def test_interrupted_save_leaves_the_previous_archive_intact(result, tmp_path, monkeypatch):
    path = wg.save(result, tmp_path / "ou.nc")
    before = path.read_bytes()

    def broken(self, target, **kwargs):
        with open(target, "wb") as f:
            f.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(KeyboardInterrupt):
        wg.save(result, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ou.nc"]


@pytest.mark.parametrize(
    "bad", [True, None, {"a": 1}, [[1, 2]], ["a", "b"], "nul\x00byte", "\ud800"]
)
def test_attributes_netcdf_cannot_hold_are_refused(result, tmp_path, bad):
    ds = result.copy()
    ds.attrs["bad"] = bad
    with pytest.raises(ValueError, match="'bad'"):
        wg.save(ds, tmp_path / "x.nc")
    assert not list(tmp_path.iterdir())


def test_bad_paths(result, tmp_path):
    with pytest.raises(ValueError, match="path"):
        wg.save(result, tmp_path / "missing" / "x.nc")
    with pytest.raises(FileNotFoundError):
        wg.open(tmp_path / "none.nc")
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    with pytest.raises(ValueError, match="netCDF"):
        wg.open(junk)
    with pytest.raises(TypeError, match="ds"):
        wg.save({"a": 1}, tmp_path / "x.nc")


def test_provenance_records_versions(result):
    versions = json.loads(result.attrs["versions"])
    assert versions["wgflow"] == wg.__version__ and "numba" in versions
    assert json.loads(result.attrs["numba_environment"])["threads"] >= 1


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_grid_archives_pass_a_cf_check(dim, tmp_path):
    cf_xarray = pytest.importorskip("cf_xarray")
    del cf_xarray
    prob = OrnsteinUhlenbeck(dim=dim, diffusion=0.5, mean0=(0.5, 0.0, 0.0)[:dim], var0=0.3)
    grid = wg.Grid.box([(-4, 4)] * dim, 8)
    ds = FiniteVolume(prob.energy, grid).run(prob.initial_density(grid), 0.05, progress=False)
    path = wg.save(ds, tmp_path / "cf.nc")
    back = wg.open(path)
    axes = back.cf.axes
    assert axes["T"] == ["time"]
    for name, letter in zip(grid.axes, "XYZ", strict=False):
        assert axes[letter] == [name]
    assert "standard_name" not in back["time"].attrs  # dimensionless time is no CF time
    assert back.cf.bounds[grid.axes[0]] == [f"{grid.axes[0]}_bnds"]
    with netCDF4.Dataset(path) as nc:
        for name in grid.axes:
            assert "_FillValue" not in nc.variables[f"{name}_bnds"].ncattrs()
        assert "_FillValue" in nc.variables["density"].ncattrs()


def test_sweep_archives_carry_provenance(tmp_path):
    from wgflow.sweep import sweep

    from .sweep_functions import model_run

    ds = sweep(model_run, {"a": [1], "seed": [0]}, scheduler="synchronous", progress=False)
    for key in ("Conventions", "history", "wgflow_version", "created", "versions"):
        assert key in ds.attrs, key
    assert ds.attrs["sweep_function"] == "tests.sweep_functions:model_run"
    assert json.loads(ds.attrs["parameters"])["function"] == "tests.sweep_functions:model_run"
