"""``manage.py makemessages -l zh_Hans``: Django's, reading only the code and templates the
console and the API show (not the tests, the sandbox, the tools or the docs; of the tools, only
the renderer of the benchmark pages, which writes docs/zh/benchmarks.md in Chinese), writing
``locale/`` with file names but no line numbers (so parallel changes merge cleanly) and
dropping strings the code no longer has. CONTRIBUTING.md gives the whole workflow."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.commands import makemessages

# folders holding no string the console or the API shows
NOT_SHOWN = ["tests/*", "ordersync/sandbox/*", "tools/*", "artifacts/*", "docs/*", "deploy/*"]
# files of those folders whose strings a page in Chinese shows: the benchmark pages' renderer
SHOWN = ["tools/bench/aims.py", "tools/bench/report.py"]


class Command(makemessages.Command):
    def handle(self, *args: Any, **options: Any) -> str | None:
        options["ignore_patterns"] = [*options["ignore_patterns"], *NOT_SHOWN]
        options["add_location"] = options["add_location"] or "file"
        options["no_obsolete"] = True
        return super().handle(*args, **options)

    def find_files(self, root: str) -> list[makemessages.TranslatableFile]:
        shown = [
            self.translatable_file_class(
                os.path.join(root, os.path.dirname(path)),
                os.path.basename(path),
                self.default_locale_path,
            )
            for path in SHOWN
        ]
        # ordered by path, as Django's own list (its stubs miss TranslatableFile.__lt__)
        return sorted([*super().find_files(root), *shown])  # type: ignore[type-var]
