"""Reading a check-in QR image back with a real decoder (zxing-cpp), from the pixels the SVG draws: never
from the encoder's own matrix, so an image that encodes anything else reads as that."""

import re
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import numpy.typing as npt
import zxingcpp

SVG_NS = "{http://www.w3.org/2000/svg}"
# segno draws each run of dark modules as a horizontal line through the middle of its row:
# `M x y h n` starts at absolute (x, y), `m dx dy h n` moves from the end of the previous run.
_RUN = re.compile(r"([Mm])(-?\d+(?:\.\d+)?) (-?\d+(?:\.\d+)?)h(\d+)")
PIXELS_PER_MODULE = 6


def svg_modules(svg: str | bytes) -> npt.NDArray[np.bool_]:
    """The dark modules the SVG draws (its quiet zone included), as a boolean matrix of rows."""
    root = ET.fromstring(svg)  # noqa: S314 - our own server's answer
    assert root.tag == f"{SVG_NS}svg"
    (path,) = root.iter(f"{SVG_NS}path")
    scale_match = re.fullmatch(r"scale\((\d+)\)", path.get("transform", "scale(1)"))
    assert scale_match is not None
    scale = int(scale_match.group(1))
    width, height = int(root.get("width", "0")), int(root.get("height", "0"))
    assert width == height and width % scale == 0
    size = width // scale
    modules = np.zeros((size, size), dtype=bool)
    d = path.get("d", "")
    assert _RUN.sub("", d) == "", "a path command other than M/m ... h"
    x = y = 0.0
    for move, dx, dy, length in _RUN.findall(d):
        x, y = (float(dx), float(dy)) if move == "M" else (x + float(dx), y + float(dy))
        row, start, run = int(y - 0.5), int(x), int(length)
        assert y - 0.5 == row and x == start  # runs sit on the module grid
        modules[row, start : start + run] = True
        x += run
    return modules


def decode(modules: npt.NDArray[np.bool_]) -> list[Any]:
    """What zxing-cpp reads from the modules drawn as an 8-bit grey image (dark = 0), scaled up."""
    pixels = np.where(modules, 0, 255).astype(np.uint8)
    image = np.kron(pixels, np.ones((PIXELS_PER_MODULE, PIXELS_PER_MODULE), dtype=np.uint8))
    return list(zxingcpp.read_barcodes(image))


def decode_qr_svg(svg: str | bytes) -> str:
    """The text of the one QR code the SVG draws."""
    (result,) = decode(svg_modules(svg))
    assert result.format == zxingcpp.BarcodeFormat.QRCode
    text: str = result.text
    return text
