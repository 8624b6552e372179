"""The config file before validation: where it is, its YAML (syntax, duplicate keys, a mapping at the
top) and what the console's first frame shows of it (farm, environment, theme).

No pydantic here: the console paints its first frame from a `ConfigDocument` and validates it
(console.core.config.validate_document) right after, so the start-up path does not pay for building the
config models. Errors name the file, the YAML line and the key path, as console.core.config's do.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SEARCH_PATHS = (
    Path("~/.config/opsconsole/config.yaml"),
    Path("/etc/opsconsole/config.yaml"),
)
DEFAULT_ENVIRONMENT = "production"  # a farm that does not say is treated as production (the careful guess)
DEFAULT_THEME = "dark"
ENVIRONMENTS_THAT_ARE_PRODUCTION = ("production", "prod")


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}"


class ConfigError(Exception):
    def __init__(self, issues: list[ConfigIssue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


def is_production_environment(environment: str) -> bool:
    return environment.lower() in ENVIRONMENTS_THAT_ARE_PRODUCTION


def template_fields(template: str) -> list[str]:
    """The placeholders a template uses ("{fqdn}:9100" -> ["fqdn"]); ValueError when braces are unbalanced."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """--config, then $OPSCONSOLE_CONFIG, then the user's and the system's file."""
    if explicit:
        return Path(explicit)
    if os.environ.get("OPSCONSOLE_CONFIG"):
        return Path(os.environ["OPSCONSOLE_CONFIG"])
    for candidate in SEARCH_PATHS:
        path = candidate.expanduser()
        if path.is_file():
            return path
    return None


@dataclass(frozen=True)
class ConfigDocument:
    """A config file parsed as YAML and not yet validated: the node tree (for line numbers) and the data."""

    label: str
    root: yaml.Node
    data: dict[str, Any]

    def _text(self, section: str, key: str) -> str | None:
        """A string at section.key, else None (validation says what is wrong with anything else)."""
        part = self.data.get(section)
        value = part.get(key) if isinstance(part, dict) else None
        return value if isinstance(value, str) else None

    @property
    def farm_name(self) -> str:
        return self._text("farm", "name") or ""

    @property
    def environment(self) -> str:
        return self._text("farm", "environment") or DEFAULT_ENVIRONMENT

    @property
    def theme(self) -> str:
        return self._text("ui", "theme") or DEFAULT_THEME


def read_document(path: str | os.PathLike[str]) -> ConfigDocument:
    """Read one config file and parse its YAML; raise ConfigError for what YAML alone can tell."""
    path = Path(path)
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(label, 0, "(file)", f"cannot read: {exc.strerror}")]) from None
    return parse_document(text, label)


# libyaml parses the file about ten times faster (start-up); a syntax error is parsed again by the
# pure-Python loader, whose messages the errors quote either way.
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=FAST_LOADER)
    except yaml.YAMLError:
        return yaml.compose(text, Loader=yaml.SafeLoader)


def parse_document(text: str, label: str = "<config>") -> ConfigDocument:
    try:
        root = _compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 0
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([ConfigIssue(label, line, "(yaml)", f"YAML syntax error: {problem}")]) from None
    if root is None:
        raise ConfigError([ConfigIssue(label, 1, "(file)", "the file is empty")])
    issues = [ConfigIssue(label, line, path, msg) for line, path, msg in _duplicate_keys(root, ())]
    if issues:
        raise ConfigError(issues)
    data = FAST_LOADER(text).construct_document(root)
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(label, line_of_node(root), "(file)", "the top level must be a mapping")])
    return ConfigDocument(label, root, data)


Loc = tuple[str | int, ...]  # a key path in the file: mapping keys and sequence indices


def _duplicate_keys(node: yaml.Node, loc: Loc) -> list[tuple[int, str, str]]:
    found: list[tuple[int, str, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                found.append((line_of_node(key_node), dotted(loc + (key,)), "duplicate key"))
            seen.add(key)
            found += _duplicate_keys(value_node, (*loc, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _duplicate_keys(item, (*loc, index))
    return found


def line_of_node(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def line_of(root: yaml.Node, loc: Loc) -> int:
    """The line of the deepest YAML node that `loc` reaches (the key's line for mapping entries)."""
    node, line = root, line_of_node(root)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            line, node = line_of_node(match[0]), match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = line_of_node(node)
        else:
            break
    return line


def dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top)"
