"""Every setting is listed in `.env.example` and the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def environment_names() -> list[str]:
    names = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        names.append(str(choices[-1]) if choices else f"MARQUEE_{name.upper()}")
    return names


@pytest.mark.parametrize("variable", environment_names())
def test_the_setting_is_documented(variable: str) -> None:
    assert f"{variable}=" in (ROOT / ".env.example").read_text()
    assert variable in (ROOT / "README.md").read_text()
