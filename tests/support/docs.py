"""Reading the documentation as the docs tests check it: pages, links, headings, settings."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import ROOT

DOCS = ROOT / "docs"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
REPO_PATH = re.compile(r"`((?:ordersync|shops|trades|tests|templates|docs)/[\w./-]*)`")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
READERS = re.compile(
    r"(?:read|boolean|positive_int|non_negative_int|positive_number|matching|time_zone"
    r'|env\.str)\(\s*"([A-Z][A-Z0-9_]+)"'
)
SETTINGS_SOURCES = ("ordersync/settings.py", "ordersync/gunicorn.conf.py")


def pages() -> list[Path]:
    """The English pages of `docs/`."""
    return sorted(DOCS.glob("*.md"))


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


def links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


def broken_links(page: Path) -> list[str]:
    """The relative links of a page that land nowhere, or on no such heading."""
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{page.name}: {target}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{page.name}: {target} (no such heading)")
    return broken


def settings_read() -> set[str]:
    """Every environment variable the settings read."""
    names = set()
    for source in SETTINGS_SOURCES:
        names |= set(READERS.findall((ROOT / source).read_text()))
    return names
