"""The results index and ``sbi-neuro runs``: real run folders, real SQLite databases, real processes."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sbi_neuro.cli.runs_command import add_runs_parser
from sbi_neuro.results.index import ENV_VAR, ResultsIndex

RUN_FILES = ("config.json", "summary.json", "metadata.json")
# Fields that an export + import carries over unchanged.
CARRIED = (
    "usecase",
    "method",
    "seed",
    "evaluations",
    "best_error",
    "components",
    "convergence_score",
    "wall_time_s",
    "target",
    "content_hash",
)


@pytest.fixture(scope="module")
def run_folders(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two finished UC1 CMA-ES runs (seeds 1 and 2) made by the real pipeline."""
    from sbi_neuro.api.execute import execute
    from sbi_neuro.methods.config import RunConfig

    root = tmp_path_factory.mktemp("runs")
    folders = []
    for seed in (2, 1):  # recorded out of order: query must sort by seed
        cfg = RunConfig(
            usecase="hh",
            method="cmaes",
            budget=200,
            population_size=50,
            backend="batched",
            target="simulated",
            seed=seed,
            progress=False,
        )
        folder = root / f"cmaes_seed{seed}"
        execute(cfg, folder)
        folders.append(folder)
    return folders


def copy_run(src: Path, dst: Path) -> Path:
    """The three files the index reads, copied to another folder (a distinct run folder)."""
    dst.mkdir(parents=True)
    for name in RUN_FILES:
        shutil.copy(src / name, dst / name)
    return dst


def read(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def neuroptimus_file(src: Path, dst: Path, **changes: Any) -> Path:
    """A metadata file as Neuroptimus writes it: our metadata without the fields only sbi_neuro writes
    (backend, budget, config), with ``changes`` (None deletes a key)."""
    meta = read(src / "metadata.json")
    for ours in ("backend", "budget", "config"):
        meta.pop(ours, None)
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    dst.write_text(json.dumps(meta))
    return dst


def test_record_reads_the_run_files(tmp_path: Path, run_folders: list[Path]) -> None:
    index = ResultsIndex(tmp_path / "index.sqlite")
    row = index.record_run(run_folders[1])
    config, summary, meta = (read(run_folders[1] / n) for n in RUN_FILES)
    assert row["source"] == "run"
    assert (row["usecase"], row["method"], row["backend"], row["seed"], row["budget"]) == (
        "hh",
        "cmaes",
        "batched",
        1,
        200,
    )
    assert row["evaluations"] == meta["number_of_evaluations"] == 200
    assert row["best_error"] == summary["best_error"] == meta["final_fitness"]
    assert row["convergence_score"] == meta["convergence_score"]
    assert row["wall_time_s"] == meta["wall_time_s"] > 0
    assert row["target"] == meta["target"]
    assert row["folder"] == str(run_folders[1].resolve())
    assert row["metadata_path"] == str(run_folders[1].resolve() / "metadata.json")
    assert row["settings"] == {"config": config, "algorithm": meta["algorithm"]}
    assert list(row["components"]) == ["MSE (excl. spikes)", "Spike count", "AP amplitude", "AP width"]
    for comp in meta["error_function"]:
        assert row["components"][comp["name"]] == {"value": comp["value"], "weight": comp["weight"]}
    assert row["recorded_at"].endswith("+00:00")
    assert index.metadata(row["id"]) == meta
    index.close()


def test_record_twice_updates_one_row(tmp_path: Path, run_folders: list[Path]) -> None:
    folder = copy_run(run_folders[0], tmp_path / "run")
    index = ResultsIndex(tmp_path / "index.sqlite")
    first = index.record_run(folder)
    assert index.record_run(folder)["id"] == first["id"]
    assert len(index.query()) == 1
    # The run is continued elsewhere and its files rewritten: recording again updates the row.
    meta = read(folder / "metadata.json")
    meta["final_fitness"] = meta["number_of_evaluations"] = 0
    summary = read(folder / "summary.json")
    summary["best_error"] = 0.0
    (folder / "metadata.json").write_text(json.dumps(meta))
    (folder / "summary.json").write_text(json.dumps(summary))
    updated = index.record_run(str(folder) + "/")  # another spelling of the same folder
    assert updated["id"] == first["id"]
    assert (updated["best_error"], updated["evaluations"]) == (0.0, 0)
    assert [r["best_error"] for r in index.query()] == [0.0]
    index.close()


def test_query_filters_and_order(tmp_path: Path, run_folders: list[Path]) -> None:
    index = ResultsIndex(tmp_path / "index.sqlite")
    for folder in run_folders:
        index.record_run(folder)
    imported = neuroptimus_file(
        run_folders[0], tmp_path / "pso.json", opt_name="PSO (Inspyred)", usecase=None, seed=7
    )
    index.import_metadata(imported, usecase="uc1")
    rows = index.query()
    assert [(r["usecase"], r["method"], r["seed"]) for r in rows] == [
        ("hh", "cmaes", 1),
        ("hh", "cmaes", 2),
        ("uc1", "PSO (Inspyred)", 7),
    ]
    assert [r["seed"] for r in index.query(usecase="hh")] == [1, 2]
    assert [r["seed"] for r in index.query(method="PSO (Inspyred)")] == [7]
    assert [r["seed"] for r in index.query(backend="batched")] == [1, 2]
    assert [r["seed"] for r in index.query(source="import")] == [7]
    assert [r["seed"] for r in index.query(source="run", method="cmaes")] == [1, 2]
    assert index.query(usecase="hh", source="import") == []
    with pytest.raises(ValueError, match="source must be one of"):
        index.query(source="imported")
    index.close()


def test_export_import_round_trip(tmp_path: Path, run_folders: list[Path]) -> None:
    first = ResultsIndex(tmp_path / "a.sqlite")
    for folder in run_folders:
        first.record_run(folder)
    files = first.export_metadata(tmp_path / "export")
    assert [f.name for f in files] == ["hh_cmaes_seed1.json", "hh_cmaes_seed2.json"]
    for f, folder in zip(files, reversed(run_folders), strict=True):
        assert f.read_bytes() == (folder / "metadata.json").read_bytes()
    assert not list((tmp_path / "export").glob("*.tmp"))

    second = ResultsIndex(tmp_path / "b.sqlite")
    for f in files:
        row = second.import_metadata(f)
        assert (row["source"], row["folder"], row["metadata_path"]) == ("import", None, str(f.resolve()))
    assert [f.name for f in files] == [f.name for f in second.export_metadata(tmp_path / "again")]
    for f in files:
        assert (tmp_path / "again" / f.name).read_bytes() == f.read_bytes()
        second.import_metadata(tmp_path / "again" / f.name)  # same content: no new row
    a, b = first.query(), second.query()
    assert len(b) == 2
    assert [{k: r[k] for k in CARRIED} for r in a] == [{k: r[k] for k in CARRIED} for r in b]
    assert [r["settings"]["algorithm"] for r in a] == [r["settings"]["algorithm"] for r in b]
    # The export of a row already in the first index adds nothing to it either.
    assert first.import_metadata(files[0])["source"] == "run"
    assert len(first.query()) == 2
    first.close()
    second.close()


def test_export_names_do_not_collide(tmp_path: Path, run_folders: list[Path]) -> None:
    index = ResultsIndex(tmp_path / "index.sqlite")
    index.record_run(run_folders[1])
    index.record_run(copy_run(run_folders[1], tmp_path / "same_seed_elsewhere"))
    index.import_metadata(neuroptimus_file(run_folders[0], tmp_path / "x.json", opt_name="CMAES (Cmaes)"))
    names = sorted(p.name for p in index.export_metadata(tmp_path / "out"))
    assert names == ["hh_CMAES-Cmaes_seed2.json", "hh_cmaes_seed1.json", "hh_cmaes_seed1_2.json"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names
    # Exported again into the same folder: the files are replaced, not renamed.
    assert sorted(p.name for p in index.export_metadata(tmp_path / "out")) == names
    assert len(list((tmp_path / "out").iterdir())) == 3
    index.close()


def test_export_of_a_deleted_run_uses_the_stored_json(tmp_path: Path, run_folders: list[Path]) -> None:
    folder = copy_run(run_folders[0], tmp_path / "run")
    index = ResultsIndex(tmp_path / "index.sqlite")
    index.record_run(folder)
    shutil.rmtree(folder)
    (exported,) = index.export_metadata(tmp_path / "out")
    assert exported.read_bytes() == (run_folders[0] / "metadata.json").read_bytes()
    index.close()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"final_fitness": None}, "missing field 'final_fitness'"),
        ({"opt_name": None}, "missing field 'opt_name'"),
        ({"number_of_evaluations": None}, "missing field 'number_of_evaluations'"),
        ({"final_fitness": "0.1"}, "field 'final_fitness' must be a number"),
        ({"number_of_evaluations": 200.5}, "field 'number_of_evaluations' must be a non-negative integer"),
        ({"number_of_evaluations": True}, "field 'number_of_evaluations' must be a non-negative integer"),
        ({"seed": "one"}, "field 'seed' must be an integer"),
        ({"error_function": {"MSE": 1}}, "field 'error_function' must be a list of objects"),
        ({"error_function": [{"name": "MSE", "value": "x"}]}, r"field 'error_function\[0\].value'"),
        ({"parameters": [{"unit": "mV"}]}, r"field 'parameters\[0\].name' must be a string"),
        ({"wall_time_s": [1]}, "field 'wall_time_s' must be a number"),
    ],
)
def test_malformed_metadata_names_file_and_field(
    tmp_path: Path, run_folders: list[Path], changes: dict[str, Any], message: str
) -> None:
    index = ResultsIndex(tmp_path / "index.sqlite")
    bad = neuroptimus_file(run_folders[0], tmp_path / "bad.json", **changes)
    with pytest.raises(ValueError, match=message) as err:
        index.import_metadata(bad)
    assert str(bad) in str(err.value)
    folder = copy_run(run_folders[0], tmp_path / "run")
    shutil.copy(bad, folder / "metadata.json")
    with pytest.raises(ValueError, match=message) as err:
        index.record_run(folder)
    assert str(folder / "metadata.json") in str(err.value)
    assert index.query() == []
    index.close()


def test_unreadable_run_files_are_named(tmp_path: Path, run_folders: list[Path]) -> None:
    index = ResultsIndex(tmp_path / "index.sqlite")
    folder = copy_run(run_folders[0], tmp_path / "run")
    (folder / "summary.json").unlink()
    with pytest.raises(ValueError, match=r"summary\.json: missing"):
        index.record_run(folder)
    (folder / "summary.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"summary\.json: malformed JSON"):
        index.record_run(folder)
    (folder / "summary.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"summary\.json: expected a JSON object"):
        index.record_run(folder)
    shutil.copy(run_folders[0] / "summary.json", folder / "summary.json")
    (folder / "metadata.json").unlink()
    with pytest.raises(ValueError, match=r"metadata\.json: missing"):
        index.record_run(folder)
    with pytest.raises(ValueError, match="no such directory"):
        index.record_run(tmp_path / "nowhere")
    assert index.query() == []
    index.close()


def test_import_needs_a_usecase(tmp_path: Path, run_folders: list[Path]) -> None:
    index = ResultsIndex(tmp_path / "index.sqlite")
    plain = neuroptimus_file(run_folders[0], tmp_path / "neuroptimus.json", usecase=None)
    with pytest.raises(ValueError, match=r"no 'usecase' field; give the use case \(usecase="):
        index.import_metadata(plain)
    row = index.import_metadata(plain, usecase="hh")
    assert (row["usecase"], row["source"]) == ("hh", "import")
    assert index.import_metadata(plain, usecase="hh")["id"] == row["id"]
    assert len(index.query()) == 1
    with pytest.raises(ValueError, match="usecase is 'hh', not 'uc2'"):
        index.import_metadata(run_folders[0] / "metadata.json", usecase="uc2")
    # The export carries the use case, so it imports elsewhere without one.
    (exported,) = index.export_metadata(tmp_path / "out")
    assert read(exported)["usecase"] == "hh"
    other = ResultsIndex(tmp_path / "other.sqlite")
    assert other.import_metadata(exported)["usecase"] == "hh"
    index.close()
    other.close()


def test_sqlite_url_and_persistence(tmp_path: Path, run_folders: list[Path]) -> None:
    db = tmp_path / "deep" / "folder" / "index.sqlite"
    with ResultsIndex(f"sqlite:///{db}") as index:
        index.record_run(run_folders[0])
    assert db.is_file()
    with ResultsIndex(db) as again:  # the path names the same database; creating the table is idempotent
        assert [r["seed"] for r in again.query()] == [2]
    with ResultsIndex(f"sqlite:///file:{db}?mode=ro&uri=true") as read_only:  # reads take no write lock
        assert [r["seed"] for r in read_only.query()] == [2]
        with pytest.raises(ValueError, match=r"attempt to write a readonly database$"):
            read_only.record_run(run_folders[1])
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("select usecase, method, seed, source from runs").fetchall() == [
            ("hh", "cmaes", 2, "run")
        ]


def test_default_location(tmp_path: Path, run_folders: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "env" / "ix.sqlite"
    monkeypatch.setenv(ENV_VAR, str(target))
    with ResultsIndex() as index:
        index.record_run(run_folders[0])
    assert target.is_file()
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.chdir(tmp_path)
    with ResultsIndex() as index:
        assert index.query() == []
    assert (tmp_path / "runs" / "index.sqlite").is_file()


def test_not_an_index(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("create table runs (name text)")
        conn.commit()
    with pytest.raises(ValueError, match="not a results index"):
        ResultsIndex(db)
    (tmp_path / "a_file").touch()
    with pytest.raises(ValueError, match="cannot create the folder of the results index"):
        ResultsIndex(f"sqlite:///{tmp_path}/a_file/x.sqlite")
    with pytest.raises(ValueError, match="cannot open the results index nosuchdb://"):
        ResultsIndex("nosuchdb://host/db")
    # No driver installed or no server listening: either way one clear line, password hidden.
    with pytest.raises(ValueError, match=r"cannot open the results index postgresql://u:\*\*\*@") as err:
        ResultsIndex("postgresql://u:secret@127.0.0.1:1/db")
    assert "secret" not in str(err.value)
    assert "\n" not in str(err.value)


def _record_all(location: str, folders: list[str], barrier: Any) -> None:
    """Child process: open the index, wait for the other one, record every folder."""
    index = ResultsIndex(location)
    barrier.wait(timeout=60)
    for folder in folders:
        index.record_run(folder)
    index.close()


def test_two_processes_record_concurrently(tmp_path: Path, run_folders: list[Path]) -> None:
    shared = [str(copy_run(run_folders[i % 2], tmp_path / f"shared{i}")) for i in range(20)]
    own = [[str(copy_run(run_folders[0], tmp_path / f"p{p}_{i}")) for i in range(10)] for p in range(2)]
    location = str(tmp_path / "index.sqlite")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    # Both record the shared folders (in opposite orders, so they race on the same rows) and their own.
    work = [shared + own[0], own[1] + shared[::-1]]
    procs = [ctx.Process(target=_record_all, args=(location, w, barrier)) for w in work]
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    with ResultsIndex(location) as index:
        rows = index.query()
    assert sorted(r["folder"] for r in rows) == sorted(
        str(Path(f).resolve()) for f in shared + own[0] + own[1]
    )


def cli(*argv: str) -> str:
    """Run ``runs`` through a parser built with ``add_runs_parser``; returns stdout."""
    parser = argparse.ArgumentParser(prog="sbi-neuro")
    add_runs_parser(parser.add_subparsers(required=True))
    args = parser.parse_args(["runs", *argv])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert args.func(args) == 0
    return out.getvalue()


def test_cli(tmp_path: Path, run_folders: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ix = str(tmp_path / "index.sqlite")
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert "no runs in" in cli("--index", ix)
    out = cli("--index", ix, "--record", *map(str, run_folders))
    assert out.count("recorded #") == 2
    plain = neuroptimus_file(run_folders[0], tmp_path / "n.json", usecase=None, opt_name="random")
    with pytest.raises(ValueError, match="no 'usecase' field"):
        cli("--index", ix, "--import", str(plain))
    assert "imported #3: hh random seed 2" in cli("--index", ix, "--import", str(plain), "--usecase", "hh")

    table = cli("--index", ix).splitlines()
    assert table[0].split() == [
        "usecase",
        "method",
        "backend",
        "seed",
        "evaluations",
        "best_error",
        "convergence_score",
        "wall_time_s",
        "folder",
    ]
    assert [line.split()[:4] for line in table[1:]] == [
        ["hh", "cmaes", "batched", "1"],
        ["hh", "cmaes", "batched", "2"],
        ["hh", "random", "-", "2"],
    ]
    assert table[1].split()[-1] == str(run_folders[1].resolve())
    assert table[3].split()[-1] == str(plain.resolve())  # imported rows show their file
    assert len({line.index(" 200 ") for line in table[1:]}) == 1  # aligned columns

    rows = json.loads(cli("--index", ix, "--format", "json", "--method", "cmaes"))
    assert [r["seed"] for r in rows] == [1, 2]
    assert rows[0]["components"]["AP width"]["weight"] == 0.25
    csv_lines = cli("--index", ix, "--format", "csv", "--source", "import").splitlines()
    assert csv_lines[0].startswith("id,usecase,method,backend,seed")
    assert len(csv_lines) == 2 and csv_lines[1].startswith("3,hh,random,,2,")

    out = cli("--index", ix, "--export", str(tmp_path / "exp"), "--backend", "batched")
    assert out.startswith("wrote 2 metadata file(s)")
    assert sorted(p.name for p in (tmp_path / "exp").iterdir()) == [
        "hh_cmaes_seed1.json",
        "hh_cmaes_seed2.json",
    ]

    monkeypatch.setenv(ENV_VAR, ix)  # --index defaults to $SBI_NEURO_INDEX
    assert len(cli("--usecase", "hh").splitlines()) == 4
    with pytest.raises(ValueError, match="no such directory"):
        cli("--record", str(tmp_path / "missing"))
