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

from console.core import files

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
        if path.exists():  # not is_file(): a FIFO or a directory there is said (read_document), not skipped
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


def read_document(path: str | os.PathLike[str], *, allow_pipe: bool = False) -> ConfigDocument:
    """Read one config file and parse its YAML; raise ConfigError for what YAML alone can tell.

    Only a regular file of at most CONFIG_MAX bytes is read (console/core/files.py); `allow_pipe`
    (the path the operator named on the command line: `--config <(sops -d farm.yaml)`) also
    accepts a pipe, read within PIPE_SECONDS."""
    path = Path(path)
    label = str(path)
    try:
        text = files.read_text(path, files.CONFIG_MAX, allow_pipe=allow_pipe)
    except files.FileRefused as exc:
        hint = "; a pipe is read only when named with --config" if exc.why.endswith("(a FIFO)") else ""
        raise ConfigError([ConfigIssue(label, 0, "(file)", exc.why + hint)]) from None
    except OSError as exc:
        raise ConfigError([ConfigIssue(label, 0, "(file)", f"cannot read: {exc.strerror}")]) from None
    return parse_document(text, label)


# libyaml parses the file about ten times faster (start-up); a syntax error is parsed again by the
# pure-Python loader, whose messages the errors quote either way.
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_NODES = 100_000  # YAML nodes in one file, aliases counted expanded (a config has a few thousand)
MAX_DEPTH = 100  # collections nested in one another (a config has fewer than ten)
YAML_TAG = "tag:yaml.org,2002:"
MERGE_TAG, VALUE_TAG = YAML_TAG + "merge", YAML_TAG + "value"


class YamlProblem(ValueError):
    """YAML the console refuses to build: too many nodes, too deep, a recursive alias, a tag it does
    not construct, a value it cannot. `line` is 1-based."""

    def __init__(self, line: int, message: str, path: str = "(yaml)") -> None:
        super().__init__(message)
        self.line, self.message, self.path = line, message, path

    def __str__(self) -> str:
        return f"{self.message} (line {self.line})"


def _event_line(event: yaml.Event) -> int:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 0


def count_nodes(text: str, loader: Any = FAST_LOADER, limit: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> int:
    """The number of nodes the YAML text holds with every alias expanded, counted on the event stream
    (nothing is composed: a billion laughs costs one pass over its text). YamlProblem past `limit`
    nodes or `max_depth` levels, or for an alias inside the node it names; yaml.YAMLError for syntax."""
    parser = loader(text)
    seen = 0
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (its nodes expanded, its nesting height)
    stack: list[tuple[str | None, int, list[int]]] = []  # open collections: anchor, `seen` before it, [height]
    try:
        while (event := parser.get_event()) is not None:
            if isinstance(event, yaml.AliasEvent):
                name = str(event.anchor)
                if any(frame[0] == name for frame in stack):
                    raise YamlProblem(_event_line(event), f"the alias *{name} is inside the node it names "
                                                                 "(a recursive structure)")
                nodes, height = anchors.get(name, (1, 0))  # undefined: the composer says so
                seen += nodes
                if stack:
                    stack[-1][2][0] = max(stack[-1][2][0], height)
                if len(stack) + height > max_depth:
                    raise YamlProblem(_event_line(event), f"nested deeper than {max_depth} levels")
            elif isinstance(event, yaml.ScalarEvent):
                seen += 1
                if event.anchor is not None:
                    anchors[str(event.anchor)] = (1, 0)
            elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                if len(stack) >= max_depth:
                    raise YamlProblem(_event_line(event), f"nested deeper than {max_depth} levels")
                stack.append((None if event.anchor is None else str(event.anchor), seen, [0]))
                seen += 1
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                anchor, before, below = stack.pop()
                height = below[0] + 1
                if anchor is not None:
                    anchors[anchor] = (seen - before, height)
                if stack:
                    stack[-1][2][0] = max(stack[-1][2][0], height)
            else:
                continue
            if seen > limit:
                raise YamlProblem(_event_line(event),
                                  f"more than {limit:,} YAML nodes (aliases counted expanded); refusing to read it")
    finally:
        parser.dispose()
    return seen


def compose_bounded(text: str) -> yaml.Node | None:
    """The YAML node tree of `text` once count_nodes has bounded it: libyaml, and the pure-Python
    loader again for a syntax error (its messages are the ones quoted)."""
    try:
        count_nodes(text, FAST_LOADER)
        return yaml.compose(text, Loader=FAST_LOADER)
    except yaml.YAMLError:
        count_nodes(text, yaml.SafeLoader)  # raises the pure-Python parser's error
        return yaml.compose(text, Loader=yaml.SafeLoader)


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(YAML_TAG) if tag.startswith(YAML_TAG) else tag


def _tag_problem(node: yaml.Node) -> str | None:
    if node.tag in FAST_LOADER.yaml_constructors:
        return None
    if node.tag == VALUE_TAG and isinstance(node, yaml.ScalarNode):
        return "a plain = is YAML's value key, which the console does not read; quote it ('=')"
    return f"unsupported YAML tag {_short_tag(node.tag)}"


def _construct_object(self: Any, node: yaml.Node, deep: bool = False) -> Any:
    try:
        return FAST_LOADER.construct_object(self, node, deep)
    except Exception:
        if getattr(self, "failed_node", None) is None:
            self.failed_node = node  # the innermost node: where the error is
        raise


# the safe constructor, remembering the node whose value could not be built (a 2026-13-45 date)
_LocatingLoader: Any = type("_LocatingLoader", (FAST_LOADER,), {"construct_object": _construct_object})


def construct_bounded(root: yaml.Node) -> Any:
    """The Python data of a node tree that walk_nodes found nothing wrong with; YamlProblem (with the
    line) when a value cannot be built."""
    loader = _LocatingLoader("")
    try:
        return loader.construct_document(root)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        node = getattr(loader, "failed_node", None) or root
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlProblem(line_of_node(node), f"cannot read this YAML value: {problem}") from None
    finally:
        loader.dispose()


def load_yaml(text: str) -> Any:
    """Any YAML text (a theme file) read as the config is: bounded, safe tags only. yaml.YAMLError for
    syntax, YamlProblem (a ValueError) for the rest."""
    root = compose_bounded(text)
    if root is None:
        return None
    for line, path, message in walk_nodes(root, duplicates=False):
        raise YamlProblem(line, message, path)
    return construct_bounded(root)


def parse_document(text: str, label: str = "<config>") -> ConfigDocument:
    try:
        root = compose_bounded(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 0
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([ConfigIssue(label, line, "(yaml)", f"YAML syntax error: {problem}")]) from None
    except YamlProblem as exc:
        raise ConfigError([ConfigIssue(label, exc.line, exc.path, exc.message)]) from None
    if root is None:
        raise ConfigError([ConfigIssue(label, 1, "(file)", "the file is empty")])
    issues = [ConfigIssue(label, line, path, msg) for line, path, msg in walk_nodes(root)]
    if issues:
        raise ConfigError(issues)
    try:
        data = construct_bounded(root)
    except YamlProblem as exc:
        raise ConfigError([ConfigIssue(label, exc.line, exc.path, exc.message)]) from None
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(label, line_of_node(root), "(file)", "the top level must be a mapping")])
    return ConfigDocument(label, root, data)


Loc = tuple[str | int, ...]  # a key path in the file: mapping keys and sequence indices


def walk_nodes(root: yaml.Node, duplicates: bool = True) -> list[tuple[int, str, str]]:
    """(line, key path, message) for every duplicate key and every tag the safe loader does not
    construct. Each node object is visited once: an alias is never expanded here (count_nodes has
    bounded the document; this walk is linear in the text)."""
    found: list[tuple[int, str, str]] = []
    visited: set[int] = set()
    todo: list[tuple[yaml.Node, Loc]] = [(root, ())]
    while todo:
        node, loc = todo.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        problem = _tag_problem(node)
        if problem is not None:
            found.append((line_of_node(node), dotted(loc), problem))
        children: list[tuple[yaml.Node, Loc]] = []
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    found.append((line_of_node(key_node), dotted(loc), "a key must be a plain value, not a list or a mapping"))
                    continue
                key = key_node.value
                if duplicates and key in seen:
                    found.append((line_of_node(key_node), dotted(loc + (key,)), "duplicate key"))
                seen.add(key)
                if key_node.tag != MERGE_TAG and (problem := _tag_problem(key_node)) is not None:
                    found.append((line_of_node(key_node), dotted(loc + (key,)), problem))
                children.append((value_node, (*loc, key)))
        elif isinstance(node, yaml.SequenceNode):
            children = [(item, (*loc, index)) for index, item in enumerate(node.value)]
        todo += reversed(children)  # depth first, in the file's order
    return sorted(found, key=lambda entry: entry[0])


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
