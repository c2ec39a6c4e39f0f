"""The "Python 3 (DuraGraph)" kernelspec carries a logo of its own (Jupyter's launcher otherwise
shows a placeholder letter): the files Jupyter looks for, of the sizes their names say."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from pathlib import Path

KERNEL = Path(__file__).resolve().parents[2] / "kernels" / "duragraph"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


def test_the_kernelspec_has_its_logos() -> None:
    assert _png_size(KERNEL / "logo-32x32.png") == (32, 32)
    assert _png_size(KERNEL / "logo-64x64.png") == (64, 64)
    svg = ET.parse(KERNEL / "logo-svg.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg" and svg.get("viewBox") == "0 0 64 64"


def test_jupyter_serves_them_as_the_kernels_resources() -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager(kernel_dirs=[str(KERNEL.parent)]).get_kernel_spec("duragraph")
    found = {p.name for p in Path(spec.resource_dir).iterdir()}
    assert {"logo-32x32.png", "logo-64x64.png", "logo-svg.svg", "kernel.json"} <= found
