"""The signature check of docs/webhooks-verify.md, in each language, run against real deliveries.

Each snippet in ``docs/snippets/`` takes the secret and the three headers as arguments and the
raw body on stdin, and prints ``valid`` or ``invalid``. The docs page shows the files as they
are (a test compares them). Toolchains come from Debian (``.ci/run`` installs them): outside
CI a machine without one skips its language; in CI (``CI=true``) a missing one is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.records import wire_trade
from trades.sync.write import write_trades
from trades.webhooks.endpoints import rotate_secret
from trades.webhooks.runner import deliver_batch
from trades.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_headers

DOCS = Path(__file__).resolve().parents[2] / "docs"
SNIPPETS = DOCS / "snippets"
# language: (snippet, the program that runs it, the Debian package that brings it)
LANGUAGES = {
    "python": ("verify.py", "python3", "python3"),
    "node": ("verify.mjs", "node", "nodejs"),
    "go": ("verify.go", "go", "golang-go"),
    "php": ("verify.php", "php", "php-cli"),
    "java": ("verify.java", "java", "openjdk-17-jdk-headless"),
}


def _toolchain(language: str) -> str:
    _, program, package = LANGUAGES[language]
    if language == "python":
        return sys.executable
    found = shutil.which(program)
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{program} is missing in CI: .ci/run installs Debian's {package}")
        pytest.skip(f"{program} is not installed (apt-get install {package}); CI runs this test")
    return found


@pytest.fixture(scope="module")
def go_binary(tmp_path_factory) -> list[str]:
    """Go compiles once; ``go run`` for every case would compile each time."""
    go = _toolchain("go")
    out = tmp_path_factory.mktemp("go") / "verify"
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    built = subprocess.run(
        [go, "build", "-o", str(out), str(SNIPPETS / "verify.go")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert built.returncode == 0, built.stderr
    return [str(out)]


@pytest.fixture(scope="module")
def java_class(tmp_path_factory) -> list[str]:
    """Java compiles once too: ``java verify.java`` compiles the source on every run. The
    public class must sit in a file named after it for ``javac``."""
    java = _toolchain("java")
    javac = shutil.which("javac")
    assert javac, "javac is missing: Debian's openjdk-17-jdk-headless brings it with java"
    folder = tmp_path_factory.mktemp("java")
    source = (SNIPPETS / "verify.java").read_text(encoding="utf-8")
    name = re.search(r"^public class (\w+)", source, re.M).group(1)
    (folder / f"{name}.java").write_text(source, encoding="utf-8")
    built = subprocess.run(
        [javac, "-d", str(folder), str(folder / f"{name}.java")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    return [java, "-cp", str(folder), name]


COMPILED = {"go": "go_binary", "java": "java_class"}


@pytest.fixture
def run_snippet(request):
    """A function that runs the language's snippet on (secret, headers, body) and returns
    what it printed: ``valid`` or ``invalid…``. Java's first run is the docs' own command
    (``java verify.java``), the later ones the class compiled from the same file."""
    language = request.param
    snippet = str(SNIPPETS / LANGUAGES[language][0])
    as_documented = [] if language == "go" else [_toolchain(language), snippet]
    compiled = request.getfixturevalue(COMPILED[language]) if language in COMPILED else []
    commands = [as_documented or compiled, compiled or as_documented]

    def run(secret: str, headers: dict, body: bytes) -> str:
        args = [headers["webhook-id"], headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]]
        command = commands.pop(0) if len(commands) > 1 else commands[0]
        done = subprocess.run(
            [*command, secret, *args], input=body, capture_output=True, timeout=120
        )
        said = done.stdout.decode().strip()
        # a crash is neither answer: only a printed verdict with its exit code counts
        assert (said == "valid" and done.returncode == 0) or (
            said.startswith("invalid") and done.returncode == 1
        ), (done.returncode, said, done.stderr.decode())
        return said.split(":")[0]

    return run


@pytest.mark.django_db
@pytest.mark.parametrize("run_snippet", list(LANGUAGES), indirect=True)
def test_the_snippet_accepts_a_real_delivery_and_refuses_forgeries(
    run_snippet, shop_a, issued, receiver
):
    write_trades(shop_a, [wire_trade(tid=1)])
    (result,) = deliver_batch()
    assert result.ok
    (got,) = receiver.received
    headers = {name.lower(): value for name, value in got.headers.items()}
    assert run_snippet(issued.secret, headers, got.body) == "valid"
    assert run_snippet(issued.secret, headers, got.body.replace(b'"tid":1', b'"tid":2')) == (
        "invalid"
    )
    assert run_snippet(issued.secret, headers, got.body + b" ") == "invalid"
    assert run_snippet("whsec_" + "x" * 32, headers, got.body) == "invalid"
    # signed right, but five minutes and a second old: a replay
    old = signature_headers(
        [issued.secret], headers["webhook-id"], got.body, int(time.time()) - 301
    )
    assert run_snippet(issued.secret, old, got.body) == "invalid"
    # a timestamp header that the signature's t= does not name
    moved = {**headers, TIMESTAMP_HEADER: str(int(headers[TIMESTAMP_HEADER]) + 1)}
    assert run_snippet(issued.secret, moved, got.body) == "invalid"

    # during a rotation each delivery carries two v1 values: either secret verifies
    new = rotate_secret(issued.endpoint)
    write_trades(shop_a, [wire_trade(tid=2)])
    deliver_batch()
    rotated = {name.lower(): value for name, value in receiver.received[-1].headers.items()}
    assert rotated[SIGNATURE_HEADER].count("v1=") == 2
    for secret in (issued.secret, new.secret):
        assert run_snippet(secret, rotated, receiver.received[-1].body) == "valid"


def test_the_docs_show_each_snippet_as_tested():
    page = (DOCS / "webhooks-verify.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```[a-z]+\n(.*?)^```$", page, re.S | re.M)
    for snippet, _, _ in LANGUAGES.values():
        code = (SNIPPETS / snippet).read_text(encoding="utf-8")
        assert code in blocks, f"docs/webhooks-verify.md does not show {snippet} as it is"
