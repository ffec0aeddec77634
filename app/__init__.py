"""The application: the command line, the demo and the daemon's conductor.

The top floor. It may import every package below it (alerts, crawler, storage and the
ground floor, `sendwatch`); nothing below imports it (import-linter's layers contract
in pyproject.toml keeps it so).
"""
