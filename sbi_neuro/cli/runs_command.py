"""``sbi-neuro runs``: list, record, import and export runs in the results index."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sbi_neuro.api.catalogue import RunRecord

# Columns shown in the table format, in order.
TABLE_COLUMNS = (
    "usecase",
    "method",
    "backend",
    "seed",
    "evaluations",
    "best_error",
    "convergence_score",
    "wall_time_s",
    "folder",
)
NUMERIC = {"seed", "evaluations", "best_error", "convergence_score", "wall_time_s"}


def add_runs_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``runs`` subcommand to ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    p = subparsers.add_parser(
        "runs",
        help="list, record, import and export runs in the results index",
        description="Without --record/--import/--export: list the runs in the index (filtered).",
    )
    p.add_argument(
        "--index",
        help="index file or SQLAlchemy URL (default: $SBI_NEURO_INDEX or runs/index.sqlite)",
    )
    p.add_argument("--usecase", help="only this use case; with --import, the use case of files without one")
    p.add_argument("--method", help="only this method (optimiser name, npe, ...)")
    p.add_argument("--backend", help="only this simulator backend")
    p.add_argument("--source", help="only runs made here (run) or imported (import)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table", help="listing format")
    p.add_argument("--export", metavar="DIR", help="write the Neuroptimus metadata of the (filtered) runs")
    p.add_argument(
        "--import",
        dest="import_files",
        nargs="+",
        metavar="FILE",
        help="add Neuroptimus-style metadata.json files",
    )
    p.add_argument("--record", nargs="+", metavar="FOLDER", help="add finished run folders")
    p.set_defaults(func=cmd_runs)
    return p


def cmd_runs(args: argparse.Namespace) -> int:
    """Record, import, export, or list."""
    from sbi_neuro.api.catalogue import export_runs, import_runs, index_location, list_runs, record_runs

    acted = False
    for record in record_runs(args.record or [], args.index):
        _print_action("recorded", record)
        acted = True
    for record in import_runs(args.import_files or [], args.usecase, args.index):
        _print_action("imported", record)
        acted = True
    filters = {"usecase": args.usecase, "method": args.method, "backend": args.backend, "source": args.source}
    if args.export:
        files = export_runs(args.export, index=args.index, **filters)
        print(f"wrote {len(files)} metadata file(s) to {Path(args.export).resolve()}")
        acted = True
    if not acted:
        rows = [asdict(record) for record in list_runs(index=args.index, **filters)]
        _print_rows(rows, args.format, index_location(args.index))
    return 0


def _print_action(verb: str, record: RunRecord) -> None:
    print(f"{verb} #{record.id}: {record.usecase} {record.method} seed {record.seed} ({record.where})")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _print_rows(rows: list[dict[str, Any]], fmt: str, location: str) -> None:
    if fmt == "json":
        print(json.dumps(rows, indent=1))
        return
    if fmt == "csv":
        from sbi_neuro.api.catalogue import RunRecord

        columns = [f.name for f in fields(RunRecord)]
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([json.dumps(row[c]) if isinstance(row[c], dict) else row[c] for c in columns])
        return
    if not rows:
        print(f"no runs in {location}")
        return
    cells = [
        [_cell(row[c] if c != "folder" else row["folder"] or row["metadata_path"]) for c in TABLE_COLUMNS]
        for row in rows
    ]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(TABLE_COLUMNS)]

    def line(values: list[str] | tuple[str, ...]) -> str:
        parts = [
            v.rjust(w) if c in NUMERIC else v.ljust(w)
            for v, w, c in zip(values, widths, TABLE_COLUMNS, strict=True)
        ]
        return "  ".join(parts).rstrip()

    print(line(TABLE_COLUMNS))
    for r in cells:
        print(line(r))
