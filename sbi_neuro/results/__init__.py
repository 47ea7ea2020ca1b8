"""A run on disk: its folder (created, resumed, reopened), what it writes at its end (summary,
Neuroptimus metadata, tables, plots), the results index of every run, the one-page report, and the
comparison tables across methods."""
