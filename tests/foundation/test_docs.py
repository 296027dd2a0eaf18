"""The docs navigate: the README's map and `docs/` agree, every link lands, nothing is cited
that the repository does not hold, and the generated benchmark page is what its generator
writes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.support import ROOT
from tests.support.docs import DOCS, LINK, REPO_PATH, broken_links, pages
from tools.bench import report

# Written in parts so that this file does not name what it looks for.
OUTSIDE = [
    "../" + "shared",
    "shared/" + "top-api",
    "top-" + "api.md",
    "top-" + "api §",
    "DESIGN" + ".md",
    "STYLE" + ".md",
    "seed " + "article",
]


def docs_map() -> set[str]:
    """The `docs/*.md` pages the README's documentation map links to."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Documentation", 1)[1].split("\n## ", 1)[0]
    return {target for target in LINK.findall(table) if target.startswith("docs/")}


def project_files() -> list[Path]:
    """What git tracks or would track; without git, the tree but local state."""
    git = shutil.which("git")
    listing = subprocess.run(
        [git or "false", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if git and listing.returncode == 0:
        files = [ROOT / name for name in listing.stdout.splitlines() if name]
    else:
        local = {".git", ".venv", ".data", ".hypothesis", ".ruff_cache", "__pycache__", "artifacts"}
        files = [f for f in ROOT.rglob("*") if not local & set(f.relative_to(ROOT).parts)]
    return [f for f in files if f.is_file() and f.suffix not in {".png", ".pickle", ".gz", ".pyc"}]


def test_the_readme_is_a_front_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 200
    for heading in ("## Quick start", "## Documentation", "## Layout"):
        assert heading in readme


def test_the_docs_map_and_the_docs_folder_agree():
    linked = docs_map()
    assert len(linked) >= 10, linked
    missing = {target for target in linked if not (ROOT / target).is_file()}
    assert missing == set(), "linked from the README's map but absent"
    unlinked = {f"docs/{page.name}" for page in pages()} - linked
    assert unlinked == set(), "pages of docs/ missing from the README's map"


def test_every_relative_link_lands():
    broken = []
    for page in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *pages()]:
        broken += broken_links(page)
    assert broken == []


def test_every_path_the_docs_name_exists():
    named = {
        (page.name, path)
        for page in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *pages()]
        for path in REPO_PATH.findall(page.read_text(encoding="utf-8"))
    }
    assert len(named) > 50
    assert sorted((page, path) for page, path in named if not (ROOT / path).exists()) == []


def test_nothing_cites_what_the_repository_does_not_hold():
    found = []
    for path in project_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [f"{path.relative_to(ROOT)}: {word}" for word in OUTSIDE if word in text]
    assert found == []


def test_the_quick_start_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'"
    assert f"```bash\n{install} && .venv/bin/python manage.py demo\n```" in readme
    assert "```bash\n.venv/bin/python -m pytest\n```" in readme
    ci = (ROOT / ".ci" / "run").read_text().replace(" --quiet", "")
    for command in [*install.split(" && "), ".venv/bin/python -m pytest"]:
        assert f"\n{command}\n" in ci, command


def test_the_benchmark_pages_are_what_bench_writes_from_its_figures():
    results = json.loads((DOCS / "benchmarks.json").read_text())
    for language, page in report.pages(DOCS / "benchmarks.md").items():
        assert report.notes(page), f"the notes of {page.name} ({language}) lost their markers"
        assert report.markdown(results, report.notes(page), language) == page.read_text()


def test_the_chinese_benchmark_page_is_rendered_in_chinese():
    results = json.loads((DOCS / "benchmarks.json").read_text())
    page = report.markdown(results, language="zh-hans")
    assert page.startswith("# 基准测试\n\n[English](../benchmarks.md) · 简体中文\n")
    assert "## 目标与限制" in page and "| 数字 | 值 |" in page
    assert results["machine"]["git_commit"] in page
    assert "Aims and limits" not in page and "English" not in report.markdown(results)


def test_a_part_measured_alone_leaves_the_others_at_their_commit(tmp_path):
    """``bench --only api`` at a later commit: the page names both commits, and each part's
    section the commit it was measured at."""
    results = json.loads((DOCS / "benchmarks.json").read_text())
    path = tmp_path / "benchmarks.json"
    path.write_text(
        json.dumps({"parts": {n: {**p, "git_commit": "aaa"} for n, p in results["parts"].items()}})
    )
    api = {**results["parts"]["api"], "git_commit": "bbb"}
    merged = report.merge(path, {**results["machine"], "git_commit": "bbb"}, {"api": api})
    assert report.commits(merged) == ["bbb", "aaa"]
    page = report.markdown(merged)
    assert "- commit bbb, aaa" in page
    assert page.count("at commit aaa") == len(results["parts"]) - 1
    assert page.count("at commit bbb") == 1


def test_bench_keeps_the_notes_of_each_page_when_it_rewrites_them(tmp_path):
    results = json.loads((DOCS / "benchmarks.json").read_text())
    pages = report.pages(tmp_path / "benchmarks.md")
    kept = {}
    for language, page in pages.items():
        kept[language] = f"{report.NOTES_START}\nhand-written in {language}\n{report.NOTES_END}"
        page.parent.mkdir(exist_ok=True)
        page.write_text(f"# old page\n\n{kept[language]}\n\nold figures\n")
    report.write_markdown(pages["en"], results)
    for language, page in pages.items():
        written = page.read_text()
        assert kept[language] in written and "old figures" not in written
        assert written == report.markdown(results, kept[language], language)
