"""The sandbox's products: signed download links, SAR-like image files, metadata and STAC items.

Four small parts, each used by the sandbox's routes:

* **Links.** ``sign_link`` / ``verify_link``: ``{path}?expires=<unix s>&signature=<hex>``, where the
  signature is HMAC-SHA256 over ``f"{path}\\n{expires}"`` (the newline keeps ``/a/1`` + ``23`` and
  ``/a/`` + ``123`` apart). ICEYE's download URLs "expire in 1 hour" (iceye-api.md §4.8); the
  caller passes *simulation* times, so a link lives one simulated hour (``LINK_LIFETIME``).
* **Images.** ``make_quicklook_png`` (8-bit dB-scaled PNG) and ``make_grd_tiff`` (16-bit amplitude
  GeoTIFF) render the same synthetic scene for a seed: smoothed-noise terrain lit by the radar, farm
  parcels, forest, a coastline or a river of low backscatter, a town with double-bounce edges and
  shadows, ships with sidelobe crosses, a range falloff by incidence, and gamma speckle. numpy and
  Pillow only; deterministic for a seed and size.
* **Metadata.** ``make_metadata``: the scene's true geometry in ICEYE's metadata style (snake_case
  keys as in ICEYE's GRD/SLC metadata files; table below), written as the ``grd-xml`` annotation
  (``make_metadata_xml``) and as the quicklook's KML ground overlay (``make_quicklook_kml``).
* **STAC.** ``stac_item``, ``asset_entry``, ``asset_plan``: ICEYE's ``CatalogItem`` (a STAC 1.0.0
  Item; iceye-api.md §4.8) with only the documented properties and ICEYE's asset keys
  (``grd-tif``, ``grd-xml``, ``quicklook-kml``, ``quicklook-png``), plus a data file and metadata
  of the sandbox's own keys for every other product type, which ``tasking.models.Product``
  parses; ``render_asset`` makes the quicklooks, GRD and XML files, ``tasking.sandbox.datafiles``
  the other product types' files from the same scene.

Image orientation (quicklook and GRD): rows run along azimuth with the flight direction *up*, columns
across range; the satellite is on the near-range side, on the left for a RIGHT-looking pass and on the
right for a LEFT-looking one, as seen from above with the track drawn vertically.

Metadata document keys (``make_metadata``); angles in degrees, distances in metres as ICEYE gives
them; ``*`` marks keys ICEYE's files do not have:

=============================  =================================================================
``product_name``               ``ICEYE_<satellite>_<product type>_<mode code>_<task id>_<start>``
``product_type``               e.g. ``GRD`` (both only when a product type is given)
``frame_id``                   ``<task id>_<start YYYYMMDDTHHMMSS>``; also the STAC ``frame_id``
``task_id`` *                  the task the scene was captured for
``satellite_name``             the satellite that imaged the scene
``imaging_mode`` *             the API ``imagingMode`` ordered (``SPOTLIGHT``)
``acquisition_mode``           collection strategy, lower case (``spotlight``/``stripmap``/``scan``)
``acquisition_start_utc``      RFC 3339 with ``Z``; ``acquisition_end_utc`` likewise
``imaging_duration`` *         seconds (the scene's ``duration``)
``look_side``                  ``right`` / ``left`` (lower case, as ICEYE writes it)
``orbit_direction``            ``ASCENDING`` / ``DESCENDING``
``heading``                    track heading at the scene, clockwise from north
``incidence_center``           incidence angle at the scene centre
``incidence_near``             at the near-range edge; ``incidence_far`` at the far edge
``satellite_look_angle``       off-nadir look angle
``slant_range_to_scene_center`` *  metres; ``slant_range_to_first_pixel``: at the near edge
``mean_orbit_altitude``        metres (only when the altitude is given)
``coord_first_near``           ``[lat, lon]`` of the near-range corner of the first line; also
                               ``coord_first_far``, ``coord_last_near``, ``coord_last_far`` and
                               ``coord_center`` (ICEYE's files prefix pixel column and row)
``point_of_interest`` *        ``{"lat", "lon"}`` of the task
``polarization``               ``VV`` (all ICEYE modes, iceye-fleet-modes.md §1.2)
``carrier_frequency``          Hz (9.65 GHz, iceye-fleet-modes.md §2.1)
``calibration_factor``         σ0 = DN² × factor for the ``grd-tif`` file's 16-bit amplitudes
``geo_ref_system``             ``WGS84``
``processor_version``          ``iceye-tasking-sandbox`` (simulated data, not an ICEYE product)
=============================  =================================================================
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from xml.etree import ElementTree

import numpy as np
import numpy.typing as npt
from PIL import Image, TiffImagePlugin, TiffTags

from tasking.errors import InputError, Violation
from tasking.geometry import normalize_lon, unwrap
from tasking.models import Scene, Task
from tasking.modes import mode_info
from tasking.rules import point_violations
from tasking.times import format_rfc3339, require_aware, to_utc

__all__ = [
    "COG",
    "DOCUMENTED_PROPERTIES",
    "GEOTIFF",
    "LINK_LIFETIME",
    "LINK_SUFFIXES",
    "MEDIA_TYPES",
    "NITF",
    "LinkError",
    "asset_entry",
    "asset_file_name",
    "asset_plan",
    "corner_pixels",
    "frame_id",
    "link_expiry",
    "make_grd_tiff",
    "make_metadata",
    "make_metadata_xml",
    "make_quicklook_kml",
    "make_quicklook_png",
    "product_id",
    "render_asset",
    "scene_seed",
    "scene_sigma0",
    "sign_link",
    "speckle",
    "split_link",
    "stac_item",
    "verify_link",
]

# --- signed links ----------------------------------------------------------------------------

LINK_LIFETIME = timedelta(hours=1)
"""ICEYE: "Download URLs expire in 1 hour" (iceye-api.md §4.8); measured in simulation time."""

LinkReason = Literal["expired", "invalid signature", "malformed"]

_HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")  # SHA-256 digest: 32 bytes, 64 hex digits
_DIGITS = re.compile(r"[0-9]{1,12}")  # unix seconds; 12 digits reach the year 33658


class LinkError(Exception):
    """A download link that must be refused; ``reason`` says why."""

    def __init__(self, reason: LinkReason, message: str | None = None) -> None:
        super().__init__(message or f"download link refused: {reason}")
        self.reason: LinkReason = reason


def _signature(secret: bytes, path: str, expires: str) -> str:
    return hmac.new(secret, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def link_expiry(issued: datetime) -> datetime:
    """When a link issued at ``issued`` (simulation time) stops working."""
    return require_aware(issued, "issued") + LINK_LIFETIME


def sign_link(secret: bytes, path: str, expires: datetime) -> str:
    """``path?expires=<unix seconds>&signature=<hex HMAC-SHA256 of path and expires>``."""
    if not path.startswith("/") or any(ch in path for ch in "?#&\n"):
        raise InputError(
            "a signed link's path must start with '/' and hold no '?', '#', '&' or newline",
            field="path",
            rule="link-path",
        )
    # Whole seconds, rounded down: the link dies at or before the requested instant, never after.
    seconds = str(math.floor(require_aware(expires, "expires").timestamp()))
    return f"{path}?expires={seconds}&signature={_signature(secret, path, seconds)}"


def split_link(link: str) -> tuple[str, str, str]:
    """``(path, expires, signature)`` of a link made by ``sign_link``; ``LinkError`` if malformed."""
    path, _, query = link.partition("?")
    params: dict[str, str] = {}
    for pair in query.split("&") if query else []:
        key, _, value = pair.partition("=")
        params[key] = value
    if "expires" not in params or "signature" not in params:
        raise LinkError("malformed", "download link refused: expires and signature are required")
    return path, params["expires"], params["signature"]


def verify_link(secret: bytes, path: str, expires: str, signature: str, now: datetime) -> None:
    """Accept a link or raise ``LinkError``: malformed, invalid signature, or expired (now > expires).

    The signature is checked before the time, so a link whose ``expires`` was pushed forward is
    refused as altered, not accepted as fresh; the comparison is constant-time.
    """
    if not _DIGITS.fullmatch(expires) or not _HEX_SIGNATURE.fullmatch(signature):
        raise LinkError(
            "malformed",
            "download link refused: expires must be unix seconds and signature 64 hex digits",
        )
    if not hmac.compare_digest(_signature(secret, path, expires), signature.lower()):
        raise LinkError("invalid signature", "download link refused: the signature does not match")
    if require_aware(now, "now").timestamp() > int(expires):
        raise LinkError("expired", "download link refused: it expired; ask for the product again")


# --- images ----------------------------------------------------------------------------------

F32 = np.float32
Array = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]

_SIZE_LIMITS = (16, 4096)
# Feature sizes below are in pixels of a 640-pixel image, scaled with the image's size.
_REFERENCE_SIZE = 640.0
# The quicklook spans ±3° of incidence across range: wider than a 5 km Spot scene's ±0.3°, so that
# the falloff shows; X-band σ0 drops ~0.25 dB per degree at mid incidences plus the cos² term.
_RANGE_SPAN_DEG = 6.0
_FALLOFF_DB_PER_DEG = 0.25
_GRD_DN_PER_AMPLITUDE = 1000.0  # DN = 1000·√σ0: land (−10 dB) ≈ 316, a ship (+30 dB) ≈ 31600
_CALIBRATION_FACTOR = 1.0 / _GRD_DN_PER_AMPLITUDE**2


def _check_image_args(
    seed: int, width: int, height: int, look_side: str, incidence: float, looks: float
) -> Literal["LEFT", "RIGHT"]:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError("an image seed must be an integer ≥ 0", field="seed", rule="seed")
    low, high = _SIZE_LIMITS
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InputError(
                f"image {name} must be an integer from {low} to {high} pixels",
                field=name,
                rule="image-size",
            )
    side = look_side.upper()
    if side not in ("LEFT", "RIGHT"):
        raise InputError(
            f"look side must be LEFT or RIGHT to render a scene, not {look_side!r}",
            field="look_side",
            rule="look-side",
        )
    if not (math.isfinite(incidence) and 0.0 < incidence + _RANGE_SPAN_DEG / 2 < 90.0):
        raise InputError(
            "incidence must be a finite angle between 0 and 87 degrees",
            field="incidence",
            rule="incidence-range",
        )
    if not (math.isfinite(looks) and looks >= 1.0):
        raise InputError("looks must be a number ≥ 1", field="looks", rule="looks")
    return "LEFT" if side == "LEFT" else "RIGHT"


def _fractal(rng: np.random.Generator, shape: tuple[int, int], beta: float) -> Array:
    """Zero-mean, unit-variance noise with a 1/f^beta power spectrum (smoother as beta grows)."""
    spectrum = np.fft.rfft2(rng.standard_normal(shape, dtype=F32))
    fy = np.fft.fftfreq(shape[0]).astype(F32)[:, None]
    fx = np.fft.rfftfreq(shape[1]).astype(F32)[None, :]
    radius = np.hypot(fy, fx)
    radius[0, 0] = 1.0
    spectrum *= radius ** (-beta / 2.0)
    spectrum[0, 0] = 0.0
    field = np.fft.irfft2(spectrum, s=shape).astype(F32)
    return np.asarray((field - field.mean()) / (field.std() + F32(1e-12)), dtype=F32)


def _upsample(field: Array, width: int, height: int) -> Array:
    image = Image.fromarray(field, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    resized: Array = np.asarray(image, dtype=F32)
    return resized


def _lookup(rng: np.random.Generator, low: float, high: float, index: npt.NDArray[Any]) -> Array:
    """A random value per cell of a grid, drawn once per table slot."""
    values: Array = rng.uniform(low, high, 4096).astype(F32)[index]
    return values


def _grid(
    x: Array, y: Array, angle: float, size_u: float, size_v: float, warp: Array | float = 0.0
) -> tuple[npt.NDArray[np.int64], Array, Array]:
    """Cells of a rotated grid: a hash index per cell and the position inside it (0..1)."""
    u = (x * F32(math.cos(angle)) + y * F32(math.sin(angle)) + warp) / F32(size_u)
    v = (y * F32(math.cos(angle)) - x * F32(math.sin(angle)) + warp) / F32(size_v)
    iu, iv = np.floor(u), np.floor(v)
    index = np.asarray((iu.astype(np.int64) * 7919 + iv.astype(np.int64) * 104729) % 4096)
    return index.astype(np.int64), np.asarray(u - iu, dtype=F32), np.asarray(v - iv, dtype=F32)


def _scene_db(
    rng: np.random.Generator, width: int, height: int, side: str, incidence: float
) -> tuple[Array, Mask, Mask]:
    """Noise-free backscatter (dB) of a synthetic scene, with its water and town masks."""
    scale = min(width, height) / _REFERENCE_SIZE
    low_shape = (max(8, height // 4), max(8, width // 4))
    x = (np.arange(width, dtype=F32) / F32(scale))[None, :]
    y = (np.arange(height, dtype=F32) / F32(scale))[:, None]
    # +1 when range grows with x: the near range is on the left for a RIGHT-looking satellite.
    away = 1.0 if side == "RIGHT" else -1.0

    elevation_low = _fractal(rng, low_shape, 4.5)
    elevation = _upsample(elevation_low, width, height)
    cover = _upsample(_fractal(rng, low_shape, 2.6), width, height)
    urban = _upsample(_fractal(rng, low_shape, 3.0), width, height)
    warp = _upsample(_fractal(rng, low_shape, 3.0), width, height) * F32(6.0)
    texture = _upsample(_fractal(rng, (height // 2, width // 2), 1.6), width, height)

    # Farmland: parcels of a rotated, warped grid, each with its own crop (−17…−7 dB), and
    # field edges (hedges, tracks) a little brighter; forest where the cover field is high.
    angle = float(rng.uniform(0.0, math.pi))
    index, fu, fv = _grid(x, y, angle, rng.uniform(25, 60), rng.uniform(15, 40), warp)
    crops = np.array([-17.0, -14.0, -12.0, -10.0, -8.5, -7.0], dtype=F32)
    parcels = rng.choice(crops, size=4096)[index] + F32(0.8) * texture
    edge = (np.minimum(fu, 1 - fu) < F32(0.03)) | (np.minimum(fv, 1 - fv) < F32(0.04))
    parcels = np.where(edge & (rng.random(4096) < 0.5)[index], F32(-7.0), parcels)
    land = np.where(cover > 0.9, F32(-7.0) + F32(0.8) * texture, parcels)

    # Relief: slopes facing the radar look brighter (foreshortening), slopes facing away darker.
    slope = np.gradient(elevation_low, axis=1) * F32(-away * 70.0 * scale)
    land += np.clip(_upsample(slope.astype(F32), width, height), -6.0, 6.0)

    # Water, very low backscatter: the sea behind a coastline, or a meandering river.
    cx, cy = width / scale / 2, height / scale / 2  # the centre, in reference pixels
    if rng.integers(0, 2) == 0:
        direction = rng.uniform(0.0, 2 * math.pi)
        ramp = F32(math.cos(direction)) * (x - F32(cx)) + F32(math.sin(direction)) * (y - F32(cy))
        water = ramp / F32(cy) * F32(2.2) + F32(0.45) * elevation > F32(rng.uniform(-0.5, 0.3))
    else:
        along, across, middle = (y, x, cx) if rng.integers(0, 2) == 0 else (x, y, cy)
        wavelength, phase = rng.uniform(250, 500), rng.uniform(0.0, 2 * math.pi)
        centre = (
            F32(middle + rng.uniform(-120, 120))
            + F32(rng.uniform(30, 90)) * np.sin(along * F32(2 * math.pi / wavelength) + F32(phase))
            + F32(25.0) * elevation
        )
        water = np.abs(across - centre) < F32(rng.uniform(10, 22)) * (1 + F32(0.2) * cover)
    sea_state = _upsample(_fractal(rng, low_shape, 2.0), width, height)
    db = np.where(water, F32(-25.0) + F32(1.2) * sea_state, land)

    # A town away from the water: blocks on a grid, one building each (or an empty lot), with a
    # bright double-bounce edge facing the radar and a radar shadow behind.
    town = (urban > 1.3) & ~water
    index, fu, fv = _grid(
        x, y, angle + rng.uniform(-0.3, 0.3), rng.uniform(8, 12), rng.uniform(8, 12)
    )
    inset_u, inset_v = _lookup(rng, 0.1, 0.45, index), _lookup(rng, 0.1, 0.45, index)
    level = _lookup(rng, -3.0, 5.0, index)
    building = (fu > inset_u) & (fv > inset_v) & (rng.random(4096) < 0.8)[index] & town
    street = town & ~building
    step = -1 if side == "RIGHT" else 1  # np.roll by `step` brings the near-range neighbour here
    facade = building & ~np.roll(building, -step, axis=1)
    shadow = street & (np.roll(building, -step, axis=1) | np.roll(building, -2 * step, axis=1))
    db = np.where(street, F32(-11.0) + F32(2.0) * texture, db)
    db = np.where(building, level + F32(2.0) * texture, db)
    db = np.where(facade, level + F32(10.0), db)
    db = np.where(shadow, F32(-20.0), db)

    # Range falloff: incidence grows away from the satellite across the image.
    theta = incidence + _RANGE_SPAN_DEG * (np.arange(width, dtype=F32) / width - 0.5) * away
    falloff = -_FALLOFF_DB_PER_DEG * (theta - incidence) + 20 * np.log10(
        np.cos(np.radians(theta)) / math.cos(math.radians(incidence))
    )
    return (db + falloff.astype(F32)[None, :]).astype(F32), water, town


def _add_point_targets(
    rng: np.random.Generator, sigma0: Array, water: Mask, town: Mask, scale: float
) -> None:
    """Bright scatterers in the town, and ships on the water with their sidelobe crosses."""
    height, width = sigma0.shape
    ty, tx = np.nonzero(town)
    if ty.size:
        count = ty.size // 50 + 1
        pick = rng.choice(ty.size, size=count, replace=False)
        sigma0[ty[pick], tx[pick]] += np.power(F32(10.0), rng.uniform(1.0, 2.5, count).astype(F32))
    wy, wx = np.nonzero(water)
    if wy.size < 2000 * scale * scale:
        return
    reach = max(4, int(25 * scale))
    lobe_profile = F32(0.03) / (np.abs(np.arange(-reach, reach + 1, dtype=F32)) + 1) ** 1.5
    for k in rng.choice(wy.size, size=int(rng.integers(2, 9)), replace=False):
        cy, cx = int(wy[k]), int(wx[k])
        length, heading = rng.uniform(5, 18) * scale, rng.uniform(0.0, math.pi)
        peak = F32(10 ** rng.uniform(2.0, 3.0))  # +20…+30 dB: a steel hull at X-band
        for s in np.linspace(-length / 2, length / 2, max(2, int(length))):
            py, px = round(cy + s * math.sin(heading)), round(cx + s * math.cos(heading))
            if 0 <= py < height and 0 <= px < width:
                sigma0[max(0, py - 1) : py + 1, max(0, px - 1) : px + 1] += peak
        # Sidelobes of a strong point target spread along range and azimuth (an unweighted sinc).
        x0, x1 = max(0, cx - reach), min(width, cx + reach + 1)
        y0, y1 = max(0, cy - reach), min(height, cy + reach + 1)
        sigma0[cy, x0:x1] += peak * lobe_profile[x0 - cx + reach : x1 - cx + reach]
        sigma0[y0:y1, cx] += peak * lobe_profile[y0 - cy + reach : y1 - cy + reach]


def scene_sigma0(
    seed: int, width: int, height: int, look_side: str, incidence: float, looks: float = 1.0
) -> tuple[Array, np.random.Generator]:
    """Noise-free backscatter (linear σ0, point targets included) of the seed's scene, in the
    quicklook's orientation, and the generator to draw its speckle from (same seed, same
    scene: every file of a task shows one scene)."""
    side = _check_image_args(seed, width, height, look_side, incidence, looks)
    rng = np.random.default_rng(seed)
    db, water, town = _scene_db(rng, width, height, side, incidence)
    sigma0 = np.power(F32(10.0), db / F32(10.0))
    _add_point_targets(rng, sigma0, water, town, min(width, height) / _REFERENCE_SIZE)
    return sigma0, rng


def speckle(rng: np.random.Generator, shape: tuple[int, ...], looks: float) -> Array:
    """Fully developed speckle of an L-look intensity image: Gamma(L, 1/L), mean 1."""
    return rng.gamma(looks, 1.0 / looks, size=shape).astype(F32)


def _render(
    seed: int, width: int, height: int, look_side: str, incidence: float, looks: float
) -> Array:
    """Speckled intensity (linear σ0) of the seed's scene."""
    sigma0, rng = scene_sigma0(seed, width, height, look_side, incidence, looks)
    return np.asarray(sigma0 * speckle(rng, sigma0.shape, looks), dtype=F32)


def make_quicklook_png(
    seed: int,
    *,
    width: int = 640,
    height: int = 640,
    look_side: str = "RIGHT",
    incidence: float = 30.0,
    looks: float = 3.0,
) -> bytes:
    """A grayscale PNG that looks like a SAR quicklook of the seed's synthetic scene.

    dB-scaled, stretched between the 2nd and 99.5th percentiles. ``looks`` is the equivalent
    number of looks of the speckle (ICEYE Spot has 4 azimuth looks, Strip 1; fleet-modes §1.3).
    """
    intensity = _render(seed, width, height, look_side, incidence, looks)
    db = F32(10.0) * np.log10(intensity + F32(1e-6))
    low, high = np.percentile(db, [2.0, 99.5])
    gray = np.clip((db - F32(low)) * F32(255.0 / max(high - low, 1e-6)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    # compress_level 1: a speckled image hardly compresses better at 9, and 1 is several times faster.
    Image.fromarray(gray, mode="L").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def corner_pixels(side: str, width: int, height: int) -> list[tuple[int, int]]:
    """(column, row) of the footprint corners near-start, far-start, far-end, near-end."""
    near, far = (0, width) if side == "RIGHT" else (width, 0)
    # Flight direction up: the first line is the bottom edge.
    return [(near, height), (far, height), (far, 0), (near, 0)]


def _geotiff_tags(
    footprint: Sequence[tuple[float, float]], side: str, width: int, height: int
) -> TiffImagePlugin.ImageFileDirectory_v2:
    """GeoTIFF tags tying the image corners to the footprint (GeoTIFF 1.1, OGC 19-008r4)."""
    corners = _footprint_corners(footprint)
    if len(corners) != 4:
        raise InputError(
            "a GRD footprint needs exactly 4 corners", field="footprint", rule="four-corners"
        )
    tiepoints: list[float] = []
    for (col, row), (lat, lon) in zip(corner_pixels(side, width, height), corners, strict=True):
        tiepoints += [float(col), float(row), 0.0, lon, lat, 0.0]
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags.tagtype[33922] = TiffTags.DOUBLE  # ModelTiepointTag: 4 ground control points
    tags[33922] = tuple(tiepoints)
    # GeoKeyDirectoryTag: version 1.1.0, 3 keys: GTModelType = geographic (2), GTRasterType =
    # PixelIsArea (1), GeographicType = WGS 84 (EPSG 4326).
    tags.tagtype[34735] = TiffTags.SHORT
    tags[34735] = (1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326)
    return tags


def make_grd_tiff(
    seed: int,
    *,
    width: int = 640,
    height: int = 640,
    look_side: str = "RIGHT",
    incidence: float = 30.0,
    looks: float = 3.0,
    footprint: Sequence[tuple[float, float]] | None = None,
) -> bytes:
    """A 16-bit amplitude GeoTIFF of the seed's scene (the quicklook's scene, same orientation).

    DN = 1000·√σ0 (σ0 = DN² × ``calibration_factor`` of the metadata); with a 4-corner
    ``footprint`` ((lat, lon) in ``make_metadata``'s order) the corners are written as GeoTIFF tie
    points in WGS 84, so GIS tools place the image.
    """
    side = _check_image_args(seed, width, height, look_side, incidence, looks)
    amplitude = np.sqrt(_render(seed, width, height, side, incidence, looks))
    dn = np.clip(np.rint(amplitude * F32(_GRD_DN_PER_AMPLITUDE)), 0, 65535).astype(np.uint16)
    buffer = io.BytesIO()
    options: dict[str, Any] = {"compression": "tiff_adobe_deflate"}
    if footprint is not None:
        options["tiffinfo"] = _geotiff_tags(footprint, side, width, height)
    Image.fromarray(dn).save(buffer, format="TIFF", **options)
    return buffer.getvalue()


def scene_seed(*parts: str | int) -> int:
    """A stable 63-bit image seed from, e.g., the world's seed and a task id."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


# --- metadata --------------------------------------------------------------------------------

_EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius: enough for the incidence spread across a scene
_CARRIER_FREQUENCY_HZ = 9.65e9  # iceye-fleet-modes.md §2.1: X-band at 9.65 GHz
_MODE_CODES = {  # file short codes, iceye-fleet-modes.md §1.1 (ICEYE dataproducts.md §5.6.1)
    "SPOTLIGHT": "SLH",
    "SPOTLIGHT_HIGH_1L": "SLH",
    "SPOTLIGHT_HIGH_2L": "SLH",
    "SPOTLIGHT_FINE": "SLF",
    "SPOTLIGHT_FINE_1L": "SLF",
    "SPOTLIGHT_FINE_2L": "SLF",
    "SPOTLIGHT_FINE_3L": "SLF",
    "SPOTLIGHT_EXTENDED_AREA": "SLEA",
    "SPOTLIGHT_EXTENDED_DWELL": "SLED",
    "SPOTLIGHT_EXTENDED_DWELL_FINE": "SLEDF",
    "SPOTLIGHT_EXTENDED_DWELL_PRECISE": "SLEDP",
    "STRIPMAP": "SM",
    "SCAN": "SC",
    "SCAN_WIDE": "SCW",
}


def _mode_code(mode: str) -> str:
    name = mode_info(mode).name
    return _MODE_CODES.get(name, re.sub(r"[^A-Z0-9]", "", name.upper())[:5] or "X")


def _strategy(mode: str) -> str:
    """Collection strategy in lower case (``sar:instrument_mode``, iceye-fleet-modes.md §1.1)."""
    name = mode_info(mode).name
    for prefix in ("SPOTLIGHT", "STRIPMAP", "SCAN"):
        if name.startswith(prefix):
            return prefix.lower()
    return name.lower()


def _start(scene: Scene) -> datetime:
    return to_utc(scene.imagingTime.start)


def frame_id(task: Task, scene: Scene) -> str:
    """The acquisition's id: ``<task id>_<start YYYYMMDDTHHMMSS>`` (one frame per task)."""
    return f"{task.id}_{_start(scene):%Y%m%dT%H%M%S}"


def product_id(task: Task, scene: Scene, satellite: str, product_type: str) -> str:
    """ICEYE-style product name: ``ICEYE_<sat>_<type>_<mode code>_<task id>_<start>``.

    ICEYE's file names carry a data-take id where this one carries the task id.
    """
    _check_product_type(product_type)
    stamp = f"{_start(scene):%Y%m%dT%H%M%S}"
    return f"ICEYE_{satellite}_{product_type}_{_mode_code(task.imagingMode)}_{task.id}_{stamp}"


def _check_product_type(product_type: str) -> None:
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9_-]*", product_type):
        raise InputError(
            f"product type must be upper-case letters, digits, '-' or '_', not {product_type!r}",
            field="productType",
            rule="product-type",
        )


def _footprint_corners(footprint: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """(lat, lon) corners as an open ring, checked; a closing repeat of the first is dropped."""
    corners = [(float(lat), float(lon)) for lat, lon in footprint]
    if len(corners) > 1 and corners[0] == corners[-1]:
        corners.pop()
    if len(corners) < 3:
        raise InputError(
            "a footprint needs at least 3 distinct corners", field="footprint", rule="polygon"
        )
    broken = [
        Violation("footprint", v.rule, f"footprint corner {index}: {v.message}")
        for index, (lat, lon) in enumerate(corners)
        for v in point_violations(lat, lon, wrap_lon=True)  # unwrapped rings pass ±180
    ]
    if broken:
        raise InputError(broken)
    return corners


def _scene_sides(task: Task, scene: Scene) -> tuple[str, str, float]:
    """(look side, pass direction, incidence) of a captured scene, or InputError naming the gap."""
    look = (scene.lookSide or task.lookSide or "").upper()
    direction = (scene.passDirection or task.passDirection or "").upper()
    if look not in ("LEFT", "RIGHT"):
        raise InputError(
            "a captured scene needs lookSide LEFT or RIGHT", field="lookSide", rule="scene-geometry"
        )
    if direction not in ("ASCENDING", "DESCENDING"):
        raise InputError(
            "a captured scene needs passDirection ASCENDING or DESCENDING",
            field="passDirection",
            rule="scene-geometry",
        )
    if scene.incidenceAngle is None or not math.isfinite(scene.incidenceAngle):
        raise InputError(
            "a captured scene needs an incidence angle",
            field="incidenceAngle",
            rule="scene-geometry",
        )
    return look, direction, float(scene.incidenceAngle)


def make_metadata(
    *,
    task: Task,
    scene: Scene,
    satellite: str,
    footprint: list[tuple[float, float]],
    heading: float,
    off_nadir: float,
    slant_range_km: float,
    orbit_altitude_km: float | None = None,
    product_type: str | None = None,
) -> dict[str, Any]:
    """The metadata document of a captured scene (keys in the module docstring), JSON-able.

    ``footprint``: the 4 (lat, lon) corners near-start, far-start, far-end, near-end (the order of
    ``tasking.geometry.scene_footprint``); a closed ring is accepted. Near and far incidence come
    from the centre's: across a ground distance x the incidence grows by x·(cos θ / R + 1 / Rₑ)
    (look angle plus Earth-centre angle), R the slant range.
    """
    look, direction, incidence = _scene_sides(task, scene)
    corners = _footprint_corners(footprint)
    if len(corners) != 4:
        raise InputError(
            "scene metadata needs exactly 4 footprint corners",
            field="footprint",
            rule="four-corners",
        )
    if not (math.isfinite(slant_range_km) and slant_range_km > 0):
        raise InputError(
            "slant range must be a positive number of km", field="slant_range_km", rule="positive"
        )
    half_range_km = mode_info(task.imagingMode).range_km / 2
    theta = math.radians(incidence)
    spread = math.degrees(half_range_km * (math.cos(theta) / slant_range_km + 1 / _EARTH_RADIUS_KM))
    first_pixel_km = slant_range_km - half_range_km * math.sin(theta)
    lats, lons = zip(*unwrap(corners), strict=True)

    def point(lat: float, lon: float) -> list[float]:
        return [round(lat, 7), round(normalize_lon(lon), 7)]

    doc: dict[str, Any] = {}
    if product_type is not None:
        doc["product_name"] = product_id(task, scene, satellite, product_type)
        doc["product_type"] = product_type
    doc |= {
        "frame_id": frame_id(task, scene),
        "task_id": task.id,
        "satellite_name": satellite,
        "imaging_mode": task.imagingMode,
        "acquisition_mode": _strategy(task.imagingMode),
        "acquisition_start_utc": format_rfc3339(scene.imagingTime.start),
        "acquisition_end_utc": format_rfc3339(scene.imagingTime.end),
        "imaging_duration": scene.duration,
        "look_side": look.lower(),
        "orbit_direction": direction,
        "heading": round(heading % 360.0, 4),
        "incidence_center": round(incidence, 4),
        "incidence_near": round(incidence - spread, 4),
        "incidence_far": round(incidence + spread, 4),
        "satellite_look_angle": round(off_nadir, 4),
        "slant_range_to_scene_center": round(slant_range_km * 1000.0, 1),
        "slant_range_to_first_pixel": round(first_pixel_km * 1000.0, 1),
    }
    if orbit_altitude_km is not None:
        doc["mean_orbit_altitude"] = round(orbit_altitude_km * 1000.0, 1)
    names = ("coord_first_near", "coord_first_far", "coord_last_far", "coord_last_near")
    doc |= {name: point(lat, lon) for name, (lat, lon) in zip(names, corners, strict=True)}
    doc |= {
        "coord_center": point(sum(lats) / 4, sum(lons) / 4),
        "point_of_interest": {"lat": task.pointOfInterest.lat, "lon": task.pointOfInterest.lon},
        "polarization": "VV",
        "carrier_frequency": _CARRIER_FREQUENCY_HZ,
        "calibration_factor": _CALIBRATION_FACTOR,
        "geo_ref_system": "WGS84",
        "processor_version": "iceye-tasking-sandbox",
    }
    return doc


# --- STAC items ------------------------------------------------------------------------------

DOCUMENTED_PROPERTIES = frozenset(
    {
        "frame_id",
        "created",
        "updated",
        "start_datetime",
        "end_datetime",
        "sar:instrument_mode",
        "sar:frequency_band",
        "sar:polarizations",
        "sar:product_type",
        "sar:looks_range",
        "sar:looks_azimuth",
        "sar:observation_direction",
        "sat:orbit_state",
        "iceye:acquisition_mode",
        "iceye:incidence_center",
        "iceye:incidence_near",
        "iceye:incidence_far",
        "iceye:satellite_look_angle",
        "iceye:chirp_bandwidth",
        "iceye:data_orientation",
        "iceye:azimuth_resolution",
        "iceye:range_resolution_center",
        "iceye:range_resolution_near",
        "iceye:range_resolution_far",
        "iceye:processing_mode",
    }
)
"""``CatalogItem.properties`` as ICEYE's SPEC lists them (iceye-api.md §4.8): a closed list, so no
STAC ``datetime`` or ``platform`` even though STAC Items usually carry them."""

# (key, title, media type, roles). Keys, titles and media types of ICEYE's documented example
# (iceye-api.md §4.8); the quicklook PNG's entry is cut off there, so its title is ours.
GRD_TIF = ("grd-tif", "GRD data file", "image/tiff; application=geotiff", ["data"])
GRD_XML = ("grd-xml", "GRD metadata file", "application/xml", ["metadata"])
SLC_XML = ("slc-xml", "SLC metadata file", "application/xml", ["metadata"])
QUICKLOOK_KML = (
    "quicklook-kml",
    "Quicklook metadata file",
    "application/vnd.google-earth.kml+xml",
    ["metadata"],
)
QUICKLOOK_PNG = ("quicklook-png", "Quicklook image", "image/png", ["overview"])

GEOTIFF = "image/tiff; application=geotiff"
COG = "image/tiff; application=geotiff; profile=cloud-optimized"  # STAC's media type of a COG
NITF = "application/vnd.nitf"
_JSON, _XML = "application/json", "application/xml"

# The data file of every other product type (``tasking.sandbox.datafiles`` renders them). ICEYE
# documents only GRD's asset keys; these follow the same ``<type>-<format>`` pattern.
_DATA_ASSETS: dict[str, tuple[tuple[str, str, str, list[str]], ...]] = {
    "GRD": (GRD_TIF, GRD_XML),
    "GRD-COG": (
        ("grd-cog", "GRD data file (COG)", COG, ["data"]),
        ("grd-json", "GRD metadata file (JSON)", _JSON, ["metadata"]),
    ),
    "SLC": (("slc-tif", "SLC data file (complex GeoTIFF)", GEOTIFF, ["data"]), SLC_XML),
    "SLC-COG": (
        ("slc-cog", "SLC data file (complex COG)", COG, ["data"]),
        ("slc-json", "SLC metadata file (JSON)", _JSON, ["metadata"]),
    ),
    "CSI": (
        ("csi-tif", "CSI data file (colour GeoTIFF)", GEOTIFF, ["data"]),
        ("csi-xml", "CSI metadata file", _XML, ["metadata"]),
    ),
    "CSI-COG": (
        ("csi-cog", "CSI data file (colour COG)", COG, ["data"]),
        ("csi-json", "CSI metadata file (JSON)", _JSON, ["metadata"]),
    ),
    "VID": (
        ("vid-gif", "VID animation (GIF)", "image/gif", ["data"]),
        ("vid-xml", "VID metadata file", _XML, ["metadata"]),
    ),
    "VID-COG": (
        ("vid-cog", "VID frames (COG, one band per frame)", COG, ["data"]),
        ("vid-gif", "VID animation (GIF)", "image/gif", ["data"]),
        ("vid-json", "VID metadata file (JSON)", _JSON, ["metadata"]),
    ),
    "SICD": (("sicd-nitf", "SICD data file (NITF)", NITF, ["data"]),),
    "SIDD": (("sidd-nitf", "SIDD data file (NITF)", NITF, ["data"]),),
}
_EXTENSIONS = {"grd-tif": "tif", "grd-xml": "xml", "slc-xml": "xml", "quicklook-kml": "kml",
               "quicklook-png": "png"}  # fmt: skip
_BY_MEDIA = {
    GEOTIFF: "tif",
    COG: "tif",
    NITF: "ntf",
    "image/gif": "gif",
    _JSON: "json",
    _XML: "xml",
}
for _assets in _DATA_ASSETS.values():
    for _asset in _assets:
        _EXTENSIONS.setdefault(_asset[0], _BY_MEDIA[_asset[2]])
LINK_SUFFIXES = {key: f".{ext}" for key, ext in _EXTENSIONS.items() if key not in
                 ("grd-xml", "slc-xml", "quicklook-kml")}  # fmt: skip
"""The suffix of each asset's file in its link (``grd-xml``, ``slc-xml`` and ``quicklook-kml``
keep their links without one, as before)."""
MEDIA_TYPES = tuple(
    dict.fromkeys(
        [GEOTIFF, _XML, QUICKLOOK_KML[2], QUICKLOOK_PNG[2]]
        + [media for assets in _DATA_ASSETS.values() for _, _, media, _ in assets]
    )
)
"""Every media type of a product file the sandbox serves."""


def asset_plan(product_type: str) -> list[tuple[str, str, str, list[str]]]:
    """The assets to offer for a product type: ``(key, title, media type, roles)``.

    Every type has the quicklook pair (``quicklook-kml``, ``quicklook-png``); GRD adds ``grd-tif``
    and ``grd-xml`` (ICEYE's example item), and every other type ICEYE sells its own data file
    and metadata (``_DATA_ASSETS``; QLK's data is the quicklook). Order as in ICEYE's example:
    data, metadata, quicklooks.
    """
    _check_product_type(product_type)
    plan = [*_DATA_ASSETS.get(product_type, ()), QUICKLOOK_KML, QUICKLOOK_PNG]
    return [(key, title, media, list(roles)) for key, title, media, roles in plan]


def asset_file_name(product_name: str, key: str) -> str:
    """``<product name>-<asset key>.<extension>``: the name a download is saved under.

    The quicklook KML refers to its PNG by this name, so the two work side by side; the app's
    download buttons (``ui.monitor_view.file_name``) and the files route's Content-Disposition
    use the same pattern.
    """
    if key not in _EXTENSIONS:
        raise InputError(f"no file is made for asset key {key!r}", field="asset", rule="asset-key")
    return f"{product_name}-{key}.{_EXTENSIONS[key]}"


def asset_entry(href: str, title: str, media_type: str, roles: list[str]) -> dict[str, Any]:
    """One STAC asset as ICEYE gives it: ``{href, title, type, roles}``."""
    return {"href": href, "title": title, "type": media_type, "roles": list(roles)}


_CORNER_KEYS = ("coord_first_near", "coord_first_far", "coord_last_far", "coord_last_near")


def _metadata_corners(metadata: Mapping[str, Any]) -> list[tuple[float, float]] | None:
    if not all(name in metadata for name in _CORNER_KEYS):
        return None
    return [(float(metadata[n][0]), float(metadata[n][1])) for n in _CORNER_KEYS]


def make_metadata_xml(metadata: Mapping[str, Any]) -> bytes:
    """The metadata document as an XML annotation file (``grd-xml`` / ``slc-xml``).

    One element per key of ``make_metadata``, in its order, under ``<product>``; a ``[lat, lon]``
    corner becomes ``<lat>`` and ``<lon>`` children, an object one child per field, and numbers
    keep their JSON spelling.
    """
    root = ElementTree.Element("product")
    for key, value in metadata.items():
        _xml_value(ElementTree.SubElement(root, key), value, key)
    ElementTree.indent(root)
    return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def _xml_value(element: ElementTree.Element, value: Any, key: str) -> None:
    if isinstance(value, Mapping):
        for name, item in value.items():
            _xml_value(ElementTree.SubElement(element, str(name)), item, str(name))
    elif key.startswith("coord_") and isinstance(value, Sequence) and len(value) == 2:
        ElementTree.SubElement(element, "lat").text = json.dumps(value[0])
        ElementTree.SubElement(element, "lon").text = json.dumps(value[1])
    elif isinstance(value, str):
        element.text = value
    else:
        element.text = json.dumps(value)


_KML = "http://www.opengis.net/kml/2.2"
_GX = "http://www.google.com/kml/ext/2.2"


def make_quicklook_kml(metadata: Mapping[str, Any]) -> bytes:
    """A KML 2.2 ground overlay that lays the quicklook PNG on the scene's footprint.

    The image corners come from the metadata's ``coord_*`` corners through the quicklook's
    orientation (flight direction up, near range on the satellite's side), as a ``gx:LatLonQuad``
    (lower-left, lower-right, upper-right, upper-left of the image, Google's KML extension for
    images that are not north-up). The icon is the PNG's file name (``asset_file_name``), relative
    to the KML, as in a product package where the two files sit side by side.
    """
    corners = _metadata_corners(metadata)
    if corners is None:
        raise InputError(
            "a quicklook KML needs the scene's 4 corners (coord_first_near ... coord_last_near)",
            field="metadata",
            rule="four-corners",
        )
    side = "LEFT" if str(metadata.get("look_side", "")).upper() == "LEFT" else "RIGHT"
    at_pixel = dict(zip(corner_pixels(side, 1, 1), corners, strict=True))
    quad = [at_pixel[(0, 1)], at_pixel[(1, 1)], at_pixel[(1, 0)], at_pixel[(0, 0)]]
    name = str(metadata.get("product_name") or metadata.get("frame_id") or "quicklook")
    ElementTree.register_namespace("", _KML)
    ElementTree.register_namespace("gx", _GX)
    kml = ElementTree.Element(f"{{{_KML}}}kml")
    overlay = ElementTree.SubElement(kml, f"{{{_KML}}}GroundOverlay")
    ElementTree.SubElement(overlay, f"{{{_KML}}}name").text = f"{name} quicklook"
    facts = [
        f"{label}: {metadata[key]}"
        for label, key in (
            ("Satellite", "satellite_name"),
            ("Acquisition start", "acquisition_start_utc"),
            ("Acquisition end", "acquisition_end_utc"),
            ("Look side", "look_side"),
            ("Orbit direction", "orbit_direction"),
            ("Incidence at centre", "incidence_center"),
        )
        if key in metadata
    ]
    ElementTree.SubElement(overlay, f"{{{_KML}}}description").text = "\n".join(facts)
    if "acquisition_start_utc" in metadata and "acquisition_end_utc" in metadata:
        span = ElementTree.SubElement(overlay, f"{{{_KML}}}TimeSpan")
        ElementTree.SubElement(span, f"{{{_KML}}}begin").text = metadata["acquisition_start_utc"]
        ElementTree.SubElement(span, f"{{{_KML}}}end").text = metadata["acquisition_end_utc"]
    icon = ElementTree.SubElement(overlay, f"{{{_KML}}}Icon")
    ElementTree.SubElement(icon, f"{{{_KML}}}href").text = asset_file_name(name, QUICKLOOK_PNG[0])
    lat_lon_quad = ElementTree.SubElement(overlay, f"{{{_GX}}}LatLonQuad")
    ElementTree.SubElement(lat_lon_quad, f"{{{_KML}}}coordinates").text = " ".join(
        f"{json.dumps(lon)},{json.dumps(lat)}" for lat, lon in quad
    )
    ElementTree.indent(kml)
    return bytes(ElementTree.tostring(kml, encoding="utf-8", xml_declaration=True)) + b"\n"


def render_asset(key: str, *, seed: int, metadata: Mapping[str, Any]) -> bytes:
    """The file behind an asset key of ``asset_plan``, from the scene's metadata document."""
    look = str(metadata.get("look_side", "right")).upper()
    incidence = float(metadata.get("incidence_center", 30.0))
    if key == QUICKLOOK_PNG[0]:
        return make_quicklook_png(seed, look_side=look, incidence=incidence)
    if key == QUICKLOOK_KML[0]:
        return make_quicklook_kml(metadata)
    if key in (GRD_XML[0], SLC_XML[0]):
        return make_metadata_xml(metadata)
    if key == GRD_TIF[0]:
        corners = _metadata_corners(metadata)
        return make_grd_tiff(seed, look_side=look, incidence=incidence, footprint=corners)
    raise InputError(f"no file is made for asset key {key!r}", field="asset", rule="asset-key")


def _geometry(corners: list[tuple[float, float]]) -> tuple[dict[str, Any], list[float]]:
    """GeoJSON Polygon (closed [lon, lat] ring, counter-clockwise) and its STAC bbox.

    Across the antimeridian the ring's longitudes stay continuous (some beyond ±180) and the bbox
    has west > east (RFC 7946 §5.2).
    """
    points = unwrap(corners)
    ring = [[lon, lat] for lat, lon in points]
    twice_area = sum(
        x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True)
    )
    if twice_area < 0:  # RFC 7946 §3.1.6: exterior rings are counter-clockwise
        ring.reverse()
    ring = [[round(lon, 7), round(lat, 7)] for lon, lat in ring]
    ring.append(list(ring[0]))
    lats = [lat for _, lat in ring]
    lons = [lon for lon, _ in ring]
    bbox = [normalize_lon(min(lons)), min(lats), normalize_lon(max(lons)), max(lats)]
    return {"type": "Polygon", "coordinates": [ring]}, bbox


def stac_item(
    *,
    task: Task,
    scene: Scene,
    product_type: str,
    satellite: str,
    footprint: list[tuple[float, float]],
    assets: dict[str, dict[str, Any]],
    created: datetime,
    properties_extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """ICEYE's ``CatalogItem`` for one product type of a captured scene (a STAC 1.0.0 Item).

    Only documented fields (iceye-api.md §4.8; ``DOCUMENTED_PROPERTIES``); ``properties_extra``
    (e.g. ``iceye:incidence_near``) is merged into the properties last and must stay in that list.
    """
    _check_product_type(product_type)
    undocumented = sorted(set(properties_extra or {}) - DOCUMENTED_PROPERTIES)
    if undocumented:
        raise InputError(
            f"properties outside ICEYE's CatalogItem list: {', '.join(undocumented)}",
            field="properties_extra",
            rule="documented-properties",
        )
    look, direction, incidence = _scene_sides(task, scene)
    geometry, bbox = _geometry(_footprint_corners(footprint))
    for key, asset in assets.items():
        if not isinstance(asset, Mapping) or not asset.get("href"):
            raise InputError(f"asset {key!r} needs an href", field="assets", rule="asset-href")
    stamp = format_rfc3339(require_aware(created, "created"))
    properties: dict[str, Any] = {
        "frame_id": frame_id(task, scene),
        "created": stamp,
        "updated": stamp,
        "start_datetime": format_rfc3339(scene.imagingTime.start),
        "end_datetime": format_rfc3339(scene.imagingTime.end),
        "sar:instrument_mode": _strategy(task.imagingMode),
        "sar:frequency_band": "X",
        "sar:polarizations": ["VV"],
        "sar:product_type": product_type,
        "sar:observation_direction": look.lower(),
        "sat:orbit_state": direction.lower(),
        "iceye:acquisition_mode": _strategy(task.imagingMode),
        "iceye:processing_mode": _mode_code(task.imagingMode),
        "iceye:incidence_center": round(incidence, 4),
    }
    properties |= dict(properties_extra or {})
    return {
        "id": product_id(task, scene, satellite, product_type),
        "type": "Feature",
        "stac_version": "1.0.0",
        "collection": "private",
        "geometry": geometry,
        "bbox": bbox,
        "properties": properties,
        "assets": {key: dict(asset) for key, asset in assets.items()},
    }
