"""``manage.py compilemessages``: Django's, compiling our ``locale/`` only (never the
installed packages' catalogues in a virtual environment under the project)."""

from __future__ import annotations

from typing import Any

from django.core.management.commands import compilemessages

NOT_OURS = [".*", "venv", "build", "node_modules"]


class Command(compilemessages.Command):
    def handle(self, **options: Any) -> None:
        options["ignore_patterns"] = [*options["ignore_patterns"], *NOT_OURS]
        return super().handle(**options)
