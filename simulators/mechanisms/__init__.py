"""NMODL mechanisms of the project: compiled on demand with nrnivmodl, loaded once per process.

The CA1 pyramidal cell mechanisms (UC6) live in ``simulators/mechanisms/ca1/*.mod``.
``ensure_compiled`` builds them into ``simulators/mechanisms/ca1/build/<digest>/`` (git
ignores ``build/``), where ``<digest>`` hashes the .mod sources, the NEURON version and the
machine type: a build is reused until one of them changes. Builds happen in a temporary
folder that is renamed into place, under a file lock, so two processes calling it at once
compile at most once and never see a half-written library.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

CA1_MOD_DIR = Path(__file__).resolve().parent / "ca1"
CA1_BUILD_ROOT = CA1_MOD_DIR / "build"
CA1_MECHANISMS = (
    "ca1_na_soma",
    "ca1_na_dend",
    "ca1_na_axon",
    "ca1_kdr",
    "ca1_ka_prox",
    "ca1_ka_dist",
    "ca1_km",
    "ca1_kd",
    "ca1_h_prox",
    "ca1_h_dist",
)
STAMP_FILE = "SOURCES.sha256"
_STALE_BUILD_AGE_S = 3600.0  # older builds of other sources are removed after this long

_LOAD_LOCK = threading.Lock()
_LOADED: Path | None = None


class MechanismError(RuntimeError):
    """The mechanisms could not be compiled or loaded; the message says why and what to do."""


def sources_digest(mod_dir: Path = CA1_MOD_DIR) -> str:
    """SHA-256 of the .mod files (names and bytes), the NEURON version and the machine type."""
    mods = sorted(mod_dir.glob("*.mod"))
    if not mods:
        raise MechanismError(f"no .mod files in {mod_dir}")
    digest = hashlib.sha256()
    for path in mods:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(f"neuron={_neuron_version()} machine={platform.machine()}".encode())
    return digest.hexdigest()


def ensure_compiled(mod_dir: Path = CA1_MOD_DIR, build_root: Path | None = None) -> Path:
    """Compile ``mod_dir/*.mod`` unless an up-to-date build exists; returns the build folder.

    The folder holds ``<machine>/libnrnmech.*`` (what ``load_ca1_mechanisms`` loads) and
    ``SOURCES.sha256``. Raises ``MechanismError`` when nrnivmodl is missing or fails.
    """
    mod_dir = Path(mod_dir)
    build_root = Path(build_root) if build_root is not None else mod_dir / "build"
    digest = sources_digest(mod_dir)
    target = build_root / digest[:16]
    if _is_complete(target, digest):
        return target
    build_root.mkdir(parents=True, exist_ok=True)
    with _file_lock(build_root / ".lock"):
        if _is_complete(target, digest):  # another process finished it while we waited
            return target
        nrnivmodl = find_nrnivmodl()
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=build_root))
        try:
            for mod in sorted(mod_dir.glob("*.mod")):
                shutil.copy2(mod, tmp / mod.name)
            proc = subprocess.run([nrnivmodl], cwd=tmp, capture_output=True, text=True, timeout=900)
            if proc.returncode != 0 or _library_file(tmp) is None:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
                raise MechanismError(
                    f"nrnivmodl failed in {tmp} (exit status {proc.returncode}); last lines:\n{tail}"
                )
            names = "\n".join(p.name for p in sorted(mod_dir.glob("*.mod")))
            (tmp / STAMP_FILE).write_text(f"{digest}\n{names}\n")
            os.chmod(tmp, 0o755)  # mkdtemp makes it private
            if target.exists():  # an incomplete leftover (no stamp): replace it
                shutil.rmtree(target)
            os.rename(tmp, target)  # atomic: readers see no folder or a complete one
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        _remove_stale_builds(build_root, keep=target)
    return target


def find_nrnivmodl() -> str:
    """Path of nrnivmodl: beside this Python (a venv that is not activated), then on PATH."""
    beside = Path(sys.executable).parent / "nrnivmodl"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("nrnivmodl")
    if found is None:
        raise MechanismError(
            "nrnivmodl (NEURON's mechanism compiler) was not found beside "
            f"{sys.executable} nor on PATH. Install NEURON in this environment "
            "(pip install 'neuron>=9,<10'; the project's scripts/setup.sh does it) and make sure a "
            "C++ compiler and make are installed."
        )
    return found


def load_ca1_mechanisms() -> Path:
    """Compile if needed and load the CA1 mechanisms into this process's NEURON, once.

    Returns the build folder. Raises ``MechanismError`` if the sources changed after
    another build was loaded in this process (NEURON cannot unload a library).
    """
    global _LOADED
    with _LOAD_LOCK:
        path = ensure_compiled()
        if _LOADED is not None:
            if path != _LOADED:
                raise MechanismError(
                    f"CA1 mechanisms were loaded from {_LOADED}, but the .mod sources changed since "
                    f"(new build {path}); restart the Python process to use them"
                )
            return path
        from neuron import h

        present = _mechanism_names(h)
        if all(name in present for name in CA1_MECHANISMS):
            # Already known to NEURON, e.g. loaded by hand or auto-loaded from ./x86_64.
            _LOADED = path
            return path
        clash = [name for name in CA1_MECHANISMS if name in present]
        if clash:
            raise MechanismError(
                f"only some CA1 mechanisms are already loaded in this process ({', '.join(clash)}); "
                "another library with the same names was loaded: restart without it"
            )
        library = _library_file(path)
        if library is None:
            raise MechanismError(f"no compiled library in {path}; delete the folder and try again")
        if not h.nrn_load_dll(str(library)):
            raise MechanismError(f"NEURON could not load {library}")
        missing = [name for name in CA1_MECHANISMS if name not in _mechanism_names(h)]
        if missing:
            raise MechanismError(f"{library} does not define {', '.join(missing)}")
        _LOADED = path
        return path


def _neuron_version() -> str:
    try:
        return metadata.version("neuron")
    except metadata.PackageNotFoundError:
        return "unknown"


def _library_file(build: Path) -> Path | None:
    for pattern in ("*/libnrnmech.so", "*/libnrnmech.dylib", "*/.libs/libnrnmech.so"):
        found = sorted(build.glob(pattern))
        if found:
            return found[0]
    return None


def _is_complete(build: Path, digest: str) -> bool:
    stamp = build / STAMP_FILE
    if not stamp.is_file() or _library_file(build) is None:
        return False
    return stamp.read_text().split("\n", 1)[0].strip() == digest


def _remove_stale_builds(build_root: Path, keep: Path) -> None:
    """Remove other digests' builds not touched for an hour (a running process may still use a newer one)."""
    now = time.time()
    for entry in build_root.iterdir():
        if entry == keep or not entry.is_dir():
            continue
        try:
            if now - entry.stat().st_mtime > _STALE_BUILD_AGE_S:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (fcntl); without fcntl the atomic rename alone keeps builds whole."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _mechanism_names(h: object) -> set[str]:
    """Names of the density mechanisms NEURON knows in this process."""
    mt = h.MechanismType(0)  # type: ignore[attr-defined]
    name = h.ref("")  # type: ignore[attr-defined]
    names = set()
    for i in range(int(mt.count())):
        mt.select(i)
        mt.selected(name)
        names.add(str(name[0]))
    return names


__all__ = [
    "CA1_BUILD_ROOT",
    "CA1_MECHANISMS",
    "CA1_MOD_DIR",
    "MechanismError",
    "ensure_compiled",
    "find_nrnivmodl",
    "load_ca1_mechanisms",
    "sources_digest",
]
