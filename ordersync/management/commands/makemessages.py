"""``manage.py makemessages -l zh_Hans``: Django's, reading only the code and templates the
console and the API show (not the tests, the sandbox, the tools or the docs), writing
``locale/`` with file names but no line numbers (so parallel changes merge cleanly) and
dropping strings the code no longer has. CONTRIBUTING.md gives the whole workflow."""

from __future__ import annotations

from typing import Any

from django.core.management.commands import makemessages

# folders holding no string the console or the API shows
NOT_SHOWN = ["tests/*", "ordersync/sandbox/*", "tools/*", "artifacts/*", "docs/*", "deploy/*"]


class Command(makemessages.Command):
    def handle(self, *args: Any, **options: Any) -> str | None:
        options["ignore_patterns"] = [*options["ignore_patterns"], *NOT_SHOWN]
        options["add_location"] = options["add_location"] or "file"
        options["no_obsolete"] = True
        return super().handle(*args, **options)
