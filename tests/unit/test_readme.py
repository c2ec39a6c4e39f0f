"""README.md starts with the two set-up commands, and CI runs exactly the second one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def test_readme_opens_with_install_and_run_then_install_and_test() -> None:
    text = (ROOT / "README.md").read_text()
    first_block = text.index("```bash")
    assert text[:first_block].count("```") == 0, "the commands come before any other code block"
    run, test = readme_commands()[:2]
    assert "\n" not in run and "\n" not in test, "each is a single command"
    assert run.endswith("duragraph-lab dev")
    assert 'pip install -e ".[test]"' in test
    assert test.endswith("python -m pytest")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test = readme_commands()[1]
    assert test in (ROOT / ".ci" / "run").read_text().splitlines()
