"""What every simulator returns, and the contract it keeps."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

STATUS_OK = 0
STATUS_FAILED = 1  # the simulator raised, or produced non-finite values
# Set by the executor, not the simulator: the simulation overran its time limit, or took its process down
STATUS_TIMEOUT = 2
STATUS_CRASHED = 3
STATUS_NAMES = {
    STATUS_OK: "ok",
    STATUS_FAILED: "failed",
    STATUS_TIMEOUT: "timeout",
    STATUS_CRASHED: "crashed",
}


@dataclass
class SimulationResult:
    """Traces of a batch of parameter sets.

    Attributes:
        t: sample times in ms, shape ``(T,)``.
        traces: recorded quantity, shape ``(n, n_sweeps, T)``; NaN where a
            simulation failed. One sweep per stimulus protocol.
        status: ``STATUS_OK`` or ``STATUS_FAILED`` per parameter set, shape ``(n,)``.
        messages: one short reason per failed parameter set (empty when ok).
    """

    t: np.ndarray
    traces: np.ndarray
    status: np.ndarray
    messages: list[str]

    def fail(self, rows: Iterable[int], message: str) -> None:
        """Mark ``rows`` failed with ``message`` (their traces stay NaN)."""
        for i in rows:
            self.status[i], self.messages[i] = STATUS_FAILED, message

    def store(self, i: int, values: np.ndarray, quantity: str = "voltage") -> None:
        """Keep row ``i``'s recorded ``values`` (broadcast to ``(n_sweeps, T)``), or fail the row
        with "non-finite ``quantity``" when any value is NaN or infinite."""
        if np.all(np.isfinite(values)):
            self.traces[i] = values
        else:
            self.fail([i], f"non-finite {quantity}")


class Simulator(Protocol):
    """A picklable object that maps a batch θ (n, d) in physical units to traces.

    It builds its model lazily inside the process that calls it, so it can be
    sent to worker processes. It never raises for a bad parameter set: the
    result marks it failed and fills its traces with NaN.
    """

    def __call__(self, theta: np.ndarray, seed: int) -> SimulationResult: ...

    @property
    def sweep_names(self) -> list[str]: ...

    @property
    def t(self) -> np.ndarray:
        """The protocol's sample times (ms)."""
        ...


def simulate_part(simulator: Simulator, theta: np.ndarray, seed: int, first_row: int = 0) -> SimulationResult:
    """Rows ``first_row, first_row + 1, …`` of a batch simulated with ``seed``, on their own.

    A noisy simulator whose row i draws from its own stream (``SeedSequence([seed, i])``)
    takes the rows' position as ``first_row`` and gives exactly what they give inside the
    batch; a deterministic one gives that anyway. A simulator with one stream for the
    whole batch (``HHMCurrentBrian2``) cannot: its rows alone draw other (equally valid) noise.
    """
    if first_row and "first_row" in inspect.signature(simulator.__call__).parameters:
        return simulator(theta, seed, first_row=first_row)  # type: ignore[call-arg]
    return simulator(theta, seed)


def theta_batch(theta: np.ndarray, dim: int, model: str) -> np.ndarray:
    """θ as a float array ``(n, dim)`` (one row may be given as ``(dim,)``); ValueError names ``model``."""
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    if theta.ndim != 2 or theta.shape[1] != dim:
        raise ValueError(f"{model} takes θ of shape (n, {dim}), got {theta.shape}")
    return theta


def noise_seed(seed: int) -> int:
    """A noisy simulator's seed as an int ≥ 0 (ValueError otherwise)."""
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be ≥ 0, got {seed}")
    return seed


def nonfinite_parameters(row: np.ndarray) -> str:
    """The default row check: every parameter must be a finite number."""
    return "" if np.all(np.isfinite(row)) else "non-finite parameter"


def simulate_rows(
    theta: np.ndarray,
    t: np.ndarray,
    n_sweeps: int,
    run_row: Callable[[np.ndarray], np.ndarray],
    check_row: Callable[[np.ndarray], str] = nonfinite_parameters,
    engine: str = "NEURON",
    quantity: str = "voltage",
) -> SimulationResult:
    """Simulate θ row by row; a failing row is recorded, never raised, and the batch goes on.

    Args:
        theta: parameter sets ``(n, d)``.
        t: the protocol's sample times; ``run_row`` may return more samples (the rest is cut).
        n_sweeps: sweeps per parameter set.
        run_row: one row → recorded values ``(n_sweeps, ≥ T)`` (or ``(≥ T,)`` for one sweep).
        check_row: why a row cannot be simulated ("" if it can); checked before running it.
        engine, quantity: words for the failure messages.
    """
    n = theta.shape[0]
    traces = np.full((n, n_sweeps, t.size), np.nan)
    status = np.full(n, STATUS_OK, dtype=np.int8)
    messages = [""] * n
    for i, row in enumerate(theta):
        problem = check_row(row)
        if not problem:
            try:
                values = np.atleast_2d(run_row(row))
            except Exception as err:  # e.g. NEURON's RuntimeError on a numerical failure
                problem = f"{engine} error: {err}"
            else:
                if values.shape[1] < t.size:
                    problem = f"recorded {values.shape[1]} of {t.size} samples"
                elif not np.all(np.isfinite(values[:, : t.size])):
                    problem = f"non-finite {quantity}"
                else:
                    traces[i] = values[:, : t.size]
        if problem:
            status[i], messages[i] = STATUS_FAILED, problem
    return SimulationResult(t=t, traces=traces, status=status, messages=messages)


def screen_rows(
    theta: np.ndarray, t: np.ndarray, n_sweeps: int, check_row: Callable[[np.ndarray], str]
) -> tuple[SimulationResult, np.ndarray | None]:
    """For simulators that run a whole batch at once: an all-NaN result with the rows that
    ``check_row`` rejects already failed, and θ with each rejected row replaced by a valid
    stand-in (so the batch keeps its size), or None when no row is valid.
    """
    n = theta.shape[0]
    result = SimulationResult(
        t=t, traces=np.full((n, n_sweeps, t.size), np.nan), status=np.full(n, STATUS_OK, dtype=np.int8),
        messages=[""] * n,
    )  # fmt: skip
    for i, row in enumerate(theta):
        reason = check_row(row)
        if reason:
            result.fail([i], reason)
    valid = np.flatnonzero(result.status == STATUS_OK)
    if valid.size == 0:
        return result, None
    runnable = theta.copy()
    runnable[result.status != STATUS_OK] = theta[valid[0]]
    return result, runnable
