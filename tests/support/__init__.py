"""Helpers shared by the tests: processes, waiting, the sandbox's clock, records, oracle."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the project folder
