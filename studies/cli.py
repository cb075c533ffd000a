"""The ``wgflow`` command line: ``run``, ``presets``, ``plot``, ``sweep``, ``info``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from wgflow import io
from wgflow.errors import RunStopped
from wgflow.outputs import OutputLock, check_distinct, check_output

from .jobs import JOBS


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        self.exit(2, f"wgflow: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``wgflow`` argument parser (errors exit with code 2 and one line).

    Returns
    -------
    argparse.ArgumentParser
        The parser with its subcommands.
    """
    parser = _Parser(
        prog="wgflow",
        description="Wasserstein gradient flows: finite volumes, JKO steps and particles.",
    )
    parser.add_argument("--version", action="version", version=f"wgflow {_version()}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log messages (-vv: debug)"
    )
    parser.add_argument(
        "-q", "--log-quiet", dest="log_quiet", action="store_true", help="errors only in the log"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run a preset (default: the flagship SGD-vs-PDE experiment) and archive it",
        description=(
            "Run a preset, print a summary, write a netCDF archive and a PNG figure. "
            "'wgflow presets' lists them."
        ),
    )
    run.add_argument("job", nargs="?", default=None, help="preset name (default: flagship)")
    run.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting of the preset (repeatable), e.g. --set n_neurons=400",
    )
    run.add_argument("--cells", type=int, default=None, help="cells per axis")
    run.add_argument("--t-final", type=float, default=None, help="final time")
    run.add_argument("--output", default="wgflow-run.nc", help="archive path (wgflow-run.nc)")
    run.add_argument("--figure", default="wgflow-run.png", help="figure path (wgflow-run.png)")
    run.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    run.add_argument(
        "--from",
        dest="source",
        metavar="FILE.nc",
        default=None,
        help="rerun the job archived in FILE.nc with its recorded parameters",
    )
    sub.add_parser(
        "presets",
        help="list the presets with one-line descriptions and sources",
        description="List the presets of 'wgflow run'.",
    )
    plot = sub.add_parser(
        "plot",
        help="redraw the figure of an archive written by 'wgflow run'",
        description="Redraw the figure of a netCDF archive.",
    )
    plot.add_argument("archive", metavar="FILE.nc")
    plot.add_argument("--figure", default=None, help="PNG path (default: FILE.png)")
    plot.add_argument(
        "--animation", default=None, metavar="PATH", help="also write an animation (.gif/.mp4)"
    )
    sw = sub.add_parser(
        "sweep",
        help="run a parameter sweep described by a TOML file (dask; resumable)",
        description=(
            "Run a parameter sweep. CONFIG.toml holds function = 'module:function', "
            "output = 'sweep.nc' and a [parameters] table of name = [values]. "
            "Rerunning with the same output skips finished points."
        ),
    )
    sw.add_argument("config", metavar="CONFIG.toml")
    sw.add_argument(
        "--scheduler",
        default=None,
        help="dask scheduler address (default: a local cluster; 'synchronous': none)",
    )
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    from .catalog import STUDIES

    st = sub.add_parser(
        "study",
        help="run a sweep study (resumable archives; prints the fitted rates)",
        description="Run a sweep study: " + "; ".join(
            f"{s.name}: {s.description}" for s in STUDIES.values()
        ),
    )
    st.add_argument("name", choices=list(STUDIES), metavar="NAME",
                    help=f"one of {', '.join(STUDIES)}")  # fmt: skip
    st.add_argument("--output", default=None, help="archive prefix (rerunning resumes)")
    st.add_argument("--scheduler", default=None, help="dask address or 'synchronous'")
    st.add_argument("--quick", action="store_true", help="the reduced setting run by tests")
    st.add_argument("--problem", default=None, choices=["anisotropic", "teacher-student"],
                    help="sgd-vs-pde only: the problem (default anisotropic)")  # fmt: skip
    sub.add_parser(
        "info",
        help="print versions of wgflow and its dependencies, and the numba environment",
        description="Print versions of wgflow and its dependencies, and the numba environment.",
    )
    return parser


def _version() -> str:
    from wgflow import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    """Run the ``wgflow`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code.
    """
    import warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    previous = warnings.formatwarning
    warnings.formatwarning = _format_warning  # one line each, for this command only
    try:
        return _dispatch(parser, args)
    except KeyboardInterrupt:  # before a run started or after it ended: nothing to save
        print("wgflow: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = previous


def _dispatch(parser, args) -> int:
    _configure_logging(args.verbose, args.log_quiet)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "info":
        return _info()
    if args.command == "sweep":
        return _sweep(parser, args)
    if args.command == "presets":
        return _presets()
    if args.command == "plot":
        return _plot(parser, args)
    if args.command == "study":
        return _study(parser, args)
    return _run(parser, args)


def _study(parser, args) -> int:
    from .catalog import STUDIES

    study = STUDIES[args.name]
    choices = {}
    if args.problem is not None:
        if "problem" not in study.choices:
            parser.error(f"--problem: study {args.name!r} has no problem to choose")
        choices["problem"] = args.problem
    if args.output is not None:
        _writable(parser, "--output", args.output + ".nc", (".nc",))
    try:
        return study.run(output=args.output, scheduler=args.scheduler, quick=args.quick, **choices)
    except KeyboardInterrupt:
        print("wgflow: interrupted; finished points are in the archives", file=sys.stderr)
        return 130


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings on the command line: one line, no source location."""
    return f"wgflow: warning: {message}\n"


def _configure_logging(verbose: int, quiet: bool) -> None:
    """Log to stderr: warnings by default, info with -v, debug with -vv, errors with -q."""
    import logging

    level = logging.ERROR if quiet else max(logging.DEBUG, logging.WARNING - 10 * verbose)
    logger = logging.getLogger("wgflow")
    logger.setLevel(level)
    if not any(getattr(h, "_wgflow_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("wgflow: %(levelname)s: %(message)s"))
        handler._wgflow_cli = True
        logger.addHandler(handler)


def _presets() -> int:
    from . import presets

    for name in presets.PRESETS:
        print(presets.describe(name))
    for name, job in JOBS.items():
        print(f"{name}: {job.description}")
    return 0


def _plot(parser, args) -> int:
    try:
        ds = io.open(args.archive)
    except (FileNotFoundError, ValueError, OSError) as exc:
        parser.error(f"archive: {exc}")
    archive = Path(args.archive)
    if ds.sizes.get("time", 1) == 0:
        parser.error(f"archive: {str(archive)!r} holds no snapshot (its time axis is empty)")
    default = archive.with_suffix(".png")
    if args.figure is None and _same_path(default, archive):
        parser.error(
            f"--figure: the default figure {str(default)!r} is the archive itself; "
            "give --figure another path"
        )
    figure = _writable(parser, "--figure", args.figure or str(default), _figure_suffixes())
    movie = None
    if args.animation is not None:
        movie = _writable(parser, "--animation", args.animation, ANIMATION_SUFFIXES)
    # the archive comes first: a figure never overwrites it (same name, a link, a hard link)
    _distinct(parser, archive=archive, figure=figure, animation=movie)
    try:
        _draw(ds, figure)
        if movie is not None:
            from wgflow.plotting import animate

            animate(ds, movie)
    except (ValueError, KeyError, IndexError, TypeError) as exc:  # not what a figure needs
        reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        parser.error(f"archive: cannot draw {str(archive)!r} ({str(reason).splitlines()[0]})")
    print(f"figure {figure}" + ("" if movie is None else f"; animation {movie}"))
    return 0


def _parse_pairs(parser, owner: str, pairs: list[str], known: dict) -> dict:
    """``key=value`` strings checked against ``known`` names and the types of their defaults."""
    out = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in known:
            parser.error(
                f"--set: unknown key {key!r} for {owner}; known: {', '.join(sorted(known))}"
            )
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        default = known[key]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif isinstance(default, str):
            ok = isinstance(value, str)
        elif isinstance(default, tuple | list):  # a list, one value, a comma list or none
            ok = value is None or isinstance(value, list | int | float | str)
            value = tuple(value) if isinstance(value, list) else value
        else:
            ok = isinstance(value, int | float | str | bool)
        if not ok:
            parser.error(f"--set: {key} needs a value like {default!r}, got {text!r}")
        out[key] = value
    return out


def _sweep(parser, args) -> int:
    import tomllib

    from wgflow.sweep import sweep

    try:
        with open(args.config, "rb") as f:
            config = tomllib.load(f)
    except FileNotFoundError:
        parser.error(f"config: no such file {args.config!r}")
    except IsADirectoryError:
        parser.error(f"config: {args.config!r} is a folder; need a TOML file")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        parser.error(f"config: not valid TOML ({str(exc).splitlines()[0]})")
    except OSError as exc:
        parser.error(f"config: cannot read {args.config!r} ({exc.strerror})")
    for key in ("function", "output", "parameters"):
        if key not in config:
            parser.error(f"config: missing key {key!r} (need function, output, [parameters])")
    target = str(config["function"])
    try:
        fn = _import_function(target, Path(args.config).resolve().parent)
    except (ImportError, AttributeError, ValueError, TypeError, OSError, SyntaxError) as exc:
        parser.error(f"config: cannot import function {target!r} ({exc})")
    if not isinstance(config["output"], str):
        parser.error(f"config: output must be a file path string, got {config['output']!r}")
    output = _writable(parser, "output", config["output"], ARCHIVE_SUFFIXES)
    if not isinstance(config["parameters"], dict):
        parser.error("config: [parameters] must be a table of name = [values]")
    try:
        ds = sweep(
            fn,
            config["parameters"],
            scheduler=args.scheduler,
            output=output,
            progress=not args.quiet,
        )
    except (ValueError, TypeError) as exc:
        parser.error(str(exc).splitlines()[0])
    except OSError as exc:  # e.g. the disk filled up while rewriting the archive
        print(f"wgflow: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # each finished point is archived as it ends
        print(
            f"wgflow: interrupted; the points finished so far are in {output} (rerun the same "
            "command to go on with the others)",
            file=sys.stderr,
        )
        return 130
    status = ds["sweep_status"].values.ravel()
    failed = int((status == "failed").sum())
    print(f"{int((status == 'ok').sum())} points done, {failed} failed; archive {output}")
    return 1 if failed else 0


def _import_function(target: str, config_folder: Path):
    """``module:function`` (importable, or a module in the current folder) or
    ``path/to/file.py:function`` (relative to the current folder, else the config's folder)."""
    import importlib
    import importlib.util

    location, sep, name = target.rpartition(":")
    if not sep or not location or not name:
        raise ValueError("need 'module:function' or 'file.py:function'")
    if location.endswith(".py"):
        path = Path(location)
        if not path.is_absolute() and not path.exists():
            path = config_folder / path
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None or not path.is_file():
            raise ImportError(f"no such file {str(path)!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dask pickles functions by module name
        spec.loader.exec_module(module)
    else:
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # like `python -m`: the current folder first
        module = importlib.import_module(location)
    _pickle_by_value_if_local(module)
    fn = getattr(module, name)
    if not callable(fn):
        raise TypeError(f"{name!r} is not callable")
    return fn


def _pickle_by_value_if_local(module) -> None:
    """Dask workers cannot import a module loaded from a file or the current folder: ship its
    functions by value (cloudpickle) instead of by name."""
    path = Path(getattr(module, "__file__", "") or "")
    here = Path.cwd()
    site = any(part in ("site-packages", "dist-packages") for part in path.parts)
    if path.is_file() and not site and (path.is_relative_to(here) or module.__name__ == path.stem):
        try:
            import cloudpickle
        except ImportError:  # no dask installed: the synchronous scheduler needs nothing
            return
        cloudpickle.register_pickle_by_value(module)


def _info() -> int:
    for name, version in io.versions().items():
        print(f"{name:>12}  {version}")
    from wgflow.compilation import numba_cache_dir

    env = io.numba_environment()
    print(
        f"{'threads':>12}  {env['threads']} numba threads (from the {env['usable_cpus']} CPUs "
        f"this process may use); grids of ≥ {env['parallel_min_items']} cells run on them, "
        "smaller ones serially; sweep workers: 1 thread each"
    )
    print(f"{'threading':>12}  {env['layer']}")
    print(f"{'cpu':>12}  {env['cpu']} ({env['cpu_features']})")
    print(f"{'numba cache':>12}  {numba_cache_dir()}")
    return 0


ARCHIVE_SUFFIXES = (".nc",)
ANIMATION_SUFFIXES = (".gif", ".mp4")


def _figure_suffixes() -> tuple[str, ...]:
    from matplotlib.figure import Figure

    return tuple(f".{ext}" for ext in Figure().canvas.get_supported_filetypes())


def _writable(parser, option: str, path: str, suffixes: tuple[str, ...] | None = None) -> Path:
    """Check an output path before any work: a known suffix, not a folder, a writable folder
    (probed by creating a file there)."""
    try:
        return check_output(path, option, suffixes)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))


def _same_path(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _distinct(parser, **paths: Path) -> None:
    try:
        check_distinct(**{f"--{option}": path for option, path in paths.items()})
    except ValueError as exc:
        parser.error(str(exc))


def _archived_job(parser, source: str) -> tuple[str, dict]:
    """The job name and parameters an archive written by ``wgflow run`` records, checked."""
    from .experiments import EXPERIMENTS

    try:
        archive = io.open(source)
    except (FileNotFoundError, ValueError, OSError) as exc:
        parser.error(f"--from: {exc}")
    if "job" not in archive.attrs or "job_parameters" not in archive.attrs:
        parser.error(f"--from: {source!r} was not written by 'wgflow run' (no job attributes)")
    name, text = archive.attrs["job"], archive.attrs["job_parameters"]
    if not isinstance(name, str) or name not in EXPERIMENTS:
        parser.error(f"--from: {source!r} records an unknown job {name!r}")
    try:
        options = json.loads(text) if isinstance(text, str) else None
    except ValueError as exc:
        parser.error(f"--from: {source!r} has damaged job_parameters (not JSON: {exc})")
    if not isinstance(options, dict):
        parser.error(
            f"--from: {source!r} job_parameters must be a JSON object of settings, got "
            f"{type(options).__name__}"
        )
    known = _known_settings(name)
    unknown = sorted(set(options) - set(known))
    if unknown:
        parser.error(
            f"--from: {source!r} job_parameters hold setting(s) {unknown} unknown to {name!r}; "
            f"known: {', '.join(sorted(known))}"
        )
    return name, options


def _known_settings(name: str) -> dict:
    """Every setting job or preset ``name`` accepts, with its default."""
    from .experiments import experiment

    return experiment(name).known()


def _run(parser, args) -> int:
    from . import presets
    from .experiments import EXPERIMENTS, experiment

    options = {}
    if args.source is not None:
        archived, options = _archived_job(parser, args.source)
        if args.job is not None and args.job != archived:
            parser.error(
                f"--from: {args.source!r} holds a run of {archived!r}, not {args.job!r}; "
                "give the preset or --from, not both"
            )
        args.job = archived
    name = presets.DEFAULT_PRESET if args.job is None else args.job  # "" is not the default
    if name not in EXPERIMENTS:
        parser.error(f"unknown preset {name!r}; choose from {', '.join(EXPERIMENTS)}")
    if args.cells is not None and args.cells < 2:
        parser.error(f"--cells: need an integer ≥ 2, got {args.cells}")
    if args.t_final is not None and not 0 < args.t_final < float("inf"):
        parser.error(f"--t-final: need a positive finite time, got {args.t_final}")
    output = _writable(parser, "--output", args.output, ARCHIVE_SUFFIXES)
    figure = _writable(parser, "--figure", args.figure, _figure_suffixes())
    _distinct(parser, output=output, figure=figure)
    partial, partial_figure = _partial_path(output), _partial_path(figure)
    for option, path in (("--output", partial), ("--figure", partial_figure)):
        if path.is_dir():  # where a partial result would go (checked like the output)
            parser.error(f"{option}: {str(path)!r}, where a partial result goes, is a folder")
    exp = experiment(name)
    kind = "job" if name in JOBS else "preset"
    options.update(_parse_pairs(parser, f"{kind} {name!r}", args.settings, exp.known()))
    if args.cells is not None:
        options["cells"] = args.cells
    if args.t_final is not None:
        options["t_final"] = args.t_final
        if kind == "preset":
            options["save_every"] = args.t_final / 20
    if kind == "job" and "t_final" in options and "save_every" not in options:
        options["save_every"] = options["t_final"] / 10
    try:  # every setting resolved and checked once, before any work
        settings = exp.resolve(**options)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc).splitlines()[0])

    def runner(progress):
        return exp.run(settings, progress=progress)

    start = time.perf_counter()
    status = 0
    try:
        lock = OutputLock(output, "--output")
        lock.acquire()
    except ValueError as exc:
        parser.error(str(exc))
    try:
        try:
            ds = runner(progress=not args.quiet)
        except KeyboardInterrupt as exc:
            ds = getattr(exc, "dataset", None)
            print("wgflow: interrupted; saving what was computed", file=sys.stderr)
            status = 130
        except (RunStopped, RuntimeError) as exc:
            ds = getattr(exc, "dataset", None)
            print(f"wgflow: error: {str(exc).splitlines()[0]}", file=sys.stderr)
            status = 1
        except (ValueError, TypeError) as exc:
            parser.error(str(exc).splitlines()[0])
        wall = time.perf_counter() - start
        if ds is None:
            print(f"wgflow: nothing was computed; {_kept(output)}", file=sys.stderr)
            return status or 1
        # a partial result never replaces a complete archive: it goes beside it
        target = output if status == 0 else partial
        try:
            io.save(ds, target)
        except KeyboardInterrupt:  # Ctrl-C during the write: io.save finished it first
            print(f"wgflow: interrupted; {str(target)!r} was written", file=sys.stderr)
            return 130
        except (OSError, ValueError) as exc:
            print(f"wgflow: error: cannot write {str(target)!r}: {exc}", file=sys.stderr)
            return status or 1
    finally:
        lock.release()
    if status != 0:
        print(
            f"wgflow: partial result (to t = {_last_time(ds)}) saved to {partial}; "
            f"{_kept(output)}",
            file=sys.stderr,
        )
        try:
            _draw(ds, partial_figure)
        except (ValueError, KeyError, IndexError) as exc:
            print(f"wgflow: no figure of the partial result ({exc})", file=sys.stderr)
        else:
            print(f"wgflow: its figure {partial_figure}", file=sys.stderr)
        return status
    bad = _non_finite_summary(ds)
    if bad:
        print(
            f"wgflow: error: the summary would contain non-finite values ({', '.join(bad)}); "
            f"archive {output} kept for inspection",
            file=sys.stderr,
        )
        return status or 1
    if not args.quiet:
        _print_summary(ds)
    _draw(ds, figure)
    print(f"wall time {wall:.1f} s; archive {output}; figure {figure}")
    return status


def _partial_path(path: Path) -> Path:
    """Where a partial result of ``path`` goes: ``<stem>.partial<suffix>`` beside it."""
    return path.with_name(f"{path.stem}.partial{path.suffix}")


def _kept(output: Path) -> str:
    """What became of ``--output`` after a run that did not finish."""
    if output.exists():
        return f"the archive {output} was left as it was"
    return f"no archive was written to {output}"


def _last_time(ds) -> str:
    try:
        return f"{float(ds['time'].values[-1]):.6g}"
    except (KeyError, IndexError, TypeError, ValueError):
        return "?"


def _summary_variables(ds) -> list[str]:
    """The variables the summary prints (names from :mod:`wgflow.schema`)."""
    from wgflow import schema

    names = [schema.RISK_SGD, schema.RISK_SGD_STDERR, "mass", "free_energy"]
    for variant in schema.PDE_VARIANTS:
        names += [schema.risk_pde(variant), schema.risk_gap(variant), schema.w2(variant)]
    for name in schema.COLLECTIVE:
        names += [schema.collective(name, "sgd"), schema.collective(name, "pde")]
    for axis in _reduced_axes(ds):
        for source, variant in [("sgd", "plain")] + [("pde", v) for v in schema.PDE_VARIANTS]:
            names += [schema.mean(axis, source, variant), schema.std(axis, source, variant)]
    return [name for name in names if name in ds]


def _reduced_axes(ds) -> list[str]:
    """The reduced coordinates SGD's neurons are archived in (``particle_<axis>``)."""
    return [n[len("particle_") :] for n in ds.data_vars if n.startswith("particle_")]


def _run_parameters(ds) -> dict:
    """The comparison's settings (the ``parameters`` attribute), ``{}`` when absent."""
    try:
        parameters = json.loads(ds.attrs.get("parameters", "{}"))
    except (TypeError, ValueError):
        return {}
    return parameters if isinstance(parameters, dict) else {}


def _method_lines(ds) -> list[str]:
    """What the curves are: SGD's risk estimator (and its error) and the PDE's Mehler order."""
    from wgflow import schema

    parameters = _run_parameters(ds)
    lines = []
    exact = parameters.get("exact_risk")
    if exact is True:
        lines.append("SGD risk: exact R_N of the network's neurons (closed form)")
    elif exact is False:
        size = ds.attrs.get("test_size")
        text = "SGD risk: held-out Monte-Carlo estimate" + (f" on {size} samples" if size else "")
        if schema.RISK_SGD_STDERR in ds:
            error = float(ds[schema.RISK_SGD_STDERR].max())
            text += f", standard error ≤ {error:.5f}"
        else:
            text += " (standard error not archived)"
        if schema.variants_in(ds):
            text += "; the risk gap includes its error"
        lines.append(text)
    order = parameters.get("mehler_order")
    if order is not None and schema.variants_in(ds):
        what = "the d → ∞ limit" if order == 0 else (
            "the d → ∞ limit plus the finite-d overlap terms up to that order"
        )
        lines.append(f"reduced dynamics: Mehler order {order} ({what})")
    return lines


def _non_finite_summary(ds) -> list[str]:
    """Summary variables holding NaN/inf (a result must not print them)."""
    import numpy as np

    return [
        name
        for name in _summary_variables(ds)
        if ds[name].dtype.kind == "f" and not np.all(np.isfinite(ds[name].values))
    ]


def _print_summary(ds) -> None:
    from wgflow import schema

    if schema.RISK_SGD not in ds:
        return _print_table(ds)
    last = ds.isel(time=-1)
    sgd = schema.RISK_SGD
    for line in _method_lines(ds):
        print(line)
    if "kappa" in ds.dims:
        for k in ds["kappa"].values:
            row = last.sel(kappa=k)
            gap = float(ds[schema.risk_gap()].sel(kappa=k).max())
            print(
                f"κ = {k:g}: final risk SGD {float(row[sgd]):.5f}, PDE "
                f"{float(row[schema.risk_pde()]):.5f}; sup risk gap {gap:.5f}"
            )
        return None
    variants = schema.variants_in(ds)
    if not variants:
        print(f"final risk SGD {float(last[sgd]):.5f} (run stopped before the PDE)")
        return None
    finals = "".join(
        f"   PDE{'' if v == 'plain' else ' ' + v} {float(last[schema.risk_pde(v)]):.5f}"
        for v in variants
    )
    print(f"final risk   SGD {float(last[sgd]):.5f}{finals}")
    for variant in variants:
        which = "" if variant == "plain" else f" ({schema.PDE_VARIANTS[variant][1]})"
        print(
            f"sup_t |R_SGD − R_PDE| = {float(ds[schema.risk_gap(variant)].max()):.5f}; "
            f"sup_t W2 (reduced coordinates) = {float(ds[schema.w2(variant)].max()):.5f}{which}"
        )
    for axis in _reduced_axes(ds):  # every statistic: final mean (± std) of each coordinate
        sources = [("SGD", "sgd", "plain")] + [
            (f"PDE {v}" if v != "plain" else "PDE", "pde", v) for v in variants
        ]
        shown, spreads = [], False
        for who, source, variant in sources:
            mean, std = schema.mean(axis, source, variant), schema.std(axis, source, variant)
            if mean in ds:
                spreads = spreads or std in ds
                spread = f" ± {float(last[std]):.4f}" if std in ds else ""
                shown.append(f"{who} {float(last[mean]):.4f}{spread}")
        if shown:
            print(f"final mean{' ± std' if spreads else ''} {axis}: {', '.join(shown)}")
    for name in schema.COLLECTIVE:  # the network's mean weights: measured and predicted
        shown = [f"{who} {float(last[key]):.5f}" for who, key in
                 (("SGD", schema.collective(name, "sgd")),
                  ("PDE collective", schema.collective(name, "pde"))) if key in ds]  # fmt: skip
        if shown:
            print(f"final {name}: {', '.join(shown)}")
    if "correction_c" in ds.attrs:
        print(f"finite-step-size corrections: c = εd = {ds.attrs['correction_c']:g}")
    if schema.PDE_TIME in ds.dims:
        end = float(ds[schema.PDE_TIME][-1])
        print(f"PDE alone to t = {end:g}: risk {ds.attrs['pde_final_risk']:.5f}")
    if ds.attrs.get("pde_stationary") == "yes":
        print(
            f"PDE risk stationary from t = {ds.attrs['pde_stationary_time']:g} "
            f"(R = {ds.attrs['pde_stationary_risk']:.5f})"
        )
    return None


def _print_table(ds) -> None:
    cols = [c for c in ("mass", "free_energy", "l1_error", "l1_error_fv") if c in ds]
    print(f"{'time':>8}" + "".join(f"{c:>16}" for c in cols))
    for i, t in enumerate(ds["time"].values):
        print(f"{t:8.3f}" + "".join(f"{float(ds[c][i]):16.8g}" for c in cols))


def _draw(ds, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .figures import summary_figure

    fig = summary_figure(ds)
    try:  # atomically: an interrupted or failed draw leaves the previous figure intact
        _save_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110, format=_format(path)))
    finally:
        plt.close(fig)


def _format(path: Path) -> str:
    return Path(path).suffix.lstrip(".").lower() or "png"


def _save_atomic(path: Path, write) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, then rename it over ``path``."""
    import tempfile

    from wgflow.outputs import temporary_prefix

    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp made it private; a figure is not
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
