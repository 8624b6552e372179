"""Themes as data (posting's way): the YAML files shipped in console.themes and the user's own in
~/.config/opsconsole/themes/*.yaml become Textual themes. A broken file is a message, never a
traceback: it is skipped and the console says which file and why."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml
from textual.theme import Theme

from console.core import files
from console.core.config_file import YamlProblem, load_yaml

USER_THEMES = Path("~/.config/opsconsole/themes")
DEFAULT_THEME = "dark"
COLOUR_KEYS = ("primary", "secondary", "accent", "warning", "error", "success", "foreground", "background", "surface", "panel", "boost")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ThemeProblem:
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


def theme_from_data(data: Any, file: str) -> Theme:
    """A Theme from one file's YAML mapping; ValueError with the reason when it is not one."""
    if not isinstance(data, dict):
        raise ValueError("not a mapping of theme keys (name, primary, background …)")
    unknown = set(data) - {"name", "dark", "variables", *COLOUR_KEYS}
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(map(str, unknown)))}")
    name, primary = data.get("name") or Path(file).stem, data.get("primary")
    if not isinstance(name, str) or not primary:
        raise ValueError("needs a name (string) and a primary colour")
    variables = data.get("variables") or {}
    if not isinstance(variables, dict):
        raise ValueError("variables must be a mapping")
    colours = {key: str(data[key]) for key in COLOUR_KEYS if data.get(key) is not None}
    colour = colours.get  # None: Textual's default
    theme = Theme(name=name, primary=colours["primary"], secondary=colour("secondary"), accent=colour("accent"),
                  warning=colour("warning"), error=colour("error"), success=colour("success"),
                  foreground=colour("foreground"), background=colour("background"), surface=colour("surface"),
                  panel=colour("panel"), boost=colour("boost"), dark=bool(data.get("dark", True)),
                  variables={str(k): str(v) for k, v in variables.items()})
    theme.to_color_system()  # parses every colour now: a bad one fails here, not when it is shown
    return theme


def _safe_load(text: str) -> Any:
    """The config's YAML reading (libyaml, the pure-Python loader's message for a syntax error):
    safe tags only, nodes counted with aliases expanded (a billion laughs is a message)."""
    return load_yaml(text)


def load_theme_file(path: Path, text: str | None = None) -> Theme:
    """One theme; ValueError with the reason. A user's file is read only when it is a regular file of
    at most THEME_MAX bytes (console/core/files.py): a FIFO or /dev/zero there is a message."""
    try:
        data = _safe_load(files.read_text(path, files.THEME_MAX) if text is None else text)
    except files.FileRefused as exc:
        raise ValueError(exc.why) from None
    except OSError as exc:
        raise ValueError(f"cannot read it: {exc.strerror or exc}") from None
    except YamlProblem as exc:
        raise ValueError(f"not a theme's YAML: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ValueError(f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    try:
        return theme_from_data(data, path.name)
    except Exception as exc:  # Textual's colour parser raises its own errors
        raise ValueError(str(exc)) from None


def shipped_theme_files() -> list[tuple[Path, str]]:
    # the package's directory, not importlib.resources (its zip support costs ~3 ms at start; the
    # package is installed as files)
    import console.themes

    root = Path(console.themes.__file__).parent
    return sorted((path, path.read_text(encoding="utf-8")) for path in root.glob("*.yaml"))


def load_themes(user_dir: Path | None = USER_THEMES) -> tuple[list[Theme], list[ThemeProblem]]:
    """The shipped themes, then the user's (a user theme of the same name wins); the problems."""
    themes: list[Theme] = []
    problems: list[ThemeProblem] = []
    files: list[tuple[Path, str | None]] = list(shipped_theme_files())
    if user_dir is not None:
        directory = user_dir.expanduser()
        if directory.is_dir():
            files += [(path, None) for path in sorted(directory.glob("*.yaml"))]
    for path, text in files:
        try:
            themes.append(load_theme_file(path, text))
        except ValueError as exc:
            problems.append(ThemeProblem(str(path), str(exc)))
    return themes, problems


def theme_names(themes: Iterable[Theme]) -> list[str]:
    return [theme.name for theme in themes]
