"""Shared by the symbology tests: the generated QGIS project over a copy of the demo data, QGIS
Server 3.22 (Debian's qgis_mapserv.fcgi, run as a CGI per request) and the image metric.

The metric: both images are composited over white and blurred (3x3 box); a pixel *differs*
when its colour is more than `TOLERANCE` (0-255, largest channel) away from every pixel of the
other image within one pixel of it (anti-aliasing and half-pixel shifts of edges aside). The share of differing pixels
is compared with a limit; when it is over, the diff image (differing pixels red over a grey
copy of the QGIS image, then the two maps) is saved and its path given.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyogrio
import shapely
from PIL import Image

HERE = Path(__file__).parent
DEMO = HERE.parents[2] / "src" / "ogcserve" / "demo"
SYSTEM_PYTHON = "/usr/bin/python3"
QGIS_SERVER = Path("/usr/lib/cgi-bin/qgis_mapserv.fcgi")
TOLERANCE = 32
RGB = npt.NDArray[np.int16]


def qgis_env(home: Path) -> dict[str, str]:
    """The system Python's / QGIS Server's environment: headless, own HOME, no venv paths."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return {**env, "HOME": str(home), "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": "/tmp"}


def qgis_available() -> bool:
    """Whether the system Python has qgis.core."""
    if not Path(SYSTEM_PYTHON).exists():
        return False
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import qgis.core"],
        capture_output=True,
        env=qgis_env(Path(tempfile.gettempdir())),
        timeout=120,
    )
    return probe.returncode == 0


def write_data(folder: Path) -> None:
    """The demo's GeoPackage and raster, with a `borders` line table (country outlines)."""
    folder.mkdir(parents=True, exist_ok=True)
    gpkg = folder / "natural_earth.gpkg"
    shutil.copy(DEMO / "natural_earth.gpkg", gpkg)
    shutil.copy(DEMO / "elevation.tif", folder / "elevation.tif")
    _, _, geoms, fields = pyogrio.raw.read(gpkg, layer="countries", columns=["continent", "name"])
    lines = shapely.boundary(shapely.from_wkb(geoms))
    pyogrio.raw.write(
        gpkg,
        layer="borders",
        driver="GPKG",
        geometry=shapely.to_wkb(lines),
        field_data=fields,
        fields=["continent", "name"],
        geometry_type="MultiLineString",
        crs="EPSG:4326",
    )


def write_project(folder: Path) -> Path:
    """Data and the QGIS project of make_style_project.py in `folder`; the `.qgs` path."""
    write_data(folder / "data")
    out = folder / "styles.qgs"
    home = folder / "home"
    home.mkdir(exist_ok=True)
    run = subprocess.run(
        [SYSTEM_PYTHON, str(HERE / "make_style_project.py"), str(folder / "data"), str(out)],
        capture_output=True,
        text=True,
        env=qgis_env(home),
        timeout=300,
    )
    if run.returncode != 0 or not out.exists():
        raise RuntimeError(f"make_style_project.py failed: {run.stdout}{run.stderr}")
    return out


def qgis_getmap(project: Path, query: str, home: Path) -> bytes:
    """A GetMap answered by QGIS Server run as a CGI."""
    env = {
        **qgis_env(home),
        "QGIS_PROJECT_FILE": str(project),
        "REQUEST_METHOD": "GET",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SCRIPT_NAME": "/qgis",
        "QUERY_STRING": query,
    }
    run = subprocess.run([str(QGIS_SERVER)], capture_output=True, env=env, timeout=300)
    head, _, body = run.stdout.partition(b"\n\n")  # CGI headers end with an empty line
    if b"image/png" not in head:
        raise RuntimeError(f"QGIS Server: {run.stdout[:2000]!r} {run.stderr[-2000:]!r}")
    return body


def over_white(png: bytes) -> RGB:
    """The image's RGB, composited over white."""
    rgba = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"), dtype=np.float64)
    alpha = rgba[..., 3:4] / 255
    return np.rint(rgba[..., :3] * alpha + 255 * (1 - alpha)).astype(np.int16)


@dataclass(frozen=True)
class Comparison:
    """How two images differ: the share of differing pixels and the mean colour difference."""

    share: float
    mean: float
    mask: npt.NDArray[np.bool_]


def _far(a: RGB, b: RGB) -> npt.NDArray[np.bool_]:
    """Pixels of `a` farther than TOLERANCE from every pixel of `b` in their 3x3 neighbourhood."""
    h, w, _ = a.shape
    padded = np.pad(b, ((1, 1), (1, 1), (0, 0)), mode="edge")
    far = np.ones((h, w), dtype=bool)
    for dy in range(3):
        for dx in range(3):
            shifted = padded[dy : dy + h, dx : dx + w]
            far &= np.abs(a - shifted).max(axis=2) > TOLERANCE
    return far


def _blur(image: RGB) -> RGB:
    """A 3x3 box blur: spreads anti-aliased edges alike, whichever pixel they fell on."""
    h, w, _ = image.shape
    padded = np.pad(image.astype(np.int32), ((1, 1), (1, 1), (0, 0)), mode="edge")
    total = sum(padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3))
    return np.rint(np.asarray(total) / 9).astype(np.int16)


def compare(ours: bytes, theirs: bytes) -> Comparison:
    """Compare two PNGs of the same size by the metric above (symmetric)."""
    a, b = over_white(ours), over_white(theirs)
    if a.shape != b.shape:
        raise AssertionError(f"sizes differ: {a.shape} and {b.shape}")
    sa, sb = _blur(a), _blur(b)
    mask = _far(sa, sb) | _far(sb, sa)
    return Comparison(float(mask.mean()), float(np.abs(a - b).mean()), mask)


def save_diff(name: str, ours: bytes, theirs: bytes, result: Comparison, folder: Path) -> Path:
    """Side by side: QGIS Server's map, ogcserve's, and the differing pixels in red."""
    a, b = over_white(ours), over_white(theirs)
    grey = (b.mean(axis=2, keepdims=True) * 0.3 + 178).repeat(3, axis=2)
    grey[result.mask] = (255, 0, 0)
    strip = np.concatenate([b, a, grey.astype(np.int16)], axis=1).clip(0, 255).astype(np.uint8)
    path = folder / f"{name}-qgis-ogcserve-diff.png"
    Image.fromarray(strip).save(path)
    return path
