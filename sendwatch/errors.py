"""Every error sendwatch raises on purpose, in one place.

The CLI turns any of these into one readable line and a non-zero exit; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SendwatchError(Exception):
    """Base of the errors a user can act on."""


class ConfigError(SendwatchError):
    """The configuration file or an environment variable is wrong."""


class StoreError(SendwatchError):
    """The database cannot be reached or is not in the expected state."""


#: sysexits' EX_CONFIG: the exit code of a command that cannot run until its configuration is
#: fixed (a bot token Telegram rejects). The daemon does not restart a child that exits with it.
EXIT_FATAL_CONFIG = 78


class FatalConfigError(ConfigError):
    """A configuration error no restart can cure; the command exits EXIT_FATAL_CONFIG."""

    exit_code = EXIT_FATAL_CONFIG
