"""The ``sbi-neuro`` command line: arguments in, the library's verbs called, results printed.

Only argument parsing happens at import; each command imports what it runs, so ``sbi-neuro --help``
and ``sbi-neuro usecases`` start without torch, sbi or Brian2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from sbi_neuro.cli.runs_command import add_runs_parser
from sbi_neuro.execution.executors import DEFAULT_SIM_TIMEOUT_S, EXECUTORS, ExecutorConfig
from sbi_neuro.inference.settings import NPESettings
from sbi_neuro.methods.config import RunConfig
from sbi_neuro.registry import method_names
from simulators.errors import DataError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (DataError, ValueError, RuntimeError) as err:
        print(f"sbi-neuro: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sbi-neuro",
        description="Simulation-based inference and metaheuristic fitting of neuron models.",
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("usecases", help="list the use cases")
    p.add_argument("--data-dir", help="benchmark data directory (default: $SBI_NEURO_DATA or ../shared/data)")
    p.set_defaults(func=_cmd_usecases)

    p = sub.add_parser("infer", help="Bayesian inference (NPE) and best fit on a use case")
    _common(p)
    p.add_argument("--simulations", type=int, default=5000, help="total simulation budget (default 5000)")
    p.add_argument(
        "--method",
        default="npe",
        choices=method_names("bayesian"),
        help="npe: one round; tsnpe: truncated sequential rounds; npe_cmaes: NPE then CMA-ES from the "
        "posterior, same budget (default npe)",
    )
    p.add_argument("--rounds", type=int, default=4, help="tsnpe rounds (default 4)")
    p.add_argument(
        "--first-round",
        type=int,
        default=0,
        help="tsnpe: simulations in round 0, the rest shared by the later rounds (default: equal shares)",
    )
    p.add_argument("--npe-fraction", type=float, default=0.3, help="npe_cmaes: budget share for NPE (0.3)")
    p.add_argument(
        "--restrict",
        action="store_true",
        help="tsnpe: propose only where a classifier predicts valid simulations (models whose prior "
        "mostly gives undefined features, such as stg)",
    )
    p.add_argument("--density-estimator", choices=["maf", "nsf"], default="maf")
    p.add_argument(
        "--fit-candidates", type=int, default=0, help="simulations for MAP + top samples (0: auto)"
    )
    p.add_argument("--posterior-samples", type=int, default=10_000)
    p.set_defaults(func=_cmd_infer)

    p = sub.add_parser("fit", help="fit a use case with a metaheuristic optimiser")
    _common(p)
    p.add_argument("--method", default="cmaes", choices=method_names("optimizer"))
    p.add_argument("--budget", type=int, default=5000, help="simulation budget (default 5000)")
    p.add_argument("--popsize", type=int, default=100, help="population size (default 100, as Neuroptimus)")
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser(
        "simulate", help="simulate N prior samples into a bank and report evaluations per second"
    )
    _common(p)
    p.add_argument("--n", type=int, default=1000, help="number of prior simulations (default 1000)")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser(
        "compare", help="every method × seed on a use case at one budget: tables, box plots, convergence"
    )
    _common(p, out_required=False)
    p.add_argument(
        "--methods",
        type=_methods,
        default=",".join(method_names()),
        help=f"comma-separated methods (default: all: {','.join(method_names())})",
    )
    p.add_argument("--budget", type=int, default=10_000, help="simulations per run (default 10000)")
    p.add_argument(
        "--seeds",
        type=_seeds,
        default="10",
        help="number of seeds (1..N) or a comma-separated list (default 10)",
    )
    p.add_argument("--popsize", type=int, default=100, help="population of population methods (default 100)")
    p.set_defaults(func=_cmd_compare)

    add_runs_parser(sub)

    p = sub.add_parser(
        "path",
        help="posterior predictive check of a Bayesian run, and a high-probability path between two "
        "disparate solutions (with a contrast path)",
    )
    p.add_argument("run", help="folder of a finished `sbi-neuro infer` run")
    p.add_argument(
        "--tolerance",
        type=_positive_float,
        default=0.1,
        help="a fit: every feature within this many SDs (0.1)",
    )
    p.add_argument(
        "--samples", type=_positive_int, default=200, help="posterior samples simulated (default 200)"
    )
    _check_executor_arguments(p)
    p.add_argument("--endpoints", help="CSV with a header of parameter names and two rows: the endpoints")
    p.set_defaults(func=_cmd_path)

    p = sub.add_parser(
        "check",
        help="check a Bayesian run's posterior: predictive check, calibration on held-out simulations "
        "(SBC, expected coverage, TARP), ArviZ export; then rewrite its report",
    )
    p.add_argument("run", help="folder of a finished `sbi-neuro infer` run")
    p.add_argument(
        "--predictive", type=_count, default=100, help="posterior samples simulated (default 100; 0 skips it)"
    )
    p.add_argument(
        "--tolerance",
        type=_positive_float,
        default=0.1,
        help="a fit: every feature within this many SDs (0.1)",
    )
    p.add_argument(
        "--calibration",
        type=_count,
        default=200,
        help="held-out prior simulations for calibration (default 200; 0 skips it; ~1000 to resolve a "
        "deviation of 0.05)",
    )
    p.add_argument(
        "--samples", type=_positive_int, default=1000, help="posterior samples per held-out simulation"
    )
    _check_executor_arguments(p)
    p.add_argument("--index", help="results index for the report's comparison (default: the run's)")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("report", help="write RUN/report.html: one self-contained page about a run")
    p.add_argument("run", help="a run folder")
    p.add_argument("--index", help="results index for the comparison with baselines (default: the run's)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("demo", help="end-to-end demo on UC1 with a simulated target (no data needed)")
    p.add_argument("--out", default="runs/demo", help="report folder (default runs/demo)")
    p.add_argument("--simulations", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=_cmd_demo)
    return parser


def _common(p: argparse.ArgumentParser, out_required: bool = True) -> None:
    p.add_argument("usecase", help="use case name (see `sbi-neuro usecases`)")
    if out_required:
        p.add_argument("--out", required=True, help="run folder; re-running with the same folder continues")
    else:
        p.add_argument("--out", default="runs/compare", help="comparison folder (default runs/compare)")
    p.add_argument("--index", help="results index: SQLite path or SQLAlchemy URL (default runs/index.sqlite)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--workers", type=int, default=1, help="local worker processes, or Dask local-cluster workers (1)"
    )
    _executor_arguments(p)
    p.add_argument(
        "--target",
        default="default",
        help="'data' (benchmark file), 'simulated' (from the ground truth) or a two-column "
        "time (ms) / voltage (mV) file; default: the use case's",
    )
    p.add_argument("--data-dir", help="benchmark data directory (default: $SBI_NEURO_DATA or ../shared/data)")
    p.add_argument(
        "--backend",
        help="simulator: 'neuron' or 'brian2' (reference) or 'batched' (compiled kernel); "
        "default: the use case's (see `sbi-neuro usecases`)",
    )
    p.add_argument("--record-dt", type=float, help="recording interval in ms (default: the use case's)")
    p.add_argument("--cell", help="hh_allen: Allen specimen id, or 'synthetic' (default)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a use-case option, for example --set morphology=cell.swc (see `sbi-neuro usecases`)",
    )
    p.add_argument("--batch-size", type=int, default=100, help="simulations per bank file (default 100)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _integer(text, 1)


def _count(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _integer(text, 0)


def _integer(text: str, lowest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= {lowest}, got {text!r}") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"expected an integer >= {lowest}, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _seeds(text: str) -> list[int]:
    """argparse type of --seeds: a count N (seeds 1..N) or a comma-separated list of seeds >= 0."""
    items = [item.strip() for item in text.split(",")]
    if not all(item.isdigit() for item in items if item) or not any(items):
        raise argparse.ArgumentTypeError(
            f"expected a count N >= 1 (seeds 1..N) or a comma-separated list of integers >= 0, got {text!r}"
        )
    try:
        return _parse_seeds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _parse_seeds(text: str) -> list[int]:
    """``10`` → seeds 1..10; ``3,5,8`` → those seeds."""
    if "," in text:
        return [int(s) for s in text.split(",") if s.strip()]
    n = int(text)
    if n < 1:
        raise ValueError(f"--seeds takes a count >= 1 or a comma-separated list, got {text!r}")
    return list(range(1, n + 1))


def _methods(text: str) -> list[str]:
    """argparse type of --methods: a non-empty comma-separated list."""
    methods = [m.strip() for m in text.split(",") if m.strip()]
    if not methods:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of methods, got {text!r}")
    return methods


def _check_executor_arguments(p: argparse.ArgumentParser) -> None:
    """Where a check's simulations run: by default where the run ran (its config.json)."""
    p.add_argument(
        "--workers", type=_positive_int, help="worker processes (default: the run's, from its config.json)"
    )
    _executor_arguments(p, default=None)


def _check_executor(args: argparse.Namespace) -> ExecutorConfig | None:
    """The executor a check was told to use, or None for the run's own (with ``--workers`` if given)."""
    if args.executor is None:
        if args.scheduler is not None:
            raise ValueError("--scheduler needs --executor dask or ray")
        return None
    return ExecutorConfig(args.executor, args.scheduler, args.workers or 1, args.sim_timeout)


def _executor_arguments(p: argparse.ArgumentParser, default: str | None = "local") -> None:
    first = "default: where the run ran. " if default is None else ""
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=default,
        help=first + "where simulations run: 'local' (processes on this machine, a hang or crash isolated; "
        "default), 'joblib' (joblib's loky processes, no isolation), 'dask' (dask.distributed) or "
        "'ray' (needs sbi_neuro[ray]): the cluster at --scheduler, or one of --workers processes here",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --executor dask: address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786; "
        "with --executor ray: a Ray cluster's address, e.g. ray://10.0.0.5:10001",
    )
    p.add_argument(
        "--sim-timeout",
        type=_time_limit,
        default=DEFAULT_SIM_TIMEOUT_S,
        metavar="SECONDS",
        help="local, dask and ray executors: a simulation taking longer is recorded as timed out and the run "
        f"goes on (default {DEFAULT_SIM_TIMEOUT_S:g}; 0: no limit). Not part of a run's identity",
    )


def _config(args: argparse.Namespace, method: str, budget: int, **extra: Any) -> RunConfig:
    return RunConfig(
        usecase=args.usecase,
        method=method,
        budget=budget,
        seed=args.seed,
        target=args.target,
        data_dir=args.data_dir,
        workers=args.workers,
        executor=args.executor,
        scheduler=args.scheduler,
        record_dt_ms=args.record_dt,
        backend=args.backend,
        options=_options(args),
        batch_size=args.batch_size,
        progress=not args.quiet,
        **extra,
    )


def _time_limit(text: str) -> float | None:
    """argparse type: seconds > 0, or 0 for no limit (None)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected seconds >= 0 (0: no limit), got {text!r}")
    return value or None


def _options(args: argparse.Namespace) -> dict[str, str]:
    options = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        options[key.strip()] = value.strip()
    if args.cell is not None:
        options["cell"] = args.cell
    return options


def _cmd_usecases(args: argparse.Namespace) -> int:
    from sbi_neuro.registry import get_usecase, usecase_names, usecase_spec
    from usecases.timing import stored_timings

    timings = stored_timings()
    for name in usecase_names():
        try:
            uc = get_usecase(name, data_dir=args.data_dir)
        except DataError as err:
            print(f"{name}: needs the benchmark data ({err})\n")
            continue
        measured = timings.get(name, {})
        speed = (
            "; ".join(
                f"{backend}: {t['seconds_per_evaluation_1_worker']:.3g} s (1 worker), "
                f"{t['seconds_per_evaluation_2_workers']:.3g} s (2 workers)"
                for backend, t in measured.items()
            )
            if measured
            else "not measured yet (python benchmarks/usecase_timing.py)"
        )
        spec = usecase_spec(name)
        print(f"{name}: {uc.title}")
        print(f"  {uc.prior.dim} parameters: {', '.join(p.label for p in uc.prior.parameters)}")
        print(f"  data: {', '.join(uc.data_files) or 'none'}; default target: {uc.default_target}")
        print(f"  backends: {', '.join(spec.backends)} (default {spec.backends[0]})")
        print(f"  options: {', '.join(spec.options) or 'none'}")
        print(f"  time per evaluation: {speed}\n")
    return 0


def _cmd_infer(args: argparse.Namespace) -> int:
    cfg = _config(
        args,
        args.method,
        args.simulations,
        rounds=args.rounds,
        npe_fraction=args.npe_fraction,
        restrict=args.restrict,
        first_round=args.first_round,
        fit_candidates=args.fit_candidates,
        posterior_samples=args.posterior_samples,
        npe=NPESettings(density_estimator=args.density_estimator),
    )
    return _execute(cfg, Path(args.out), args.index, args.sim_timeout)


def _cmd_fit(args: argparse.Namespace) -> int:
    cfg = _config(args, args.method, args.budget, population_size=args.popsize)
    return _execute(cfg, Path(args.out), args.index, args.sim_timeout)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from sbi_neuro.api.execute import execute

    result = execute(_config(args, "prior", args.n), Path(args.out), sim_timeout_s=args.sim_timeout)
    summary = result.summary
    rate = summary["evaluations_per_s"]
    speed = f"{rate:.1f} evaluations/s" if rate else "nothing new to simulate"
    print(
        f"\n{summary['usecase']} on {summary['backend']}, {_where(summary)}: "
        f"{summary['new_simulations']} new of {summary['simulations']} simulations in "
        f"{summary['wall_time_s']:.1f} s, {speed} (simulation + features + cost, start-up included); "
        f"{summary['failed']} failed"
    )
    print(f"bank: {summary['bank']}")
    return 0


def _where(summary: dict[str, Any]) -> str:
    engine = {"dask": "Dask", "ray": "Ray"}.get(summary.get("executor", "local"))
    if engine is None:
        return f"{summary['workers']} local worker(s)"
    if summary.get("scheduler"):
        return f"{engine} cluster at {summary['scheduler']}"
    return f"{engine} local cluster of {summary['workers']} worker(s)"


def _cmd_compare(args: argparse.Namespace) -> int:
    from sbi_neuro.api.compare import compare_runs

    base = _config(args, "cmaes", args.budget, population_size=args.popsize)
    comparison = compare_runs(base, args.methods, args.seeds, args.out, args.index, args.sim_timeout)
    table = comparison.table
    print(f"\n{table.read_text()}\ntables and figures: {table.parent}/; ranking: {comparison.ranking}")
    return 0


def _execute(
    cfg: RunConfig, out: Path, index: str | None = None, sim_timeout_s: float | None = DEFAULT_SIM_TIMEOUT_S
) -> int:
    from sbi_neuro.api.execute import execute

    summary = execute(cfg, out, index, sim_timeout_s=sim_timeout_s).summary
    print(
        f"\n{summary['method']} on {summary['usecase']}: {summary['simulations']} simulations, "
        f"{summary['wall_time_s']:.1f} s"
    )
    print(f"best error {summary['best_error']:.4g} at " + json.dumps(summary["best_fit"]))
    if "truth_in_interval_90" in summary:
        print("truth inside the 90% interval: " + json.dumps(summary["truth_in_interval_90"]))
    print(f"results in {out}/ (summary.json, metadata.json, plots/, report.html)")
    return 0


def _cmd_path(args: argparse.Namespace) -> int:
    from sbi_neuro.api.check import study_paths

    report = study_paths(
        args.run, args.tolerance, args.samples, args.endpoints, _check_executor(args), args.workers
    )
    ppc = report["posterior_predictive"]
    print(
        f"posterior predictive: {ppc['within_tolerance_fraction']:.0%} of {ppc['samples']} samples within "
        f"{args.tolerance} SD ({ppc['valid_fraction']:.0%} valid)"
    )
    for name, path in report["paths"].items():
        print(f"{name}: {path['within_tolerance_fraction']:.0%} of {path['points']} points within tolerance")
    print(f"report and figures in {Path(args.run) / 'path'}/")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from sbi_neuro.api.check import check

    result = check(
        args.run,
        predictive=args.predictive,
        calibration=args.calibration,
        samples=args.samples,
        tolerance=args.tolerance,
        executor=_check_executor(args),
        workers=args.workers,
        index=args.index,
    )
    if result.predictive is not None:
        ppc = result.predictive
        print(
            f"posterior predictive: {ppc['within_tolerance_fraction']:.0%} of {ppc['samples']} samples "
            f"within {args.tolerance} SD of the target ({ppc['valid_fraction']:.0%} valid)"
        )
    for note in result.notes:
        print(note)
    if result.calibration is not None:
        cal = result.calibration
        print(
            f"calibration: largest coverage deviation {cal['max_coverage_deviation']:.3f} over "
            f"{cal['n_valid']} held-out simulations (an exactly calibrated posterior stays under "
            f"{cal['calibrated_deviation_95']:.3f} in 95% of such checks)"
        )
    print(f"results in {args.run}/ (analysis/, predictive/, calibration/); report: {result.report}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from sbi_neuro.results.report import write_report

    print(write_report(args.run, args.index))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from sbi_neuro.api.demo import run_demo

    start = time.perf_counter()
    report = run_demo(Path(args.out), args.simulations, args.workers, args.seed)
    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s; report: {report}")
    return 0
