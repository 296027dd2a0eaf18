"""The Chinese docs keep up with the English ones: every page has its counterpart, the two name
the same commands, settings and metrics, and every link of a Chinese page lands."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import ROOT
from tests.support.docs import REPO_PATH, broken_links, pages, settings_read

ZH = ROOT / "docs" / "zh"
COUNTERPARTS = {ROOT / "README.md": ROOT / "README.zh-CN.md"} | {
    page: ZH / page.name for page in pages()
}
CODE = re.compile(r"```.*?```|`[^`]+`", re.S)
WORD = re.compile(r"\b[A-Z][A-Z0-9_]+\b")
COMMAND = re.compile(r"manage\.py ([a-z][a-z0-9_]+)")
METRIC = re.compile(r"\bordersync_[a-z0-9_]+")


def named(page: Path) -> set[str]:
    """What a page names in code: settings, `manage.py` commands and metric series."""
    code = " ".join(CODE.findall(page.read_text(encoding="utf-8")))
    commands = {f"manage.py {name}" for name in COMMAND.findall(code)}
    settings = set(WORD.findall(code)) & settings_read()
    return settings | commands | set(METRIC.findall(code))


def test_every_english_page_has_its_chinese_counterpart():
    missing = [str(zh.relative_to(ROOT)) for zh in COUNTERPARTS.values() if not zh.is_file()]
    assert missing == []
    extra = {p.name for p in ZH.glob("*.md")} - {p.name for p in pages()}
    assert extra == set(), "Chinese pages without an English original"


def test_both_languages_name_the_same_commands_settings_and_metrics():
    differences = {}
    for english, chinese in COUNTERPARTS.items():
        only_en, only_zh = named(english) - named(chinese), named(chinese) - named(english)
        if only_en or only_zh:
            differences[english.name] = {"only English": only_en, "only Chinese": only_zh}
    assert differences == {}


def test_the_chinese_pages_are_chinese():
    for chinese in COUNTERPARTS.values():
        prose = CODE.sub("", chinese.read_text(encoding="utf-8"))
        han = len(re.findall(r"[\u4e00-\u9fff]", prose))
        assert han > len(prose) / 8, f"{chinese.name} is mostly untranslated"


def test_every_link_of_a_chinese_page_lands():
    broken = [link for page in COUNTERPARTS.values() for link in broken_links(page)]
    assert broken == []


def test_every_path_a_chinese_page_names_exists():
    missing = [
        f"{page.name}: {path}"
        for page in COUNTERPARTS.values()
        for path in REPO_PATH.findall(page.read_text(encoding="utf-8"))
        if not (ROOT / path).exists()
    ]
    assert missing == []


def test_each_front_page_points_to_the_other():
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    chinese = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert "(README.zh-CN.md)" in english and "(README.md)" in chinese
