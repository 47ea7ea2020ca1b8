"""The error for a missing or malformed data file, shared by every layer that reads files."""

from __future__ import annotations


class DataError(ValueError):
    """A data file or directory is missing or malformed; the message says which and why."""
