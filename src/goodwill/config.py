"""Rules that a company will want to change are data: YAML shipped in a package, or a workspace file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from goodwill.errors import ConfigError


def load_yaml(package: str, name: str, path: str | Path | None = None, *, what: str = "") -> tuple[Any, str]:
    """The packaged default ``package/name`` or the workspace file at ``path``: (data, where it came from)."""
    if path is None:
        text = resources.files(package).joinpath(name).read_text("utf-8")
        where = f"{package.replace('.', '/')}/{name}"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            label = f"{what} " if what else ""
            raise ConfigError(f"Cannot read {label}{path}: {exc.strerror}.", hint="Check the path.") from exc
        where = str(path)
    try:
        return (yaml.safe_load(text) or {}), where
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML: {exc}", hint="Fix the YAML syntax.") from exc
