"""Secrets for operator commands, kept out of the process list.

Every user on a host can read any process's arguments (``ps``, ``/proc/*/cmdline``), and
shells keep them in their history. So a command takes its secret from an environment
variable, or from its standard input when the option is ``-``; a value written on the
command line still works, with a warning.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError

STDIN = "-"


def read_secret(
    given: str | None,
    env_name: str,
    option: str,
    stdin: TextIO | None = None,
    warn: Callable[[str], None] | None = None,
) -> str:
    """The secret: ``given`` (``-``: the first line of stdin), else ``env_name``'s value.

    Raise ``CommandError`` naming both ways if neither holds one; ``warn`` is called with a
    message when the secret came from the command line.
    """
    if given == STDIN:
        value = (stdin or sys.stdin).readline().rstrip("\r\n")
        source = "standard input"
    elif given is not None:
        value, source = given, option
        if warn:
            warn(
                f"{option} on the command line is visible to every user of this host (ps); "
                f"prefer {env_name}=… in the environment or {option} - with the secret on stdin"
            )
    else:
        value, source = os.environ.get(env_name, ""), env_name
    if not value:
        raise CommandError(
            f"no secret in {source}: set {env_name} in the environment or pass {option} - "
            f"and write it on standard input"
        )
    return value


class ReadsSecrets(BaseCommand):
    """For a command taking secrets: ``self.secret(...)`` reads one as :func:`read_secret`
    does; ``call_command(..., stdin=…)`` stands in for standard input (as createsuperuser)."""

    stealth_options: tuple[str, ...] = ("stdin",)

    def execute(self, *args: Any, **options: Any) -> str | None:
        self._stdin = options.pop("stdin", None)
        return super().execute(*args, **options)

    def secret(self, given: str | None, env_name: str, option: str) -> str:
        def warn(message: str) -> None:
            self.stderr.write(self.style.WARNING(message))

        return read_secret(given, env_name, option, getattr(self, "_stdin", None), warn)
