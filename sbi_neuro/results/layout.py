"""The files at the top of a run folder (the README's table says what each holds).

Analyses write into their own sub-folders (``analysis/``, ``predictive/``, ``calibration/``,
``path/``), named where they are written.
"""

from __future__ import annotations

CONFIG = "config.json"  # the resolved RunConfig: what a re-run must match to continue
TARGET = "target.npz"  # the target as fitted (time, traces or features, source)
BANK = "bank"  # every simulation, numbered batch files
SUMMARY = "summary.json"  # the run's record (the result's ``summary``)
METADATA = "metadata.json"  # Neuroptimus fields
EVALUATIONS = "evaluations.csv"  # every evaluation in charge order
FAULT_LOG = "faults.json"  # simulations that hung or crashed their process, and why
POSTERIOR = "posterior"  # the trained networks (Bayesian runs; TSNPE: posterior_round<r>)
POSTERIOR_SAMPLES = "posterior_samples.csv"  # 1,000 posterior samples at the target
PLOTS = "plots"  # best_fit.png, convergence.png, pairplot.png, posterior_predictive.png
REPORT = "report.html"  # the run on one page
