"""A LangGraph project: its ``langgraph.json``, read as LangGraph Platform reads it.

:func:`load_project` parses and checks the file without importing anything (so the command line
can say what is wrong before it starts a database, and whether the ``langgraph`` extra is
missing); :meth:`Project.activate` puts the project's local dependencies on the import path and
its ``env`` into the process environment; :meth:`Project.sources` then imports each graph and
returns one :class:`~duragraph_lab.langgraph.source.GraphSource` per graph id.

Every problem is a :class:`ProjectError` whose message is one line saying which file, which key
and what to do. Paths in the file (graphs, local dependencies, the env file) are relative to the
directory holding it, as in a LangGraph Platform deployment (``langgraph dev`` started in that
directory reads them the same way). Keys are handled as follows (docs/langgraph.md):

- ``graphs`` (required): id → ``"./path/file.py:attr"`` or ``"package.module:attr"``, or
  ``{"path": ..., "description": ...}``;
- ``dependencies``: local paths (``"."``, ``"./src"``) go on ``sys.path``; a package requirement
  (``"langchain-openai>=0.3"``) must be installed already (one line naming it otherwise); a VCS
  or URL requirement is not checked;
- ``env``: a ``.env`` file path or a mapping;
- ``store``: ``ttl`` → :class:`~duragraph_lab.control.item_store.StoreSettings`; ``index`` is a
  start-up error;
- image-build keys (``python_version``, ``dockerfile_lines``, ...) and ``langgraph dev``'s
  ``disable_persistence`` do not change how graphs run here: ignored;
- ``checkpointer``, ``auth``, ``encryption``, ``priority``, ``http``, ``webhooks``, ``ui``,
  ``ui_config`` and ``node_version`` change behaviour DuraGraph Lab does not implement: an error
  when set (null or empty is fine); an unknown key is an error too.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from duragraph_lab.control.item_store import StoreSettings
from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.langgraph.envfile import EnvFileError, read_env_file

if TYPE_CHECKING:
    from duragraph_lab.graph.compiled import CompiledGraph
    from duragraph_lab.langgraph.source import GraphSource

CONFIG_NAME = "langgraph.json"

#: Keys that describe how LangGraph's tooling builds an image or runs its dev server: they do not
#: change what a graph does, so DuraGraph Lab ignores them (the environment is yours).
IGNORED_KEYS = frozenset(
    {
        "$schema",
        "python_version",
        "api_version",
        "base_image",
        "image_distro",
        "pip_config_file",
        "pip_installer",
        "source",
        "dockerfile_lines",
        "keep_pkg_tools",
        "_INTERNAL_docker_tag",
        "disable_persistence",
    }
)
#: Keys whose settings would change behaviour DuraGraph Lab does not implement: refused when set.
UNSUPPORTED_KEYS: dict[str, str] = {
    "checkpointer": "checkpoints are events of DuraGraph Lab's log; a custom checkpointer, thread TTL "
    "or serde settings are not supported",
    "auth": "custom auth handlers are not supported: DuraGraph Lab authenticates with Jupyter's "
    "identity provider and authorizer",
    "encryption": "custom at-rest encryption is not supported",
    "priority": "custom run priority is not supported",
    "http": "custom HTTP apps, routes, CORS and header settings are not supported (the API is "
    "served by Jupyter: configure it there)",
    "webhooks": "webhook URL policies and headers are not supported",
    "ui": "generative UI components are not supported",
    "ui_config": "generative UI components are not supported",
    "node_version": "JavaScript graphs are not supported",
}
KNOWN_KEYS = frozenset({"graphs", "dependencies", "env", "store"}) | IGNORED_KEYS | set(UNSUPPORTED_KEYS)

_GRAPH_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_REQUIREMENT_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([<>=!~;@ ].*)?$")


class ProjectError(DuraGraphError, ValueError):
    """A ``langgraph.json`` (or a graph it names) cannot be served; the message is one line."""

    code = "project_error"


@dataclass(frozen=True, slots=True)
class GraphEntry:
    """One ``graphs`` entry: the id, where the graph is, and its description."""

    graph_id: str
    #: ``"./path/file.py:attr"`` or ``"package.module:attr"``, as written.
    reference: str
    description: str | None = None

    @property
    def target(self) -> str:
        return self.reference.rsplit(":", 1)[0]

    @property
    def attribute(self) -> str:
        return self.reference.rsplit(":", 1)[1]

    @property
    def is_file(self) -> bool:
        """The reference names a file (it has a ``/`` or ends in ``.py``), not a module."""
        return "/" in self.target or "\\" in self.target or self.target.endswith(".py")


@dataclass(frozen=True, slots=True)
class Project:
    """A parsed ``langgraph.json``."""

    #: The file itself (absolute).
    path: Path
    graphs: tuple[GraphEntry, ...]
    #: Local dependencies, absolute directories, in the file's order.
    paths: tuple[Path, ...] = ()
    #: Package requirements named in ``dependencies``.
    requirements: tuple[str, ...] = ()
    #: Those of them not installed here (name, requirement): :meth:`check_dependencies` says so.
    missing: tuple[tuple[str, str], ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    store: StoreSettings = field(default_factory=StoreSettings)
    #: Keys present but ignored (image-build settings), for the start-up message.
    ignored: tuple[str, ...] = ()

    @property
    def root(self) -> Path:
        """The directory holding the file: where its relative paths start."""
        return self.path.parent

    @property
    def graph_ids(self) -> list[str]:
        return [g.graph_id for g in self.graphs]

    def check_dependencies(self) -> None:
        """A :class:`ProjectError` naming the first package of ``dependencies`` that is not
        installed, with the command that installs it."""
        if self.missing:
            name, requirement = self.missing[0]
            raise ProjectError(
                f"{self.path}: dependency {name!r} is not installed in this environment: "
                f"pip install '{requirement}'"
            )

    def activate(self) -> None:
        """Put the project's directory and local dependencies on ``sys.path`` (first, so the
        project's modules win over installed ones of the same name) and its ``env`` into
        ``os.environ`` (overriding, as ``langgraph dev`` does). Idempotent."""
        for directory in reversed((self.root, *self.paths)):
            entry = str(directory)
            if entry in sys.path:
                sys.path.remove(entry)
            sys.path.insert(0, entry)
        os.environ.update(self.env)

    def sources(self) -> dict[str, GraphSource | CompiledGraph]:
        """Import each graph (after :meth:`activate`): id → its source (a native DuraGraph
        ``CompiledGraph`` named in the file is served as it is, under the file's id). Raises
        :class:`ProjectError` for the first graph that cannot be loaded, or
        :class:`~duragraph_lab.extras.MissingExtra` without the ``langgraph`` extra."""
        from duragraph_lab.extras import require
        from duragraph_lab.langgraph.loading import load_entry

        require("langgraph", "langgraph", f"the graphs of {self.path}")
        self.check_dependencies()
        return {entry.graph_id: load_entry(entry, self.root) for entry in self.graphs}


def find_project(directory: Path | None = None) -> Path | None:
    """``langgraph.json`` in ``directory`` (default: the current one), if there is one."""
    candidate = (directory or Path.cwd()) / CONFIG_NAME
    return candidate.resolve() if candidate.is_file() else None


def load_project(path: Path | str) -> Project:
    """Parse and check ``path``: every error is a one-line :class:`ProjectError`."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / CONFIG_NAME
    path = path.absolute()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError(f"{path}: no such file") from None
    except OSError as err:
        raise ProjectError(f"{path}: cannot read it: {err.strerror or err}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise ProjectError(
            f"{path}: not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from None
    if not isinstance(raw, dict):
        raise ProjectError(f"{path}: must hold a JSON object, not {_json_type(raw)}")
    return parse_project(raw, path)


def parse_project(raw: Mapping[str, Any], path: Path) -> Project:
    """A ``langgraph.json``'s content (``path``: where it is, for relative paths and messages)."""
    where = str(path)
    for key in raw:
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, sorted(KNOWN_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ProjectError(f"{where}: unknown key {key!r}{hint}")
    for key, why in UNSUPPORTED_KEYS.items():
        if raw.get(key) not in (None, {}, [], ""):
            raise ProjectError(f"{where}: {key!r} is set, but {why}; remove it to serve this project")
    root = path.parent
    graphs = _graphs(raw.get("graphs"), where)
    paths, requirements, missing = _dependencies(raw.get("dependencies"), root, where)
    env = _env(raw.get("env"), root, where)
    try:
        store = StoreSettings.from_langgraph(raw.get("store"))
    except ValueError as err:
        raise ProjectError(f"{where}: {str(err).removeprefix('langgraph.json: ')}") from None
    return Project(
        path=path,
        graphs=graphs,
        paths=paths,
        requirements=requirements,
        missing=missing,
        env=env,
        store=store,
        ignored=tuple(k for k in raw if k in IGNORED_KEYS),
    )


def _graphs(value: Any, where: str) -> tuple[GraphEntry, ...]:
    if value is None:
        raise ProjectError(f'{where}: no \'graphs\': name at least one, e.g. {{"agent": "./agent.py:graph"}}')
    if not isinstance(value, dict) or not value:
        got = "an empty object" if value == {} else _json_type(value)
        raise ProjectError(
            f"{where}: 'graphs' must be a non-empty object of graph id → \"./file.py:attr\" (got {got})"
        )
    entries = []
    for graph_id, spec in value.items():
        at = f"{where}: graphs.{graph_id}"
        if not _GRAPH_ID.match(graph_id):
            raise ProjectError(f"{at}: a graph id is letters, digits, '_', '-' and '.', not {graph_id!r}")
        description = None
        if isinstance(spec, dict):
            unknown = set(spec) - {"path", "description"}
            if unknown:
                raise ProjectError(f"{at}: unknown key {sorted(unknown)[0]!r} (known: path, description)")
            if "path" not in spec:
                raise ProjectError(f"{at}: an object entry needs 'path', e.g. \"./agent.py:graph\"")
            description = spec.get("description")
            if description is not None and not isinstance(description, str):
                raise ProjectError(f"{at}.description must be a string, not {_json_type(description)}")
            spec = spec["path"]
        if not isinstance(spec, str):
            raise ProjectError(
                f'{at}: expected "./path/file.py:attr", "package.module:attr" or '
                f'{{"path": ..., "description": ...}}, not {_json_type(spec)}'
            )
        target, sep, attr = spec.rpartition(":")
        if not sep or not target or not attr or not attr.replace(".", "").replace("_", "a").isalnum():
            raise ProjectError(
                f'{at}: {spec!r} does not name a graph: write "./path/file.py:attr" or '
                "\"package.module:attr\" (the attribute after the last ':')"
            )
        entries.append(GraphEntry(graph_id, spec, description))
    return tuple(entries)


def _dependencies(
    value: Any, root: Path, where: str
) -> tuple[tuple[Path, ...], tuple[str, ...], tuple[tuple[str, str], ...]]:
    if value is None:
        return (), (), ()
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise ProjectError(f"{where}: 'dependencies' must be a list of strings, not {_json_type(value)}")
    paths: list[Path] = []
    requirements: list[str] = []
    missing: list[tuple[str, str]] = []
    for dep in value:
        dep = dep.strip()
        if dep.startswith((".", "/", "~")) or dep.startswith(os.sep):
            directory = (root / Path(dep).expanduser()).resolve()
            if not directory.is_dir():
                raise ProjectError(f"{where}: dependency {dep!r}: {directory} is not a directory")
            paths.append(directory)
            continue
        requirements.append(dep)
        match = _REQUIREMENT_NAME.match(dep)
        if match is None or "://" in dep or dep.startswith("git+"):
            continue  # a URL or VCS requirement: we cannot tell which distribution it installs
        name = match.group(1)
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append((name, dep))
    return tuple(paths), tuple(requirements), tuple(missing)


def _env(value: Any, root: Path, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        file = (root / Path(value).expanduser()).resolve()
        if not file.is_file():
            raise ProjectError(f"{where}: env file {value!r} ({file}) does not exist")
        try:
            return read_env_file(file)
        except EnvFileError as err:
            raise ProjectError(f"{where}: env: {err}") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ProjectError(f"{where}: env file {file}: cannot read it: {err}") from None
    if isinstance(value, dict):
        env: dict[str, str] = {}
        for key, item in value.items():
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise ProjectError(f"{where}: env.{key} must be a string, not {_json_type(item)}")
            env[key] = str(item)
        return env
    raise ProjectError(f"{where}: 'env' must be a .env file path or an object, not {_json_type(value)}")


def _json_type(value: Any) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)
