"""langgraph.json as LangGraph Platform reads it: every key, and one precise line per mistake."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.control.item_store import StoreSettings
from duragraph_lab.langgraph.envfile import EnvFileError, read_env_file
from duragraph_lab.langgraph.project import (
    IGNORED_KEYS,
    UNSUPPORTED_KEYS,
    ProjectError,
    find_project,
    load_project,
)


def write(directory: Path, config: Any, name: str = "langgraph.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(config) if not isinstance(config, str) else config)
    return path


def test_graphs_as_strings_and_objects(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "graphs": {
                "agent": "./src/agent.py:graph",
                "other": {"path": "my_pkg.graphs:make_graph", "description": "Does X"},
            }
        },
    )
    project = load_project(path)
    agent, other = project.graphs
    assert (agent.graph_id, agent.target, agent.attribute, agent.is_file) == (
        "agent",
        "./src/agent.py",
        "graph",
        True,
    )
    assert (other.graph_id, other.target, other.attribute, other.is_file, other.description) == (
        "other",
        "my_pkg.graphs",
        "make_graph",
        False,
        "Does X",
    )
    assert project.root == tmp_path
    assert load_project(tmp_path).path == path  # a directory means its langgraph.json


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            "{not json",
            "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2",
        ),
        ("[]", "must hold a JSON object, not an array"),
        ({}, "no 'graphs'"),
        ({"graphs": {}}, "'graphs' must be a non-empty object of graph id"),
        ({"graphs": ["./a.py:g"]}, "(got an array)"),
        ({"graphs": {"a": "./a.py"}}, "graphs.a: './a.py' does not name a graph"),
        ({"graphs": {"a": "./a.py:"}}, "graphs.a: './a.py:' does not name a graph"),
        ({"graphs": {"a": 3}}, 'graphs.a: expected "./path/file.py:attr"'),
        ({"graphs": {"a": {"description": "x"}}}, "graphs.a: an object entry needs 'path'"),
        ({"graphs": {"a": {"path": "./a.py:g", "descr": "x"}}}, "graphs.a: unknown key 'descr'"),
        ({"graphs": {"a": {"path": "./a.py:g", "description": 3}}}, "graphs.a.description must be a string"),
        ({"graphs": {"a b": "./a.py:g"}}, "a graph id is letters, digits"),
        ({"graphs": {"a": "./a.py:g"}, "grahps": {}}, "unknown key 'grahps' (did you mean 'graphs'?)"),
        ({"graphs": {"a": "./a.py:g"}, "dependencies": "."}, "'dependencies' must be a list of strings"),
        ({"graphs": {"a": "./a.py:g"}, "dependencies": ["./missing"]}, "dependency './missing':"),
        ({"graphs": {"a": "./a.py:g"}, "env": ".env.nope"}, "env file '.env.nope'"),
        ({"graphs": {"a": "./a.py:g"}, "env": {"A": ["x"]}}, "env.A must be a string, not an array"),
        ({"graphs": {"a": "./a.py:g"}, "env": 3}, "'env' must be a .env file path or an object"),
        ({"graphs": {"a": "./a.py:g"}, "store": {"index": {"dims": 3}}}, "store.index (semantic search"),
        ({"graphs": {"a": "./a.py:g"}, "store": {"ttl": {"ttl": 3}}}, "store.ttl.ttl is not a TTL setting"),
        ({"graphs": {"a": "./a.py:g"}, "checkpointer": {"ttl": {"default_ttl": 5}}}, "'checkpointer' is set"),
        ({"graphs": {"a": "./a.py:g"}, "auth": {"path": "./auth.py:auth"}}, "custom auth handlers"),
        ({"graphs": {"a": "./a.py:g"}, "node_version": "20"}, "JavaScript graphs are not supported"),
    ],
)
def test_each_mistake_is_one_precise_line(tmp_path: Path, config: Any, message: str) -> None:
    path = write(tmp_path, config)
    with pytest.raises(ProjectError) as caught:
        load_project(path)
    text = str(caught.value)
    assert message in text
    assert str(path) in text
    assert "\n" not in text


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match=r"langgraph.json: no such file"):
        load_project(tmp_path / "langgraph.json")


@pytest.mark.parametrize("key", sorted(UNSUPPORTED_KEYS))
def test_unsupported_keys_are_refused_when_set_and_accepted_when_empty(tmp_path: Path, key: str) -> None:
    with pytest.raises(ProjectError, match=f"'{key}' is set, but .*; remove it"):
        load_project(write(tmp_path, {"graphs": {"a": "./a.py:g"}, key: {"x": 1}}))
    for empty in (None, {}):
        load_project(write(tmp_path, {"graphs": {"a": "./a.py:g"}, key: empty}))


def test_image_build_keys_are_ignored_and_reported(tmp_path: Path) -> None:
    config = {"graphs": {"a": "./a.py:g"}, "python_version": "3.12", "dockerfile_lines": ["RUN x"]}
    project = load_project(write(tmp_path, config))
    assert project.ignored == ("python_version", "dockerfile_lines")
    assert {"python_version", "dockerfile_lines", "base_image", "pip_installer"} <= IGNORED_KEYS


def test_local_dependencies_go_on_the_path_and_packages_must_be_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "src").mkdir()
    config = {
        "graphs": {"a": "./a.py:g"},
        "dependencies": [".", "./src", "langgraph>=1", "pytest", "git+https://example.invalid/x.git"],
    }
    project = load_project(write(tmp_path, config))
    assert project.paths == (tmp_path.resolve(), (tmp_path / "src").resolve())
    assert project.missing == ()
    project.check_dependencies()
    monkeypatch.setattr(sys, "path", list(sys.path))
    project.activate()
    assert sys.path[:2] == [str(tmp_path), str(tmp_path / "src")]
    project.activate()  # idempotent: no duplicates
    assert sys.path.count(str(tmp_path)) == 1

    missing = load_project(
        write(tmp_path, {"graphs": {"a": "./a.py:g"}, "dependencies": ["no-such-package-xyz[extra]>=2"]})
    )
    with pytest.raises(ProjectError, match=r"dependency 'no-such-package-xyz' is not installed in this "):
        missing.check_dependencies()
    with pytest.raises(ProjectError, match=r"pip install 'no-such-package-xyz\[extra\]>=2'$"):
        missing.check_dependencies()


def test_env_from_a_mapping_or_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = load_project(write(tmp_path, {"graphs": {"a": "./a.py:g"}, "env": {"A": "1", "B": 2}}))
    assert project.env == {"A": "1", "B": "2"}
    (tmp_path / ".env").write_text("# keys\nexport OPENAI_API_KEY=sk-1\nMODEL='gpt x'\n")
    project = load_project(write(tmp_path, {"graphs": {"a": "./a.py:g"}, "env": ".env"}))
    assert project.env == {"OPENAI_API_KEY": "sk-1", "MODEL": "gpt x"}
    monkeypatch.setenv("MODEL", "before")
    # activate() writes os.environ: every variable it sets is one monkeypatch puts back, or an
    # OPENAI_API_KEY left behind makes later tests' demo models call OpenAI.
    monkeypatch.setenv("OPENAI_API_KEY", "before")
    project.activate()
    assert os.environ["MODEL"] == "gpt x"  # the project's env wins, as with `langgraph dev`


def test_store_settings_become_the_store_settings(tmp_path: Path) -> None:
    config = {
        "graphs": {"a": "./a.py:g"},
        "store": {"ttl": {"default_ttl": 60, "refresh_on_read": False, "sweep_interval_minutes": 2}},
    }
    assert load_project(write(tmp_path, config)).store == StoreSettings(
        default_ttl=60, refresh_on_read=False, sweep_interval_minutes=2
    )
    assert (
        load_project(write(tmp_path, {"graphs": {"a": "./a.py:g"}, "store": None})).store == StoreSettings()
    )


def test_find_project(tmp_path: Path) -> None:
    assert find_project(tmp_path) is None
    path = write(tmp_path, {"graphs": {"a": "./a.py:g"}})
    assert find_project(tmp_path) == path.resolve()


def test_env_file_dialect(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "\n".join(
            [
                "# a comment",
                "",
                "PLAIN=value # trailing comment",
                "export EXPORTED=yes",
                "SINGLE='no ${PLAIN} expansion'",
                'DOUBLE="line\\nbreak and ${PLAIN}"',
                "REF=${PLAIN}-${UNSET:-fallback}",
                "EMPTY=",
                "HASH=a#b",
            ]
        )
    )
    assert read_env_file(env, environ={}) == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "SINGLE": "no ${PLAIN} expansion",
        "DOUBLE": "line\nbreak and value",
        "REF": "value-fallback",
        "EMPTY": "",
        "HASH": "a#b",
    }
    env.write_text("GOOD=1\nthis is not a line\n")
    with pytest.raises(EnvFileError, match=r"line 2: expected KEY=VALUE"):
        read_env_file(env)
    env.write_text("OPEN='never closed\n")
    with pytest.raises(EnvFileError, match=r"line 1: the value's ' is never closed"):
        read_env_file(env)
