"""What a finished posterior says: its structure (ArviZ export, constraint, correlations), posterior
predictive checks, calibration on held-out simulations, and connecting paths between solutions."""
