"""Store the example notebooks clean: ``python notebooks/clean.py [NOTEBOOK ...]``.

Clears outputs, execution counts and widget state, numbers the cell ids ``<name>-01``, ``-02``, ...
(the tests find cells by these ids) and sets the ``python3`` kernelspec. With no arguments: every
``notebooks/*.ipynb``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    prefix = path.stem.replace("_", "-")
    for i, cell in enumerate(nb.cells, 1):
        cell.id = f"{prefix}-{i:02d}"
        cell.metadata = nbformat.from_dict({})
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.validate(nb)
    nbformat.write(nb, path)


if __name__ == "__main__":
    paths = [Path(a) for a in sys.argv[1:]] or sorted(Path(__file__).parent.glob("*.ipynb"))
    for path in paths:
        clean(path)
        print(f"cleaned {path}")
