"""The console speaks Simplified Chinese: every string of ours is marked for translation and
the zh_Hans catalogue translates all of them.

Two nets. ``makemessages`` run on a copy of the project finds every marked string; none may be
untranslated or fuzzy in ``locale/zh_Hans``, and the committed ``.mo`` must be the ``.po``
compiled. The marking checks find what ``makemessages`` cannot see, strings never marked:
text in our templates outside ``{% translate %}``, and admin labels (columns, actions,
filters, fieldsets, verbose names, choices, form labels) and messages that are plain ``str``.
"""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.db import models
from django.forms import Form
from django.template.base import Lexer, TokenType
from django.utils.functional import Promise

from tests.support import ROOT

CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
OUR_APPS = ("ordersync", "taobao", "shops", "trades")
# what the project copy needs for makemessages: its code, its templates, its catalogue
COPIED = ["manage.py", "ordersync", "shops", "trades", "tools", "templates", "locale"]
WORD = re.compile(r"[A-Za-z]{2,}")


def need_gettext() -> None:
    """GNU gettext (xgettext, msgmerge, msgattrib, msgfmt) or a skip; in CI a failure."""
    missing = [tool for tool in ("xgettext", "msgattrib", "msgfmt") if not shutil.which(tool)]
    if not missing:
        return
    message = f"GNU gettext is missing ({', '.join(missing)}): apt-get install gettext"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


# --- the catalogue ----------------------------------------------------------------------------
def msgids(po_text: str) -> list[str]:
    """The msgids of a .po text (the header's empty one left out)."""
    found = re.findall(r'^msgid "(.*)"\n((?:".*"\n)*)', po_text, re.M)
    ids = [first + "".join(re.findall(r'"(.*)"', rest)) for first, rest in found]
    return [i for i in ids if i]


def problems(po: Path) -> dict[str, list[str]]:
    """The msgids of ``po`` that are untranslated and those that are fuzzy."""
    found = {}
    for kind in ("--untranslated", "--only-fuzzy"):
        out = subprocess.run(
            ["msgattrib", kind, "--no-obsolete", str(po)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found[kind.strip("-")] = msgids(out)
    return found


def project_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    for name in COPIED:
        source = ROOT / name
        target = copy / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return copy


def test_makemessages_finds_nothing_untranslated_in_zh_hans(tmp_path):
    """What a developer adds and marks shows up here until it is translated."""
    need_gettext()
    copy = project_copy(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(copy), "DJANGO_SETTINGS_MODULE": "ordersync.settings"}
    # the copy's settings find the tests' own server (or DATABASE_URL): with a data folder of
    # its own, the copy started an embedded server that outlived the test
    env.setdefault("ORDERSYNC_DATA_DIR", str(settings.ORDERSYNC_DATA_DIR))
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )
    found = problems(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    assert found == {"untranslated": [], "only-fuzzy": []}, (
        "translate these in locale/zh_Hans/LC_MESSAGES/django.po (CONTRIBUTING.md)",
        found,
    )


def catalog(mo: Path) -> dict:
    with mo.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]


def test_the_committed_mo_is_the_po_compiled(tmp_path):
    need_gettext()
    fresh = tmp_path / "django.mo"
    po = CATALOGUE / "django.po"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(po)], check=True)
    assert catalog(CATALOGUE / "django.mo") == catalog(fresh), (
        "run: python manage.py compilemessages"
    )


def test_the_catalogue_check_finds_an_untranslated_string(tmp_path):
    need_gettext()
    po = tmp_path / "django.po"
    header = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    po.write_text(
        header + 'msgid "shop"\nmsgstr "店铺"\n\n'
        'msgid "cursor lag"\nmsgstr ""\n\n#, fuzzy\nmsgid "lag"\nmsgstr "延迟"\n',
        encoding="utf-8",
    )
    assert problems(po) == {"untranslated": ["cursor lag"], "only-fuzzy": ["lag"]}


# --- templates ----------------------------------------------------------------------------
TRANSLATING = {"blocktranslate", "blocktrans"}
SHOWN_ATTRIBUTES = re.compile(r'\b(?:title|placeholder|alt|aria-label)="([^"]*)"')
SUBMIT_VALUE = re.compile(r'<input[^>]*type="submit"[^>]*value="([^"]*)"')
NOT_TEXT = re.compile(r"<(style|script)\b.*?</\1>|<!--.*?-->", re.S)


def template_text(source: str) -> str:
    """The template with its tags and variables blanked out and the text inside
    ``{% blocktranslate %}`` dropped: what is left is literal text and HTML."""
    kept, depth = [], 0
    for token in Lexer(source).tokenize():
        name = token.contents.split()[0] if token.contents.strip() else ""
        if token.token_type == TokenType.BLOCK and name in TRANSLATING:
            depth += 1
        elif token.token_type == TokenType.BLOCK and name in {"endblocktranslate", "endblocktrans"}:
            depth -= 1
        elif token.token_type == TokenType.TEXT and not depth:
            kept.append(token.contents)
            continue
        kept.append("\x00")
    return "".join(kept)


def untranslated_in_template(source: str) -> list[str]:
    """Words a reader sees that no ``{% translate %}`` covers."""
    text = NOT_TEXT.sub("", template_text(source))
    shown = SHOWN_ATTRIBUTES.findall(text) + SUBMIT_VALUE.findall(text)
    shown.append(re.sub(r"<[^>]*>", " ", text))
    return [word for part in shown for word in WORD.findall(part)]


def our_templates() -> list[Path]:
    return sorted((ROOT / "templates").rglob("*.html"))


@pytest.mark.parametrize("path", our_templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_template_string_is_marked(path):
    assert untranslated_in_template(path.read_text(encoding="utf-8")) == []


def test_the_template_check_finds_unmarked_text():
    source = (
        '{% load i18n %}<p title="the shops">{% translate "Shops" %} lag '
        "{% blocktranslate %}{{ n }} shops{% endblocktranslate %}</p>"
        '<input type="submit" value="Go"><style>.x { color: red }</style>'
    )
    assert untranslated_in_template(source) == ["the", "shops", "Go", "lag"]


# --- admin classes and models ---------------------------------------------------------------
def lazy(value: object) -> bool:
    """Marked: a lazy translation (or nothing to translate)."""
    return value is None or isinstance(value, Promise) or not WORD.search(str(value))


def our_admins() -> list[admin.ModelAdmin]:
    return [
        model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in OUR_APPS
    ]


def model_problems(model: type[models.Model]) -> list[str]:
    opts, found = model._meta, []
    for name in ("verbose_name", "verbose_name_plural"):
        if not lazy(getattr(opts, name)):
            found.append(f"{opts.label}.Meta.{name}")
    for field in opts.get_fields(include_hidden=False):
        if not field.concrete or field.auto_created:
            continue
        if not lazy(field.verbose_name) or not lazy(field.help_text or None):
            found.append(f"{opts.label}.{field.name}")
        found += [
            f"{opts.label}.{field.name} choice {value!r}"
            for value, label in field.flatchoices or []
            if not lazy(label)
        ]
    return found


def shown_callables(model_admin: admin.ModelAdmin) -> list[str]:
    """The columns and read-only fields that are methods, not model fields."""
    names = [*model_admin.list_display, *model_admin.readonly_fields]
    return [n for n in names if isinstance(n, str) and hasattr(model_admin, n)]


def admin_problems(model_admin: admin.ModelAdmin) -> list[str]:
    label = type(model_admin).__name__
    found = []
    for name in shown_callables(model_admin):
        method = getattr(model_admin, name)
        if not lazy(getattr(method, "short_description", None)):
            found.append(f"{label}.{name} description")
    for action in model_admin.actions or []:
        function = getattr(model_admin, action) if isinstance(action, str) else action
        if not lazy(getattr(function, "short_description", None)):
            found.append(f"{label} action {action}")
    for list_filter in model_admin.list_filter:
        if isinstance(list_filter, type) and not lazy(getattr(list_filter, "title", None)):
            found.append(f"{label} filter {list_filter.__name__}")
    for title, _options in model_admin.fieldsets or []:
        if not lazy(title):
            found.append(f"{label} fieldset {title!r}")
    if not lazy(model_admin.search_help_text):
        found.append(f"{label}.search_help_text")
    for inline in model_admin.inlines:
        found += [
            f"{label} inline {n}"
            for n in ("verbose_name_plural",)
            if not lazy(inline.__dict__.get(n))
        ]
        found += admin_problems_of_inline(inline, model_admin)
    return found


def admin_problems_of_inline(inline, parent: admin.ModelAdmin) -> list[str]:
    instance = inline(parent.model, parent.admin_site)
    return [
        f"{inline.__name__}.{name} description"
        for name in instance.readonly_fields
        if hasattr(instance, name)
        and not lazy(getattr(getattr(instance, name), "short_description", None))
    ]


def form_problems(form_class: type[Form]) -> list[str]:
    """Declared fields need a marked label (their name would show) and marked help."""
    try:
        fields = form_class().fields
    except TypeError:  # a form that needs the request: its declared fields
        fields = form_class.base_fields
    # a model form's own fields take the model's (checked) labels; a declared field, or one
    # added in __init__, shows its label, else its name
    from_model = set(getattr(form_class, "base_fields", {})) - set(
        getattr(form_class, "declared_fields", {})
    )
    return [
        f"{form_class.__name__}.{name}"
        for name, field in fields.items()
        if name not in from_model
        and (field.label is None or not lazy(field.label) or not lazy(field.help_text or None))
    ]


def our_forms() -> list[type[Form]]:
    found, queue = [], [Form, *Form.__subclasses__()]
    from django.forms import ModelForm

    queue.append(ModelForm)
    while queue:
        cls = queue.pop()
        queue.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in ("shops", "trades", "ordersync"):
            found.append(cls)
    return sorted(set(found), key=lambda c: c.__qualname__)


def test_every_admin_label_is_marked():
    from django.apps import apps

    found = [
        f"{label} app verbose_name"
        for label in OUR_APPS
        if not isinstance(apps.get_app_config(label).verbose_name, Promise)
    ]
    for model_admin in our_admins():
        found += model_problems(model_admin.model) + admin_problems(model_admin)
    assert found == []


def test_every_console_form_label_is_marked():
    assert our_forms(), "the console's forms were not found"
    found = [problem for form in our_forms() for problem in form_problems(form)]
    assert found == []


def test_the_admin_check_finds_an_unmarked_label():
    class Unmarked(admin.ModelAdmin):
        list_display = ("seller_nick", "lag")
        fieldsets = (("Health", {"fields": ("seller_nick",)}),)

        @admin.display(description="cursor lag")
        def lag(self, obj) -> str:
            return ""

    from shops.models import Shop

    assert admin_problems(Unmarked(Shop, admin.site)) == [
        "Unmarked.lag description",
        "Unmarked fieldset 'Health'",
    ]


# --- messages in code -----------------------------------------------------------------------
# calls whose text argument reaches a person: (function name, index of the text argument)
MESSAGE_CALLS = {
    "message_user": 1,
    "success": 1,
    "warning": 1,
    "error": 1,
    "info": 1,
    "ValidationError": 0,
    "add_error": 1,
    "show_once": 1,
    "StateRejected": 0,
    "BadRefetch": 0,
    "MemberRefused": 0,
    "InvalidEndpoint": 0,
    "KeyExpiryRefused": 0,
    "OverCap": 0,
    "TooSoon": 0,
    "AuthenticationFailed": 0,
    "ParseError": 0,
    "_refused": 2,
}
# modules whose messages no console page or API answer shows
NOT_SHOWN = ("migrations", "management", "sandbox", "tests")


def call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def literal_text(node: ast.expr) -> str | None:
    """The words of a plain (or f-) string literal; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    return None


def unmarked_messages(source: str, where: str = "") -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or call_name(node) not in MESSAGE_CALLS:
            continue
        index = MESSAGE_CALLS[call_name(node)]
        if len(node.args) <= index:
            continue
        text = literal_text(node.args[index])
        if text and WORD.search(text):
            found.append(f"{where}:{node.lineno} {text[:60]!r}")
    return found


def our_modules() -> list[Path]:
    return [
        path
        for package in ("ordersync", "shops", "trades")
        for path in sorted((ROOT / package).rglob("*.py"))
        if not set(path.relative_to(ROOT).parts) & set(NOT_SHOWN)
    ]


def test_every_message_in_code_is_marked():
    found = []
    for path in our_modules():
        found += unmarked_messages(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == []


def test_the_message_check_finds_unmarked_messages():
    source = (
        "self.message_user(request, f'Queued {n} shop(s).')\n"
        "raise forms.ValidationError(_('that day has not happened yet'))\n"
        "messages.warning(request, 'The seller did not authorize')\n"
        "raise BadRefetch(str(error))\n"
    )
    assert unmarked_messages(source) == [
        ":1 'Queued  shop(s).'",
        ":3 'The seller did not authorize'",
    ]
