"""Writes the configuration table in README.md from the services' Settings classes.

`uv run python tools/docs/config_table.py` rewrites the block between the config-table markers;
`tests/test_readme_config.py` fails when the README no longer says what the code reads.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

from pydantic_core import PydanticUndefined

from broadsheet_shared.settings import DatabaseServiceSettings, ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SERVICES = ("articles", "comments", "notifications", "gateway", "newsroom")
_ALWAYS_SHOWN = frozenset({"port"})
START, END = "<!-- config-table:start -->", "<!-- config-table:end -->"


def _settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"broadsheet_{service}.settings")
    cls: type[ServiceSettings] = module.Settings
    return cls


def _default(value: Any, name: str) -> str:
    if value is PydanticUndefined or value is None:
        return "—"
    text = str(getattr(value, "value", value))
    if "-----BEGIN" in text:
        return "dev key (embedded)"
    if any(word in name for word in ("secret", "password", "private_key", "digest_key")) and text:
        return "dev value (embedded)"
    if isinstance(value, list | tuple | set | frozenset):
        text = ", ".join(str(v) for v in value)
    return f"`{text}`" if text else '`""`'


def rows() -> list[str]:
    # Every field of the database services' base: the gateway's base is a part of it.
    shared_fields = set(DatabaseServiceSettings.model_fields)
    lines = [
        "| Variable | Default | What it sets |",
        "| --- | --- | --- |",
    ]
    for name, field in DatabaseServiceSettings.model_fields.items():
        env = name.upper()
        if name in ServiceSettings.SHARED_FIELDS:
            label = f"`{env}` (or `<SERVICE>_{env}`)"
        else:
            label = f"`<SERVICE>_{env}`"
        description = field.description or ""
        if name not in ServiceSettings.model_fields:
            description += " (not the gateway: it has no database)"
        lines.append(f"| {label} | {_default(field.default, name)} | {description} |")
    for service in SERVICES:
        cls = _settings_class(service)
        prefix = str(cls.model_config.get("env_prefix", "")).upper()
        lines.append(f"| **{service}** ({prefix}*) | | |")
        for name, field in cls.model_fields.items():
            inherited = name in shared_fields
            base_default = DatabaseServiceSettings.model_fields[name].default if inherited else None
            if inherited and field.default == base_default and name not in _ALWAYS_SHOWN:
                continue
            label = f"`{prefix}{name.upper()}`"
            if name in cls.SHARED_FIELDS and name not in ServiceSettings.SHARED_FIELDS:
                label = f"`{name.upper()}` (or {label})"
            description = field.description or ""
            lines.append(f"| {label} | {_default(field.default, name)} | {description} |")
    return lines


def render(readme: str) -> str:
    block = "\n".join([START, *rows(), END])
    return re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, readme, flags=re.S)


def main() -> int:
    text = README.read_text()
    updated = render(text)
    if "--check" in sys.argv:
        return 0 if updated == text else 1
    README.write_text(updated)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
