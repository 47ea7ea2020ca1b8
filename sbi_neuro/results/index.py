"""The results index: one row per run, in SQLite (default) or any SQLAlchemy database.

Rows come from run folders made here (``record_run``, source ``run``) or from
Neuroptimus-style ``metadata.json`` files (``import_metadata``, source ``import``).
Every row keeps the metadata JSON it was made from, so ``export_metadata`` writes
files that Neuroptimus' analysis (or another index) reads back unchanged.

Writes are one transaction each; on SQLite the transaction takes the write lock
at ``BEGIN IMMEDIATE`` (so two processes never deadlock upgrading a read lock)
and a locked database is retried briefly. ``sbi_neuro.api.catalogue`` holds the library functions
behind ``sbi-neuro runs``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.schema import CreateIndex, CreateTable

from sbi_neuro.core.files import atomic_write_text
from sbi_neuro.core.validation import is_integer, is_number

ENV_VAR = "SBI_NEURO_INDEX"
DEFAULT_LOCATION = Path("runs") / "index.sqlite"
SOURCES = ("run", "import")
_LOCK_RETRIES = 6
_BUSY_TIMEOUT_S = 15.0

_meta = sa.MetaData()
RUNS = sa.Table(
    "runs",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # "run:<folder>" or "import:<sha256>": what an upsert matches on.
    sa.Column("key", sa.String(1024), nullable=False, unique=True),
    sa.Column("usecase", sa.String(200), nullable=False),
    sa.Column("method", sa.String(200), nullable=False),
    sa.Column("backend", sa.String(100)),
    sa.Column("seed", sa.Integer),
    sa.Column("budget", sa.Integer),
    sa.Column("evaluations", sa.Integer, nullable=False),
    sa.Column("best_error", sa.Float, nullable=False),
    sa.Column("components", sa.JSON, nullable=False),  # name -> {"value", "weight"}
    sa.Column("convergence_score", sa.Float),
    sa.Column("wall_time_s", sa.Float),
    sa.Column("settings", sa.JSON, nullable=False),  # {"config": ..., "algorithm": ...}
    sa.Column("target", sa.String(1000)),
    sa.Column("folder", sa.String(1024), unique=True),  # run folder (None for imports)
    sa.Column("metadata_path", sa.String(1024)),
    sa.Column("source", sa.String(10), nullable=False),
    sa.Column("recorded_at", sa.String(40), nullable=False),  # UTC, ISO 8601
    sa.Column("content_hash", sa.String(64), nullable=False),  # sha256 of metadata_json
    sa.Column("metadata_json", sa.Text, nullable=False),  # the Neuroptimus metadata, verbatim
    sa.Index("ix_runs_usecase_method", "usecase", "method"),
    sa.Index("ix_runs_content_hash", "content_hash"),
)
# What ``query`` returns for each row (the verbatim metadata is left to ``metadata``/``export_metadata``).
PUBLIC_COLUMNS = tuple(c.name for c in RUNS.columns if c.name not in ("key", "metadata_json"))

T = TypeVar("T")


class ResultsIndex:
    """The ``runs`` table in a database.

    Args:
        location: a file path (an SQLite database, parent folders created) or an SQLAlchemy URL
            (``sqlite:///runs/index.sqlite``, ``postgresql://user@host/db``). Default:
            ``$SBI_NEURO_INDEX`` if set, else ``runs/index.sqlite`` under the current directory.
    """

    def __init__(self, location: str | Path | None = None) -> None:
        if location is None or str(location) == "":
            location = os.environ.get(ENV_VAR) or DEFAULT_LOCATION
        self.url = _to_url(location)
        self.location = self.url.render_as_string(hide_password=True)
        self._engine = _engine(self.url)
        try:
            with self._reader() as conn:
                exists = sa.inspect(conn).has_table("runs")
            if not exists:  # (IF NOT EXISTS: another process may be creating it too)
                self._write(_create_schema)
            with self._reader() as conn:
                _check_schema(conn, self.location)
        except (sa_exc.SQLAlchemyError, ValueError) as err:
            self.close()
            if isinstance(err, ValueError):
                raise
            raise ValueError(f"cannot open the results index {self.location}: {_one_line(err)}") from None

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> ResultsIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultsIndex({self.location!r})"

    # ----------------------------------------------------------------- writing

    def record_run(self, folder: str | Path) -> dict[str, Any]:
        """Add (or update) the finished run in ``folder``; returns its row.

        Reads ``config.json``, ``summary.json`` and ``metadata.json``; the same folder
        recorded again updates its row.
        """
        folder = Path(folder).resolve()
        if not folder.is_dir():
            raise ValueError(f"{folder}: not a run folder (no such directory)")
        config = _read_json(folder / "config.json")
        summary = _read_json(folder / "summary.json")
        meta_path = folder / "metadata.json"
        meta_text = _read_text(meta_path)
        meta = _parse_metadata(meta_text, meta_path)
        for name in ("usecase", "method"):
            if not isinstance(config.get(name), str) or not config[name]:
                raise ValueError(f"{folder / 'config.json'}: field {name!r} must be a non-empty string")
        for name in ("seed", "budget"):
            if config.get(name) is not None and not is_integer(config[name]):
                raise ValueError(f"{folder / 'config.json'}: field {name!r} must be an integer")
        if meta.get("usecase") not in (None, config["usecase"]):
            raise ValueError(
                f"{meta_path}: usecase {meta['usecase']!r} differs from config.json's {config['usecase']!r}"
            )
        best_error = summary.get("best_error", meta["final_fitness"])
        if not is_number(best_error):
            raise ValueError(f"{folder / 'summary.json'}: field 'best_error' must be a number")
        wall = meta.get("wall_time_s", summary.get("wall_time_s"))
        row = {
            "key": f"run:{folder}",
            "usecase": config["usecase"],
            "method": config["method"],
            "backend": config.get("backend"),
            "seed": config.get("seed"),
            "budget": config.get("budget"),
            "evaluations": int(meta["number_of_evaluations"]),
            "best_error": float(best_error),
            "components": _components(meta),
            "convergence_score": meta.get("convergence_score"),
            "wall_time_s": wall if is_number(wall) else None,
            "settings": {"config": config, "algorithm": meta.get("algorithm")},
            "target": _target(meta.get("target", config.get("target"))),
            "folder": str(folder),
            "metadata_path": str(meta_path),
            "source": "run",
            "recorded_at": _now(),
            "content_hash": _sha256(meta_text),
            "metadata_json": meta_text,
        }
        return self._write(lambda conn: _upsert(conn, row))

    def import_metadata(self, path: str | Path, usecase: str | None = None) -> dict[str, Any]:
        """Add a Neuroptimus-style ``metadata.json``; returns its row.

        Args:
            path: the metadata file.
            usecase: the use case, for files that do not name one (Neuroptimus' own files);
                must agree with the file's if both are given.

        Importing the same content again (or the export of a row already in this index)
        returns the existing row instead of adding one.
        """
        path = Path(path).resolve()
        text = _read_text(path)
        meta = _parse_metadata(text, path)
        if meta.get("usecase") is None:
            if not usecase:
                raise ValueError(f"{path}: no 'usecase' field; give the use case (usecase= or --usecase)")
            meta = {**meta, "usecase": usecase}
            text = json.dumps(meta, indent=1)  # exports then carry the use case
        elif usecase and usecase != meta["usecase"]:
            raise ValueError(f"{path}: usecase is {meta['usecase']!r}, not {usecase!r} as given")
        digest = _sha256(text)
        backend = meta.get("backend")
        row = {
            "key": f"import:{digest}",
            "usecase": meta["usecase"],
            "method": meta["opt_name"],
            "backend": backend if isinstance(backend, str) else None,
            "seed": meta.get("seed"),
            "budget": None,
            "evaluations": int(meta["number_of_evaluations"]),
            "best_error": float(meta["final_fitness"]),
            "components": _components(meta),
            "convergence_score": meta.get("convergence_score"),
            "wall_time_s": meta.get("wall_time_s"),
            "settings": {"config": meta.get("config"), "algorithm": meta.get("algorithm")},
            "target": _target(meta.get("target")),
            "folder": None,
            "metadata_path": str(path),
            "source": "import",
            "recorded_at": _now(),
            "content_hash": digest,
            "metadata_json": text,
        }

        def write(conn: sa.Connection) -> dict[str, Any]:
            same = RUNS.select().where(RUNS.c.content_hash == digest).order_by(RUNS.c.id).limit(1)
            existing = conn.execute(same).mappings().first()
            if existing is not None:
                return _public(existing)
            return _upsert(conn, row)

        return self._write(write)

    # ----------------------------------------------------------------- reading

    def query(
        self,
        usecase: str | None = None,
        method: str | None = None,
        backend: str | None = None,
        source: str | None = None,
    ) -> list[dict[str, Any]]:
        """Rows matching every given filter, ordered by use case, method, seed."""
        return [_public(r) for r in self._select(usecase, method, backend, source)]

    def metadata(self, row_id: int) -> dict[str, Any]:
        """The Neuroptimus metadata stored with row ``row_id`` (statistics included)."""
        try:
            with self._reader() as conn:
                text = conn.execute(sa.select(RUNS.c.metadata_json).where(RUNS.c.id == row_id)).scalar()
        except sa_exc.SQLAlchemyError as err:
            raise ValueError(f"{self.location}: {_one_line(err)}") from None
        if text is None:
            raise ValueError(f"no row with id {row_id} in {self.location}")
        return dict(json.loads(text))

    def export_metadata(
        self,
        out_dir: str | Path,
        usecase: str | None = None,
        method: str | None = None,
        backend: str | None = None,
        source: str | None = None,
    ) -> list[Path]:
        """Write each (matching) row's metadata as ``<usecase>_<method>_seed<seed>[_<n>].json``.

        A recorded run's current ``metadata.json`` is copied; if its folder is gone, or for
        imported rows, the stored JSON is written. Files are written atomically; an
        existing file of the same name is replaced.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        taken: set[str] = set()
        for row in self._select(usecase, method, backend, source):
            seed = "NA" if row["seed"] is None else str(row["seed"])
            stem = f"{_slug(row['usecase'])}_{_slug(row['method'])}_seed{seed}"
            name, n = f"{stem}.json", 1
            while name in taken:
                n += 1
                name = f"{stem}_{n}.json"
            taken.add(name)
            text = row["metadata_json"]
            if row["source"] == "run" and row["metadata_path"] and Path(row["metadata_path"]).is_file():
                text = Path(row["metadata_path"]).read_text()
            atomic_write_text(out / name, text)
            written.append(out / name)
        return written

    # ----------------------------------------------------------------- plumbing

    def _select(
        self, usecase: str | None, method: str | None, backend: str | None, source: str | None
    ) -> list[sa.RowMapping]:
        if source is not None and source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        stmt = RUNS.select()
        for column, value in (
            ("usecase", usecase),
            ("method", method),
            ("backend", backend),
            ("source", source),
        ):
            if value is not None:
                stmt = stmt.where(RUNS.c[column] == value)
        stmt = stmt.order_by(RUNS.c.usecase, RUNS.c.method, RUNS.c.seed, RUNS.c.id)
        try:
            with self._reader() as conn:
                return list(conn.execute(stmt).mappings())
        except sa_exc.SQLAlchemyError as err:
            raise ValueError(f"{self.location}: {_one_line(err)}") from None

    def _reader(self) -> sa.Connection:
        # A read needs no write lock (and works on a read-only SQLite file).
        return self._engine.connect().execution_options(sqlite_begin="DEFERRED")

    def _write(self, work: Callable[[sa.Connection], T]) -> T:
        """Run ``work`` in one transaction; retry if the database is locked or a concurrent
        writer inserted the same key first. Database errors become one-line ``ValueError``s."""
        for attempt in range(_LOCK_RETRIES):
            try:
                with self._engine.begin() as conn:
                    return work(conn)
            except sa_exc.SQLAlchemyError as err:
                retry = isinstance(err, sa_exc.IntegrityError) or _is_lock_error(err)
                if not retry or attempt == _LOCK_RETRIES - 1:
                    raise ValueError(f"{self.location}: {_one_line(err)}") from None
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")


# --------------------------------------------------------------------- helpers


def _to_url(location: str | Path) -> sa.URL:
    text = str(location)
    if "://" in text:
        try:
            url = sa.make_url(text)
        except sa_exc.ArgumentError as err:
            raise ValueError(f"not a database URL: {text!r} ({err})") from None
    else:
        url = sa.URL.create("sqlite", database=str(Path(text).expanduser().resolve()))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        db = url.database or ""
        if not db.startswith("file:"):
            parent = Path(db).expanduser().resolve().parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise ValueError(f"cannot create the folder of the results index {parent}: {err}") from None
    return url


def _engine(url: sa.URL) -> sa.Engine:
    if url.get_backend_name() != "sqlite":
        try:
            return sa.create_engine(url, pool_pre_ping=True)
        except (ModuleNotFoundError, sa_exc.NoSuchModuleError) as err:
            where = url.render_as_string(hide_password=True)
            raise ValueError(f"cannot open the results index {where}: {err}") from None
    engine = sa.create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT_S})

    # SQLAlchemy's recipe for pysqlite: let SQLAlchemy emit BEGIN, so that writes take the
    # write lock at once (BEGIN IMMEDIATE) and wait for it with the busy timeout.
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'IMMEDIATE')}")

    return engine


def _create_schema(conn: sa.Connection) -> None:
    conn.execute(CreateTable(RUNS, if_not_exists=True))
    for index in RUNS.indexes:
        conn.execute(CreateIndex(index, if_not_exists=True))


def _check_schema(conn: sa.Connection, location: str) -> None:
    present = {c["name"] for c in sa.inspect(conn).get_columns("runs")}
    missing = [c.name for c in RUNS.columns if c.name not in present]
    if missing:
        raise ValueError(f"the 'runs' table in {location} is not a results index (no columns {missing})")


def _upsert(conn: sa.Connection, row: dict[str, Any]) -> dict[str, Any]:
    """Update the row with ``row['key']``, or insert it."""
    updated = conn.execute(RUNS.update().where(RUNS.c.key == row["key"]).values(**row))
    if updated.rowcount == 0:
        conn.execute(RUNS.insert().values(**row))
    return _public(conn.execute(RUNS.select().where(RUNS.c.key == row["key"])).mappings().one())


def _public(row: sa.RowMapping) -> dict[str, Any]:
    return {name: row[name] for name in PUBLIC_COLUMNS}


def _is_lock_error(err: sa_exc.SQLAlchemyError) -> bool:
    text = str(getattr(err, "orig", err)).lower()
    return "locked" in text or "busy" in text or "deadlock" in text


def _one_line(err: BaseException) -> str:
    orig = getattr(err, "orig", None)
    return " ".join(str(orig if orig is not None else err).split())


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise ValueError(
            f"{path}: missing (a finished run folder has config.json, summary.json and metadata.json)"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot be read ({err})") from None


def _load(text: str, path: Path) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: malformed JSON ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _read_json(path: Path) -> dict[str, Any]:
    return _load(_read_text(path), path)


def _parse_metadata(text: str, path: Path) -> dict[str, Any]:
    """Parse and check a Neuroptimus-style metadata file; errors name the file and the field."""
    meta = _load(text, path)

    def bad(field: str, expected: str) -> ValueError:
        return ValueError(f"{path}: field {field!r} must be {expected}, got {meta.get(field)!r}")

    for name in ("opt_name", "final_fitness", "number_of_evaluations"):
        if name not in meta:
            raise ValueError(
                f"{path}: missing field {name!r} (Neuroptimus metadata needs opt_name, "
                "final_fitness, number_of_evaluations)"
            )
    if not isinstance(meta["opt_name"], str) or not meta["opt_name"]:
        raise bad("opt_name", "a non-empty string")
    if not is_number(meta["final_fitness"]):
        raise bad("final_fitness", "a number")
    if not is_integer(meta["number_of_evaluations"]) or meta["number_of_evaluations"] < 0:
        raise bad("number_of_evaluations", "a non-negative integer")
    if meta.get("seed") is not None and not is_integer(meta["seed"]):
        raise bad("seed", "an integer")
    if meta.get("usecase") is not None and (not isinstance(meta["usecase"], str) or not meta["usecase"]):
        raise bad("usecase", "a non-empty string")
    for name in ("convergence_score", "wall_time_s"):
        if meta.get(name) is not None and not is_number(meta[name]):
            raise bad(name, "a number")
    if meta.get("algorithm") is not None and not isinstance(meta["algorithm"], dict | str):
        raise bad("algorithm", "an object {name, settings}")
    for name in ("parameters", "error_function", "statistics"):
        items = meta.get(name, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise bad(name, "a list of objects")
    for i, item in enumerate(meta.get("parameters", [])):
        if not isinstance(item.get("name"), str):
            raise ValueError(
                f"{path}: field 'parameters[{i}].name' must be a string, got {item.get('name')!r}"
            )
    for i, item in enumerate(meta.get("error_function", [])):
        if not isinstance(item.get("name"), str):
            raise ValueError(
                f"{path}: field 'error_function[{i}].name' must be a string, got {item.get('name')!r}"
            )
        for key in ("value", "weight"):
            if item.get(key) is not None and not is_number(item[key]):
                raise ValueError(
                    f"{path}: field 'error_function[{i}].{key}' must be a number, got {item[key]!r}"
                )
    return meta


def _components(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        c["name"]: {"value": c.get("value"), "weight": c.get("weight")}
        for c in meta.get("error_function", [])
    }


def _target(value: Any) -> str | None:
    return None if value is None else str(value)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-") or "unnamed"
