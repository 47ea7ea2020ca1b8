"""Priors: named parameters with units, bounds and linear or log scales."""

from priors.parameters import Parameter, Prior, Scale

__all__ = ["Parameter", "Prior", "Scale"]
