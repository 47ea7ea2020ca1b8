"""A method run on a problem: the run's settings (``RunConfig``), its ``Workspace``, the Bayesian
methods (NPE, TSNPE, NPE + CMA-ES) and the optimiser loop, each charged to one budget and resumable
from the bank; they return typed results (``sbi_neuro.methods.outcomes``)."""
