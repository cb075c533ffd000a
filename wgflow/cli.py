"""The ``wgflow`` command line: ``run``, ``info``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import io
from .jobs import DEFAULT_JOB, JOBS


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        self.exit(2, f"wgflow: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wgflow",
        description="Wasserstein gradient flows: finite volumes, JKO steps and particles.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run a job (default: the 2-D Ornstein–Uhlenbeck demo) and archive it",
        description=(
            "Run a job, print a summary table, write a netCDF archive and a PNG figure. "
            "Jobs: " + "; ".join(f"{k}: {v.description}" for k, v in JOBS.items())
        ),
    )
    run.add_argument(
        "job", nargs="?", default=DEFAULT_JOB, help=f"job name (default {DEFAULT_JOB})"
    )
    run.add_argument("--cells", type=int, default=None, help="cells per axis (default 128)")
    run.add_argument("--t-final", type=float, default=None, help="final time (default 1.0)")
    run.add_argument("--output", default="wgflow-run.nc", help="archive path (wgflow-run.nc)")
    run.add_argument("--figure", default="wgflow-run.png", help="figure path (wgflow-run.png)")
    run.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    run.add_argument(
        "--from",
        dest="source",
        metavar="FILE.nc",
        default=None,
        help="rerun the job archived in FILE.nc with its recorded parameters",
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
    sub.add_parser(
        "info",
        help="print versions of wgflow and its dependencies, and the numba environment",
        description="Print versions of wgflow and its dependencies, and the numba environment.",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "info":
        return _info()
    if args.command == "sweep":
        return _sweep(parser, args)
    return _run(parser, args)


def _sweep(parser, args) -> int:
    import importlib
    import tomllib

    from .sweep import sweep

    try:
        with open(args.config, "rb") as f:
            config = tomllib.load(f)
    except FileNotFoundError:
        parser.error(f"config: no such file {args.config!r}")
    except tomllib.TOMLDecodeError as exc:
        parser.error(f"config: not valid TOML ({exc})")
    for key in ("function", "output", "parameters"):
        if key not in config:
            parser.error(f"config: missing key {key!r} (need function, output, [parameters])")
    target = str(config["function"])
    module_name, _, name = target.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        parser.error(f"config: cannot import function {target!r} ({exc})")
    output = _writable(parser, "output", str(config["output"]))
    try:
        ds = sweep(
            fn,
            config["parameters"],
            scheduler=args.scheduler,
            output=output,
            progress=not args.quiet,
        )
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    status = ds["sweep_status"].values.ravel()
    failed = int((status == "failed").sum())
    print(f"{int((status == 'ok').sum())} points done, {failed} failed; archive {output}")
    return 1 if failed else 0


def _info() -> int:
    for name, version in io.versions().items():
        print(f"{name:>12}  {version}")
    env = io.numba_environment()
    print(f"{'numba env':>12}  threads={env['threads']} layer={env['layer']}")
    return 0


def _writable(parser, option: str, path: str) -> Path:
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        parser.error(f"{option}: cannot write to folder {str(folder)!r}")
    return p


def _archived_job(parser, source: str) -> tuple[str, dict]:
    try:
        archive = io.open(source)
    except (FileNotFoundError, ValueError) as exc:
        parser.error(f"--from: {exc}")
    if "job" not in archive.attrs or "job_parameters" not in archive.attrs:
        parser.error(f"--from: {source!r} was not written by 'wgflow run' (no job attributes)")
    return str(archive.attrs["job"]), json.loads(archive.attrs["job_parameters"])


def _run(parser, args) -> int:
    options = {}
    if args.source is not None:
        args.job, options = _archived_job(parser, args.source)
    if args.job not in JOBS:
        parser.error(f"unknown job {args.job!r}; choose from {', '.join(JOBS)}")
    output = _writable(parser, "--output", args.output)
    figure = _writable(parser, "--figure", args.figure)
    if args.cells is not None:
        options["cells"] = args.cells
    if args.t_final is not None:
        options["t_final"] = args.t_final
        options["save_every"] = args.t_final / 10
    try:
        job = JOBS[args.job](**options)
    except ValueError as exc:
        parser.error(str(exc))
    start = time.perf_counter()
    status = 0
    try:
        ds = job.run(progress=not args.quiet)
    except KeyboardInterrupt as exc:
        ds = getattr(exc, "dataset", None)
        print("wgflow: interrupted; saving what was computed", file=sys.stderr)
        status = 130
    except RuntimeError as exc:
        ds = getattr(exc, "dataset", None)
        print(f"wgflow: error: {exc}", file=sys.stderr)
        status = 1
    wall = time.perf_counter() - start
    if ds is None:
        return status or 1
    io.save(ds, output)
    if not args.quiet:
        _print_table(ds)
    _draw(ds, figure)
    print(f"wall time {wall:.1f} s; archive {output}; figure {figure}")
    return status


def _print_table(ds) -> None:
    cols = [c for c in ("mass", "free_energy", "l1_error") if c in ds]
    print(f"{'time':>8}" + "".join(f"{c:>16}" for c in cols))
    for i, t in enumerate(ds["time"].values):
        print(f"{t:8.3f}" + "".join(f"{float(ds[c][i]):16.8g}" for c in cols))


def _draw(ds, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import density_overview

    fig = density_overview(ds, series=("l1_error",) if "l1_error" in ds else ("free_energy",))
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
