"""The run report: one self-contained HTML page (``RUN/report.html``) from what a run folder holds.

Every section reads its own files and says so when they are missing, so the page can be
written at the end of a run and again after ``sbi-neuro check RUN`` adds the calibration,
posterior analysis and predictive checks. Images are embedded as data URIs and the style is
inline: the page needs no other file, no network and no JavaScript.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import os
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sbi_neuro.core.files import atomic_write_text
from sbi_neuro.core.validation import is_number
from sbi_neuro.results import layout

REPORT_NAME = layout.REPORT
# (section id, heading), in page order.
SECTIONS = (
    ("run", "Run"),
    ("best-fit", "Best fit against target"),
    ("training", "Training"),
    ("posterior", "Posterior"),
    ("calibration", "Calibration"),
    ("predictive", "Predictive checks"),
    ("convergence", "Convergence"),
    ("comparison", "Comparison with baselines"),
)
_MISCALIBRATED = (
    "Coverage deviates by up to {:.3g} from the credibility level, more than a calibrated posterior "
    "would (95%: {:.3g}): its credible intervals cannot be taken at face value."
)
_MAX_JSON_CHARS = 4000  # nested JSON shown verbatim is cut beyond this

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px;
       padding: 1.5em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 1.8em; }
h3 { font-size: 1.05em; margin-bottom: 0.3em; }
nav a { margin-right: 0.9em; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.this td { background: #fff3b0; font-weight: 600; }
figure { margin: 0.8em 0 1.2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
.note { color: #555; font-style: italic; background: #f7f7f7; border-left: 4px solid #bbb;
        padding: 0.4em 0.8em; }
.warning { background: #fff0e0; border: 2px solid #e07000; color: #6a3000; padding: 0.6em 1em;
           font-weight: 600; margin: 0.8em 0; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
code { background: #f1f1f1; padding: 0 0.2em; }
"""


def write_report(folder: str | Path, index: str | Path | None = None) -> Path:
    """Write ``folder/report.html`` (atomically) and return its path.

    Args:
        folder: a finished run folder (``config.json`` and ``summary.json``).
        index: the results index for the comparison with baselines (a path or SQLAlchemy URL);
            default ``$SBI_NEURO_INDEX``, else the nearest ``index.sqlite`` in the run's parent
            folders, else ``runs/index.sqlite`` under the current directory.

    Raises:
        ValueError: ``folder`` is not a finished run folder, or its config/summary is unreadable.
    """
    folder = Path(folder)
    page = render_report(folder, index)
    path = folder / REPORT_NAME
    atomic_write_text(path, page)
    return path


def render_report(folder: str | Path, index: str | Path | None = None) -> str:
    """The report page of the run in ``folder`` as an HTML string (see ``write_report``)."""
    run = RunFiles.open(folder)
    bodies: dict[str, Callable[[], str]] = {
        "run": lambda: _run_section(run),
        "best-fit": lambda: _best_fit_section(run),
        "training": lambda: _training_section(run),
        "posterior": lambda: _posterior_section(run),
        "calibration": lambda: _calibration_section(run),
        "predictive": lambda: _predictive_section(run),
        "convergence": lambda: _convergence_section(run),
        "comparison": lambda: _comparison_section(run, index),
    }
    sections = "\n".join(_section(key, title, bodies[key]) for key, title in SECTIONS)
    nav = " ".join(f'<a href="#{key}">{_esc(title)}</a>' for key, title in SECTIONS)
    title = (
        f"{run.config.get('usecase', '?')} · {run.config.get('method', '?')} · seed {run.config.get('seed')}"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'  # no favicon request
        f"<title>sbi_neuro report: {_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>sbi_neuro report: {_esc(title)}</h1>\n"
        f"<p>{_esc(str(run.folder))}</p>\n<nav>{nav}</nav>\n{sections}\n</body>\n</html>\n"
    )


@dataclass(frozen=True)
class RunFiles:
    """A run folder with its config and summary read; other files are read on demand."""

    folder: Path
    config: dict[str, Any]
    summary: dict[str, Any]

    @classmethod
    def open(cls, folder: str | Path) -> RunFiles:
        """Read ``folder``'s config and summary; ValueError if it is not a finished run folder."""
        path = Path(folder).resolve()
        config = read_json(path / "config.json")
        if config is None:
            raise ValueError(f"{path}: not a run folder (no config.json); give the --out folder of a run")
        summary = read_json(path / "summary.json")
        if summary is None:
            raise ValueError(
                f"{path}: the run has not finished (no summary.json); re-run the same command to finish it"
            )
        return cls(path, config, summary)

    @property
    def bayesian(self) -> bool:
        """Whether the run trained a posterior (NPE, TSNPE, NPE + CMA-ES)."""
        return "training" in self.summary or (self.folder / "posterior_samples.csv").is_file()

    @property
    def metadata(self) -> dict[str, Any] | None:
        return read_json(self.folder / "metadata.json")

    def json(self, name: str) -> dict[str, Any] | None:
        return read_json(self.folder / name)

    def exists(self, name: str) -> bool:
        return (self.folder / name).is_file()

    def figure(self, name: str, caption: str) -> str | None:
        """The image ``name`` embedded as a data URI in a captioned figure; None if missing."""
        path = self.folder / name
        if not path.is_file():
            return None
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        mime = {".png": "image/png", ".jpg": "image/jpeg", ".svg": "image/svg+xml"}.get(
            path.suffix.lower(), "application/octet-stream"
        )
        return (
            f'<figure><img src="data:{mime};base64,{data}" alt="{_esc(caption)}">'
            f"<figcaption>{_esc(caption)} ({_esc(name)})</figcaption></figure>"
        )

    def no_posterior_note(self) -> str:
        return _note(f"not applicable: a {self.config.get('method')} run has no posterior")

    def check_note(self) -> str:
        command = f"sbi-neuro check {shlex.quote(str(self.folder))}"
        return _note(f"not computed yet: run <code>{_esc(command)}</code>", escaped=True)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None if the file is missing, ValueError if it is not an object."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot be read ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


# --------------------------------------------------------------------- sections


def _section(key: str, title: str, body: Callable[[], str]) -> str:
    """One ``<section>``; a section whose files cannot be read says so instead of failing the page."""
    try:
        content = body()
    except (ValueError, OSError) as err:
        content = _note(f"could not be shown: {err}")
    return f'<section id="{key}">\n<h2>{_esc(title)}</h2>\n{content}\n</section>'


def _run_section(run: RunFiles) -> str:
    cfg, summary = run.config, run.summary
    target = cfg.get("target")
    resolved = summary.get("target")
    finished = datetime.fromtimestamp((run.folder / "summary.json").stat().st_mtime, UTC)
    rows = [
        ("use case", cfg.get("usecase")),
        ("method", cfg.get("method")),
        ("seed", cfg.get("seed")),
        ("budget (simulations)", cfg.get("budget")),
        ("simulations run", summary.get("simulations")),
        ("target", target if resolved in (None, target) else f"{target} ({resolved})"),
        ("backend", cfg.get("backend")),
        ("use-case options", ", ".join(f"{k}={v}" for k, v in cfg.get("options", {}).items()) or None),
        ("finished (UTC)", finished.strftime("%Y-%m-%d %H:%M:%S")),
        ("wall time", _duration(summary.get("wall_time_s"))),
    ]
    stages = summary.get("stage_wall_s")
    if isinstance(stages, dict) and stages:
        rows.append(("wall time per stage", ", ".join(f"{k} {_duration(v)}" for k, v in stages.items())))
    return _facts(rows)


def _best_fit_section(run: RunFiles) -> str:
    summary, meta = run.summary, run.metadata
    parts = [
        run.figure("plots/best_fit.png", "target against the best fit")
        or _note("missing: plots/best_fit.png"),
        _facts(
            [
                ("best error", summary.get("best_error")),
                ("error of the MAP", summary.get("map_error")),
                ("best error among training simulations", summary.get("best_training_error")),
                ("evaluation that found it", summary.get("best_evaluation")),
            ]
        ),
        "<h3>Parameters</h3>",
        _parameter_table(summary, meta),
    ]
    components = (meta or {}).get("error_function")
    if components:
        parts += ["<h3>Error components at the best fit</h3>", _records(components)]
    return "\n".join(parts)


def _parameter_table(summary: dict[str, Any], meta: dict[str, Any] | None) -> str:
    """Name, unit, bounds, best fit (and truth when known) per parameter."""
    truth = summary.get("truth") or {}
    params = (meta or {}).get("parameters") or [
        {"name": name, "optimum": value} for name, value in summary.get("best_fit", {}).items()
    ]
    header = ["parameter", "unit", "lower bound", "upper bound", "best fit"] + (["truth"] if truth else [])
    rows = [
        [p.get("name"), p.get("unit"), p.get("min_boundary"), p.get("max_boundary"), p.get("optimum")]
        + ([truth.get(p.get("name"))] if truth else [])
        for p in params
    ]
    return _table(header, rows)


def _training_section(run: RunFiles) -> str:
    if not run.bayesian:
        return run.no_posterior_note()
    training = run.summary.get("training")
    if not isinstance(training, dict):
        return _note("missing: summary.json has no training record")
    parts = [
        _facts(
            [
                ("training simulations", training.get("training_simulations")),
                ("invalid simulations dropped", training.get("dropped_invalid")),
                ("epochs", training.get("epochs")),
                ("best validation loss", training.get("best_validation_loss")),
                ("training wall time", _duration(training.get("training_wall_s"))),
            ]
        )
    ]
    ensemble = training.get("ensemble")
    if isinstance(ensemble, dict):
        parts.append(_ensemble(ensemble))
    rounds = run.summary.get("rounds")
    if isinstance(rounds, list) and rounds:
        parts += ["<h3>Rounds</h3>", _records(rounds)]
    return "\n".join(parts)


def _ensemble(ensemble: dict[str, Any]) -> str:
    parts = ["<h3>Ensemble</h3>"]
    if ensemble.get("warning"):
        parts.append(f'<div class="warning">Warning: {_esc(str(ensemble["warning"]))}</div>')
    parts.append(_facts([("members kept", ensemble.get("kept"))]))
    members = ensemble.get("members")
    if isinstance(members, list) and members:
        parts.append(_records(members, ("seed", "best_validation_loss", "epochs", "kept")))
    return "\n".join(parts)


def _posterior_section(run: RunFiles) -> str:
    if not run.bayesian:
        return run.no_posterior_note()
    parts = [
        run.figure("plots/pairplot.png", "posterior pair plot (truth marked when known)")
        or _note("missing: plots/pairplot.png"),
        _posterior_intervals(run.summary),
        "<h3>Posterior analysis</h3>",
    ]
    table = _csv_table(run.folder / "analysis/posterior_summary.csv")
    analysis = [
        f"<p>Posterior summary (analysis/posterior_summary.csv):</p>\n{table}" if table else None,
        run.figure("analysis/constraint.png", "how much the data constrain each parameter"),
        run.figure("analysis/correlations.png", "posterior correlations"),
        _json_block(run.json("analysis/structure.json"), "Structure"),
        _link(run, "analysis/posterior.nc", "the posterior samples (ArviZ InferenceData, NetCDF)"),
    ]
    present = [part for part in analysis if part]
    return "\n".join(parts + (present or [run.check_note()]))


def _posterior_intervals(summary: dict[str, Any]) -> str:
    """Posterior mean and 90% interval per parameter (summary.json), with the truth when known."""
    mean, interval = summary.get("posterior_mean") or {}, summary.get("interval_90") or {}
    if not mean:
        return ""
    truth, inside = summary.get("truth") or {}, summary.get("truth_in_interval_90") or {}
    header = ["parameter", "MAP", "posterior mean", "5%", "95%"] + (
        ["truth", "truth in 90%"] if truth else []
    )
    rows = [
        [name, (summary.get("map") or {}).get(name), value, *(interval.get(name) or [None, None])]
        + ([truth.get(name), inside.get(name)] if truth else [])
        for name, value in mean.items()
    ]
    return "<p>Posterior at the target: MAP, mean and 90% interval (summary.json):</p>\n" + _table(
        header, rows
    )


def _calibration_section(run: RunFiles) -> str:
    if not run.bayesian:
        return run.no_posterior_note()
    calibration = run.json("calibration/calibration.json")
    parts = [
        _calibration_facts(calibration) if calibration is not None else None,
        run.figure("calibration/sbc_ranks.png", "simulation-based calibration: rank histograms"),
        run.figure("calibration/coverage.png", "expected coverage"),
    ]
    present = [part for part in parts if part]
    return "\n".join(present) if present else run.check_note()


def _calibration_facts(calibration: dict[str, Any]) -> str:
    """Held-out counts, coverage deviations (HPD and TARP) against a calibrated posterior's, SBC table."""
    deviation, expected = (
        calibration.get("max_coverage_deviation"),
        calibration.get("calibrated_deviation_95"),
    )
    raw_tarp = calibration.get("tarp")
    tarp: dict[str, Any] = raw_tarp if isinstance(raw_tarp, dict) else {}
    rows: list[tuple[str, Any]] = [
        ("held-out simulations", calibration.get("n_held_out")),
        ("valid held-out simulations", calibration.get("n_valid")),
        ("posterior samples per simulation", calibration.get("n_samples")),
        ("largest coverage deviation (HPD)", deviation),
        ("largest deviation of a calibrated posterior (95%)", expected),
        ("largest coverage deviation (TARP)", tarp.get("max_coverage_deviation")),
        ("TARP ATC", tarp.get("atc")),
        ("TARP KS p-value", tarp.get("ks_pvalue")),
    ]
    parts = [_facts(rows)]
    if is_number(deviation) and is_number(expected) and deviation > expected:
        parts.insert(0, f'<div class="warning">{_esc(_MISCALIBRATED.format(deviation, expected))}</div>')
    sbc = calibration.get("sbc")
    if isinstance(sbc, dict) and sbc:
        parts += ["<h3>SBC ranks per parameter</h3>", _keyed_records(sbc, "parameter")]
    return "\n".join(parts)


def _predictive_section(run: RunFiles) -> str:
    if not run.bayesian:
        return run.no_posterior_note()
    predictive = run.json("predictive/predictive.json")
    checks = [
        _predictive_facts(predictive) if predictive is not None else None,
        run.figure("predictive/features.png", "features of posterior samples against the target"),
        run.figure("predictive/traces.png", "traces of posterior samples against the target"),
    ]
    present = [part for part in checks if part]
    traces = run.figure("plots/posterior_predictive.png", "traces of 8 posterior samples over the target")
    return "\n".join([*(present or [run.check_note()]), traces or ""])


def _predictive_facts(predictive: dict[str, Any]) -> str:
    return _facts(
        [
            ("posterior samples simulated", predictive.get("samples")),
            ("tolerance (feature SDs)", predictive.get("tolerance_sd")),
            ("valid fraction", _percent(predictive.get("valid_fraction"))),
            ("within tolerance", _percent(predictive.get("within_tolerance_fraction"))),
        ]
    )


def _convergence_section(run: RunFiles) -> str:
    figure = run.figure("plots/convergence.png", "best error against evaluations")
    score = (run.metadata or {}).get("convergence_score")
    facts = _facts([("convergence score (Neuroptimus)", score)])
    return "\n".join([figure or _note("missing: plots/convergence.png"), facts])


# --------------------------------------------------------------------- comparison


def _comparison_section(run: RunFiles, index: str | Path | None) -> str:
    location = resolve_index(run.folder, index)
    if location is None:
        return _note("no results index beside the run or in ./runs (give --index or set $SBI_NEURO_INDEX)")
    if "://" not in location and not Path(location).is_file():
        return _note(f"no results index at {location}")
    rows = _same_problem_runs(run, location)
    if not any(row["folder"] != str(run.folder) for row in rows):
        usecase, target = run.config.get("usecase"), run.summary.get("target")
        return _note(f"no other runs of {usecase} on target {target} in the results index {location}")
    rows.sort(key=lambda row: (row["best_error"], row["method"], row["seed"] or 0))
    header = ["method", "backend", "seed", "budget", "simulations", "best error", "wall time", "run"]
    body = [_comparison_row(row, row["folder"] == str(run.folder)) for row in rows]
    caption = (
        f"Runs of use case {run.config.get('usecase')} on the same target ({run.summary.get('target')}) "
        f"in the results index {location}, best first:"
    )
    return f"<p>{_esc(caption)}</p>\n" + _table_html(header, body)


def _comparison_row(row: dict[str, Any], this: bool) -> str:
    cells = [row[name] for name in ("method", "backend", "seed", "budget", "evaluations", "best_error")]
    cells += [_duration(row["wall_time_s"]), "this run" if this else row["folder"] or row["metadata_path"]]
    return _row(cells, css_class="this" if this else None)


def resolve_index(folder: Path, index: str | Path | None = None) -> str | None:
    """The results index a run is compared in: ``index``, else ``$SBI_NEURO_INDEX``, else the
    nearest existing ``index.sqlite`` in ``folder``'s parents or ``./runs`` (None if there is none)."""
    from sbi_neuro.results.index import DEFAULT_LOCATION, ENV_VAR

    given = str(index or "") or os.environ.get(ENV_VAR)
    if given:
        return given
    candidates = [parent / "index.sqlite" for parent in folder.resolve().parents] + [DEFAULT_LOCATION]
    return next((str(path.resolve()) for path in candidates if path.is_file()), None)


def _same_problem_runs(run: RunFiles, location: str) -> list[dict[str, Any]]:
    """Rows of the index with this run's use case and target (this run's row included)."""
    from sbi_neuro.results.index import ResultsIndex

    with ResultsIndex(location) as results:
        rows = results.query(usecase=run.config.get("usecase"))
    target = next((r["target"] for r in rows if r["folder"] == str(run.folder)), run.summary.get("target"))
    return [row for row in rows if row["target"] == target]


# --------------------------------------------------------------------- HTML pieces


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _note(text: str, escaped: bool = False) -> str:
    return f'<p class="note">{text if escaped else _esc(text)}</p>'


def _link(run: RunFiles, name: str, label: str) -> str | None:
    if not run.exists(name):
        return None
    return f'<p><a href="{_esc(name)}">{_esc(name)}</a>: {_esc(label)}</p>'


def fmt(value: Any) -> str:
    """A cell: floats to 4 significant digits, integers with thousands separators, yes/no, a dash for None."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _percent(value: Any) -> str | None:
    return f"{100 * value:.1f}%" if is_number(value) else None


def _duration(seconds: Any) -> str | None:
    if not is_number(seconds):
        return None
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _cell(value: Any) -> str:
    css = ' class="num"' if is_number(value) else ""
    return f"<td{css}>{_esc(fmt(value))}</td>"


def _row(cells: Iterable[Any], css_class: str | None = None) -> str:
    attr = f' class="{css_class}"' if css_class else ""
    return f"<tr{attr}>" + "".join(_cell(c) for c in cells) + "</tr>"


def _table_html(header: Sequence[str], rows: Iterable[str]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    return _table_html(header, (_row(r) for r in rows))


def _facts(pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of the pairs whose value is known."""
    rows = [f"<tr><th>{_esc(k)}</th>{_cell(v)}</tr>" for k, v in pairs if v is not None]
    return "<table>\n" + "\n".join(rows) + "\n</table>" if rows else ""


def _records(records: list[Any], columns: Sequence[str] | None = None) -> str:
    """A table of a list of JSON objects (columns: ``columns`` or every key, in order of appearance)."""
    dicts = [r for r in records if isinstance(r, dict)]
    keys = list(columns or dict.fromkeys(k for r in dicts for k in r))
    return _table([k.replace("_", " ") for k in keys], ([r.get(k) for k in keys] for r in dicts))


def _keyed_records(records: dict[str, Any], key: str) -> str:
    """A table of ``{name: {field: value}}``: one row per name, the name in column ``key``."""
    rows = [{key: name, **value} for name, value in records.items() if isinstance(value, dict)]
    return _records(rows)


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Scalar entries of nested objects with dotted keys; lists of up to 8 scalars kept as lists."""
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _flatten(value, f"{name}.")
        elif isinstance(value, list) and (len(value) > 8 or any(isinstance(v, dict | list) for v in value)):
            out.append((name, f"{len(value)} values"))
        else:
            out.append((name, value))
    return out


def _json_block(data: dict[str, Any] | None, title: str) -> str | None:
    """A JSON object as a table of its scalar entries, the rest verbatim (cut when long)."""
    if data is None:
        return None
    facts = _facts(_flatten(data))
    nested = {k: v for k, v in data.items() if isinstance(v, list) and len(v) > 8}
    text = json.dumps(nested, indent=1) if nested else ""
    if len(text) > _MAX_JSON_CHARS:
        text = text[:_MAX_JSON_CHARS] + "\n…"
    verbatim = f"<pre>{_esc(text)}</pre>" if text else ""
    return f"<h3>{_esc(title)}</h3>\n{facts}\n{verbatim}"


def _csv_table(path: Path) -> str | None:
    """A CSV file (first row: header) as a table, numbers to 4 significant digits; None if missing."""
    if not path.is_file():
        return None
    rows = list(csv.reader(io.StringIO(path.read_text())))
    if not rows:
        raise ValueError(f"{path}: empty")
    header = [h or "parameter" for h in rows[0]]
    return _table(header, ([_number(c) for c in row] for row in rows[1:]))


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text
