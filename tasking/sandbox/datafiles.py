"""A small, real data file for every product type a task can order (``tasking.modes``), rendered
from the task's own scene: the quicklook's synthetic scene (``products.scene_sigma0``, same seed),
placed on the scene's footprint and described by its metadata document (``products.make_metadata``).

Which files each type gets is ``products.asset_plan``; what is inside each, and where it is a
stand-in for ICEYE's format, is in ``tasking/sandbox/README.md`` ("Product files"). In short:

=============  ============================================================================
GRD-COG        16-bit amplitude, tiled Cloud Optimized GeoTIFF, + JSON metadata
SLC / SLC-COG  complex int16 (I, Q) GeoTIFF (plain / tiled COG), + XML / JSON metadata; ICEYE's
               legacy SLC is HDF5, for which the sandbox has no writer
CSI / CSI-COG  RGB GeoTIFF of three sub-aperture looks (plain / COG), + XML / JSON metadata
VID / VID-COG  25 frames: an animated GIF (+ XML) / a 25-band COG frame stack (+ GIF, JSON)
SICD / SIDD    NITF 2.1 with complex int16 (SICD) or 8-bit detected (SIDD) pixels and the SICD /
               SIDD XML in data extension segments: SICD/SIDD-shaped, not complete
=============  ============================================================================

Every file is about 20–50 KB: 128 × 128 pixels (96 × 96 complex, 25 frames of 64 × 64).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import numpy as np
import numpy.typing as npt

from tasking.sandbox import products
from tasking.sandbox.formats import COG_TILE, DataExtension, animated_gif, nitf, tiff
from tasking.times import parse_time

__all__ = ["DATA_PX", "FRAMES", "render_asset"]

DATA_PX = 128
"""Side of the amplitude images (GRD-COG, CSI, SIDD)."""
SMALL_PX = 96
"""Side of the complex images (SLC, SICD): 4 bytes a pixel."""
VIDEO_PX = 64
"""Side of a video frame: 25 of them, and speckle hardly compresses."""
VIDEO_LEVELS = 16  # grey levels of a frame (GIF and COG alike): smaller files, same look
FRAMES = 25  # ICEYE's SAR video: 25 frames (iceye-fleet-modes.md §1.4)
FRAME_MS = 120
SLC_SCALE = 100.0
"""I and Q = 100·√σ0 × a unit complex Gaussian: a +30 dB ship still fits int16."""
SUBAPERTURE_LOOKS = 2.0
VIDEO_LOOKS = 12.0
BANDWIDTH_HZ = 600e6  # Gen3 pulse bandwidth (iceye-fleet-modes.md §2.1)

F32 = np.float32
Array = npt.NDArray[np.float32]
Metadata = Mapping[str, Any]


# --- the scene, as each file needs it --------------------------------------------------------


def _side(metadata: Metadata) -> str:
    return "LEFT" if str(metadata.get("look_side", "")).upper() == "LEFT" else "RIGHT"


def _sigma0(seed: int, size: int, metadata: Metadata) -> tuple[Array, np.random.Generator]:
    incidence = float(metadata.get("incidence_center", 30.0))
    return products.scene_sigma0(seed, size, size, _side(metadata), incidence)


def _corners(metadata: Metadata) -> list[tuple[float, float]]:
    names = ("coord_first_near", "coord_first_far", "coord_last_far", "coord_last_near")
    return [(float(metadata[n][0]), float(metadata[n][1])) for n in names]


def _tiepoints(metadata: Metadata, size: int) -> list[tuple[float, float, float, float]]:
    """GeoTIFF ground control points: the image corners (quicklook orientation) on the footprint."""
    pixels = products.corner_pixels(_side(metadata), size, size)
    return [
        (float(col), float(row), lon, lat)
        for (col, row), (lat, lon) in zip(pixels, _corners(metadata), strict=True)
    ]


def _stretch(db: Array, low: float, high: float) -> npt.NDArray[np.uint8]:
    scaled = (db - F32(low)) * F32(255.0 / max(high - low, 1e-6))
    return np.asarray(np.clip(scaled, 0, 255), dtype=np.uint8)


def _db(intensity: Array) -> Array:
    return np.asarray(F32(10.0) * np.log10(intensity + F32(1e-6)), dtype=F32)


def _amplitude_dn(seed: int, metadata: Metadata) -> npt.NDArray[np.uint16]:
    sigma0, rng = _sigma0(seed, DATA_PX, metadata)
    intensity = sigma0 * products.speckle(rng, sigma0.shape, 3.0)
    dn = np.rint(np.sqrt(intensity) * F32(1000.0))  # the GRD's DN = 1000·√σ0
    return np.asarray(np.clip(dn, 0, 65535), dtype=np.uint16)


def _complex(seed: int, metadata: Metadata) -> npt.NDArray[np.int16]:
    """(rows, columns, 2) int16 I and Q: one-look complex data (circular Gaussian speckle)."""
    sigma0, rng = _sigma0(seed, SMALL_PX, metadata)
    gaussian = rng.standard_normal((*sigma0.shape, 2)).astype(F32) / F32(math.sqrt(2.0))
    iq = np.sqrt(sigma0)[:, :, None] * gaussian * F32(SLC_SCALE)
    return np.asarray(np.clip(np.rint(iq), -32768, 32767), dtype=np.int16)


def _subapertures(
    seed: int, metadata: Metadata, size: int, count: int, looks: float
) -> list[Array]:
    """``count`` looks of the scene through successive sub-apertures: the same backscatter, each
    with its own speckle; a vehicle crossing the scene moves from look to look."""
    sigma0, rng = _sigma0(seed, size, metadata)
    start = rng.uniform(0.1, 0.3, 2) * size
    end = rng.uniform(0.7, 0.9, 2) * size
    looks_out: list[Array] = []
    for index in range(count):
        frame = sigma0 * products.speckle(rng, sigma0.shape, looks)
        t = index / max(count - 1, 1)
        row, col = (start + (end - start) * t).astype(int)
        frame[max(row - 1, 0) : row + 1, max(col - 1, 0) : col + 1] += F32(300.0)  # +25 dB
        looks_out.append(np.asarray(frame, dtype=F32))
    return looks_out


def _gray_frames(frames: Sequence[Array]) -> list[npt.NDArray[np.uint8]]:
    db = [_db(f) for f in frames]
    low, high = np.percentile(np.stack(db), [2.0, 99.5])
    return [_stretch(d, float(low), float(high)) for d in db]


# --- metadata documents ------------------------------------------------------------------------


def _json(metadata: Metadata) -> bytes:
    return json.dumps(dict(metadata), indent=2, ensure_ascii=False).encode() + b"\n"


# --- SICD and SIDD -----------------------------------------------------------------------------

_SICD_NS = "urn:SICD:1.3.0"
_SIDD_NS = "urn:SIDD:2.0.0"


def _sub(parent: ElementTree.Element, tag: str, text: object | None = None) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, tag)
    if text is not None:
        element.text = str(text)
    return element


def _icp(parent: ElementTree.Element, corners: Sequence[tuple[float, float]]) -> None:
    """ImageCorners: first row/first column, first row/last column, last/last, last/first."""
    box = _sub(parent, "ImageCorners")
    for label, (lat, lon) in zip(("1:FRFC", "2:FRLC", "3:LRLC", "4:LRFC"), corners, strict=True):
        icp = _sub(box, "ICP")
        icp.set("index", label)
        _sub(icp, "Lat", round(lat, 7))
        _sub(icp, "Lon", round(lon, 7))


def _mode_type(metadata: Metadata) -> str:
    return "SPOTLIGHT" if metadata.get("acquisition_mode") == "spotlight" else "STRIPMAP"


def _sicd_xml(metadata: Metadata, corners: Sequence[tuple[float, float]], size: int) -> bytes:
    """The SICD-shaped XML: the collection's true facts in SICD 1.3.0's element names. Not a
    complete SICD: no Grid, Position, ImageFormation or Radiometric (no sensor model)."""
    root = ElementTree.Element("SICD", xmlns=_SICD_NS)
    info = _sub(root, "CollectionInfo")
    _sub(info, "CollectorName", metadata["satellite_name"])
    _sub(info, "CoreName", metadata["frame_id"])
    _sub(info, "CollectType", "MONOSTATIC")
    mode = _sub(info, "RadarMode")
    _sub(mode, "ModeType", _mode_type(metadata))
    _sub(mode, "ModeID", metadata.get("imaging_mode", ""))
    _sub(info, "Classification", "UNCLASSIFIED")
    creation = _sub(root, "ImageCreation")
    _sub(creation, "Application", "iceye-tasking-sandbox")
    _sub(creation, "Profile", "sandbox stand-in: SICD-shaped, not a complete SICD")
    data = _sub(root, "ImageData")
    _sub(data, "PixelType", "RE16I_IM16I")
    for name in ("NumRows", "NumCols"):
        _sub(data, name, size)
    _sub(data, "FirstRow", 0)
    _sub(data, "FirstCol", 0)
    full = _sub(data, "FullImage")
    _sub(full, "NumRows", size)
    _sub(full, "NumCols", size)
    scp_pixel = _sub(data, "SCPPixel")
    _sub(scp_pixel, "Row", size // 2)
    _sub(scp_pixel, "Col", size // 2)
    geo = _sub(root, "GeoData")
    _sub(geo, "EarthModel", "WGS_84")
    llh = _sub(_sub(geo, "SCP"), "LLH")
    _sub(llh, "Lat", metadata["coord_center"][0])
    _sub(llh, "Lon", metadata["coord_center"][1])
    _sub(llh, "HAE", 0.0)
    _icp(geo, corners)
    timeline = _sub(root, "Timeline")
    _sub(timeline, "CollectStart", metadata["acquisition_start_utc"])
    _sub(timeline, "CollectDuration", metadata.get("imaging_duration", 0))
    radar = _sub(root, "RadarCollection")
    band = _sub(radar, "TxFrequency")
    carrier = float(metadata.get("carrier_frequency", 9.65e9))
    _sub(band, "Min", carrier - BANDWIDTH_HZ / 2)
    _sub(band, "Max", carrier + BANDWIDTH_HZ / 2)
    _sub(radar, "TxPolarization", "V")
    scpcoa = _sub(root, "SCPCOA")
    _sub(scpcoa, "SideOfTrack", "L" if _side(metadata) == "LEFT" else "R")
    incidence = float(metadata["incidence_center"])
    _sub(scpcoa, "GrazeAng", round(90.0 - incidence, 4))
    _sub(scpcoa, "IncidenceAng", round(incidence, 4))
    ElementTree.indent(root)
    return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))


def _sidd_xml(metadata: Metadata, corners: Sequence[tuple[float, float]], size: int) -> bytes:
    """The SIDD-shaped XML (SIDD 2.0.0 element names): product, display, corners, collection."""
    root = ElementTree.Element("SIDD", xmlns=_SIDD_NS)
    creation = _sub(root, "ProductCreation")
    processor = _sub(creation, "ProcessorInformation")
    _sub(processor, "Application", "iceye-tasking-sandbox")
    _sub(processor, "Site", "sandbox stand-in: SIDD-shaped, not a complete SIDD")
    _sub(creation, "Classification", "UNCLASSIFIED")
    _sub(creation, "ProductName", metadata.get("product_name", metadata["frame_id"]))
    display = _sub(root, "Display")
    _sub(display, "PixelType", "MONO8I")
    _sub(display, "NumBands", 1)
    geo = _sub(root, "GeoData")
    _sub(geo, "EarthModel", "WGS_84")
    _icp(geo, corners)
    features = _sub(root, "ExploitationFeatures")
    information = _sub(_sub(features, "Collection"), "Information")
    _sub(information, "SensorName", metadata["satellite_name"])
    _sub(_sub(information, "RadarMode"), "ModeType", _mode_type(metadata))
    _sub(information, "CollectionDateTime", metadata["acquisition_start_utc"])
    _sub(information, "CollectionDuration", metadata.get("imaging_duration", 0))
    _sub(information, "Polarization", "V:V")
    product = _sub(features, "Product")
    _sub(product, "Resolution", f"{size} x {size} pixels (sandbox sample)")
    ElementTree.indent(root)
    return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))


def _des_header(
    *, spec: str, version: str, spec_date: str, urn: str, created: datetime,
    corners: Sequence[tuple[float, float]],
) -> bytes:  # fmt: skip
    """XML_DATA_CONTENT's 773-character user subheader, as SICD and SIDD fill it."""
    ring = [*corners, corners[0]]
    polygon = "".join(f"{lat:+010.6f}{lon:+011.6f}" for lat, lon in ring)

    def field(value: str, width: int) -> str:
        return value[:width].ljust(width)

    text = (
        "99999"  # DESCRC: no CRC
        + field("XML", 8)
        + field(created.strftime("%Y-%m-%dT%H:%M:%SZ"), 20)
        + field("", 40)  # DESSHRP: root element prefix
        + field(spec, 60)
        + field(version, 10)
        + field(spec_date, 20)
        + field(urn, 120)
        + field(polygon, 125)
        + field("", 25)
        + field("", 20)
        + field("", 120)
        + field("", 200)
    )
    assert len(text) == 773
    return text.encode("ascii")


def _created(metadata: Metadata) -> datetime:
    try:
        return parse_time(str(metadata["acquisition_end_utc"]))
    except (KeyError, ValueError):
        return datetime(2000, 1, 1, tzinfo=UTC)


def _sicd_nitf(seed: int, metadata: Metadata) -> bytes:
    """SICD: rows along range (near to far), columns along azimuth (start to end)."""
    iq = _complex(seed, metadata)
    flipped = iq[::-1, :, :] if _side(metadata) == "RIGHT" else iq[::-1, ::-1, :]
    sicd = np.ascontiguousarray(flipped.transpose(1, 0, 2))
    near_start, far_start, far_end, near_end = _corners(metadata)
    corners = [near_start, near_end, far_end, far_start]
    created = _created(metadata)
    xml = _sicd_xml(metadata, corners, SMALL_PX)
    header = _des_header(
        spec="SICD Volume 1 Design & Implementation Description Document",
        version="1.3.0", spec_date="2021-11-30T00:00:00Z", urn=_SICD_NS, created=created,
        corners=corners,
    )  # fmt: skip
    return nitf(
        title=f"SICD {metadata.get('product_name', metadata['frame_id'])}",
        created=created,
        image=sicd,
        complex_pixels=True,
        corners=corners,
        extensions=[DataExtension(xml, header)],
    )


def _sidd_nitf(seed: int, metadata: Metadata) -> bytes:
    """SIDD: the detected image for display, in the quicklook's orientation."""
    sigma0, rng = _sigma0(seed, DATA_PX, metadata)
    db = _db(sigma0 * products.speckle(rng, sigma0.shape, 4.0))
    low, high = np.percentile(db, [2.0, 99.5])
    image = _stretch(db, float(low), float(high))
    at = dict(
        zip(
            products.corner_pixels(_side(metadata), DATA_PX, DATA_PX),
            _corners(metadata),
            strict=True,
        )
    )
    edge = DATA_PX
    corners = [at[(0, 0)], at[(edge, 0)], at[(edge, edge)], at[(0, edge)]]
    created = _created(metadata)
    sidd = _sidd_xml(metadata, corners, DATA_PX)
    sidd_header = _des_header(
        spec="SIDD Volume 1 Design & Implementation Description Document",
        version="2.0.0", spec_date="2019-05-31T00:00:00Z", urn=_SIDD_NS, created=created,
        corners=corners,
    )  # fmt: skip
    sicd_header = _des_header(
        spec="SICD Volume 1 Design & Implementation Description Document",
        version="1.3.0", spec_date="2021-11-30T00:00:00Z", urn=_SICD_NS, created=created,
        corners=corners,
    )  # fmt: skip
    return nitf(
        title=f"SIDD {metadata.get('product_name', metadata['frame_id'])}",
        created=created,
        image=image,
        complex_pixels=False,
        corners=corners,
        extensions=[
            DataExtension(sidd, sidd_header),
            DataExtension(_sicd_xml(metadata, corners, DATA_PX), sicd_header),
        ],
    )


# --- the files ------------------------------------------------------------------------------


def _grd_cog(seed: int, metadata: Metadata) -> bytes:
    return tiff(
        _amplitude_dn(seed, metadata),
        tile=COG_TILE,
        tiepoints=_tiepoints(metadata, DATA_PX),
        description="GRD amplitude, DN = 1000 * sqrt(sigma0) (iceye-tasking-sandbox)",
    )


def _slc(tiled: bool) -> Callable[[int, Metadata], bytes]:
    def render(seed: int, metadata: Metadata) -> bytes:
        return tiff(
            _complex(seed, metadata),
            sample="complex_int",
            tile=COG_TILE if tiled else None,
            tiepoints=_tiepoints(metadata, SMALL_PX),
            description="SLC, complex int16 I/Q = 100 * sqrt(sigma0) (iceye-tasking-sandbox)",
        )

    return render


def _csi(tiled: bool) -> Callable[[int, Metadata], bytes]:
    def render(seed: int, metadata: Metadata) -> bytes:
        looks = _subapertures(seed, metadata, DATA_PX, 3, SUBAPERTURE_LOOKS)
        rgb = np.stack(_gray_frames(looks), axis=2)
        return tiff(
            rgb,
            rgb=True,
            tile=COG_TILE if tiled else None,
            tiepoints=_tiepoints(metadata, DATA_PX),
            description="CSI: three sub-aperture looks as red, green, blue (iceye-tasking-sandbox)",
        )

    return render


def _video_frames(seed: int, metadata: Metadata) -> list[npt.NDArray[np.uint8]]:
    step = 256 // VIDEO_LEVELS
    frames = _gray_frames(_subapertures(seed, metadata, VIDEO_PX, FRAMES, VIDEO_LOOKS))
    return [(f // step * step).astype(np.uint8) for f in frames]


def _vid_gif(seed: int, metadata: Metadata) -> bytes:
    return animated_gif(_video_frames(seed, metadata), frame_ms=FRAME_MS, levels=VIDEO_LEVELS)


def _vid_cog(seed: int, metadata: Metadata) -> bytes:
    stack = np.stack(_video_frames(seed, metadata), axis=2)
    return tiff(
        stack,
        tile=COG_TILE,
        tiepoints=_tiepoints(metadata, VIDEO_PX),
        description=f"VID: {FRAMES} frames, one band each (iceye-tasking-sandbox)",
    )


_RENDERERS: dict[str, Callable[[int, Metadata], bytes]] = {
    "grd-cog": _grd_cog,
    "slc-tif": _slc(tiled=False),
    "slc-cog": _slc(tiled=True),
    "csi-tif": _csi(tiled=False),
    "csi-cog": _csi(tiled=True),
    "vid-gif": _vid_gif,
    "vid-cog": _vid_cog,
    "sicd-nitf": _sicd_nitf,
    "sidd-nitf": _sidd_nitf,
}


def render_asset(key: str, *, seed: int, metadata: Metadata) -> bytes:
    """The file behind any asset key of ``products.asset_plan``, from the scene's metadata."""
    renderer = _RENDERERS.get(key)
    if renderer is not None:
        return renderer(seed, metadata)
    if key.endswith("-json"):
        return _json(metadata)
    if key.endswith("-xml"):
        return products.make_metadata_xml(metadata)
    return products.render_asset(key, seed=seed, metadata=metadata)
