"""Byte-level writers for the sandbox's product files: TIFF (plain, tiled and Cloud Optimized, with
GeoTIFF tie points; complex samples for SLC), NITF 2.1 (an image segment and XML data extension
segments, the container of SICD and SIDD), and animated GIF.

Pillow writes 8/16-bit TIFFs but neither tiles nor complex samples, and nothing in the project
writes NITF, so the two containers are written here from their specifications: TIFF 6.0 (Adobe,
1992) with the GeoTIFF 1.1 keys (OGC 19-008r4) and the COG layout (every IFD before the image
data, tiled), and NITF 2.1 (MIL-STD-2500C: fixed-width ASCII header fields). numpy and Pillow only.
The files are small (a sandbox's stand-ins), so everything is built in memory.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

__all__ = [
    "COG_TILE",
    "DataExtension",
    "animated_gif",
    "nitf",
    "nitf_igeolo",
    "tiff",
]

SampleKind = Literal["uint", "int", "complex_int"]
_SAMPLE_FORMAT = {"uint": 1, "int": 2, "complex_int": 5}  # TIFF tag 339 (SampleFormat)
_DEFLATE = 8  # TIFF Compression: Adobe deflate (a zlib stream per tile or strip)
COG_TILE = 64
"""Tile size of the sandbox's COGs (a multiple of 16, as TIFF requires). The images are smaller
than one 512-pixel tile, so, as GDAL's COG driver would, they get no overviews."""

# TIFF field types: (code, struct format of one value).
_SHORT, _LONG, _DOUBLE, _ASCII = (3, "H"), (4, "I"), (12, "d"), (2, "s")


def _entry(
    tag: int, kind: tuple[int, str], values: Sequence[float] | bytes
) -> tuple[int, int, int, bytes]:
    code, fmt = kind
    if isinstance(values, bytes):
        data = values + b"\x00"  # ASCII: NUL-terminated
        return tag, code, len(data), data
    numbers = list(values)
    return tag, code, len(numbers), struct.pack(f"<{len(numbers)}{fmt}", *numbers)


def tiff(
    image: npt.NDArray[np.generic],
    *,
    sample: SampleKind = "uint",
    rgb: bool = False,
    tile: int | None = None,
    tiepoints: Sequence[tuple[float, float, float, float]] | None = None,
    description: str | None = None,
) -> bytes:
    """A little-endian classic TIFF of ``image``: (rows, columns) for one band, (rows, columns,
    bands) for several (stored band-interleaved by pixel when ``rgb``, else one plane per band),
    or for ``sample="complex_int"`` an int16 array (rows, columns, 2) of I and Q (one complex
    sample of 32 bits per pixel, GDAL's CInt16). Deflate-compressed, in ``tile``-pixel tiles or in
    one strip per 16 rows; all tags (and so the IFD) before the pixel data, as a COG has them.
    ``tiepoints``: (column, row, lon, lat) ground control points in WGS 84 (GeoTIFF)."""
    array = np.asarray(image)
    if sample == "complex_int":
        if array.ndim != 3 or array.shape[2] != 2:
            raise ValueError("complex samples are an array of (rows, columns, 2): I and Q")
        planes = [np.ascontiguousarray(array.astype("<i2"))]  # one complex sample per pixel
        bits, samples = 32, 1
    else:
        if array.ndim == 2:
            array = array[:, :, None]
        samples = array.shape[2]
        if rgb and samples != 3:
            raise ValueError("an RGB TIFF has 3 bands")
        dtype = array.dtype.newbyteorder("<")
        bits = array.dtype.itemsize * 8
        if rgb:
            planes = [np.ascontiguousarray(array.astype(dtype))]
        else:
            planes = [np.ascontiguousarray(array[:, :, b].astype(dtype)) for b in range(samples)]
    rows, columns = array.shape[0], array.shape[1]
    chunks: list[bytes] = []
    if tile is not None:
        if tile % 16:
            raise ValueError("TIFF tiles are a multiple of 16 pixels")
        for plane in planes:
            for top in range(0, rows, tile):
                for left in range(0, columns, tile):
                    block = np.zeros((tile, tile, *plane.shape[2:]), dtype=plane.dtype)
                    part = plane[top : top + tile, left : left + tile]
                    block[: part.shape[0], : part.shape[1]] = part
                    chunks.append(zlib.compress(block.tobytes(), 9))
    else:
        strip = 16
        for plane in planes:
            for top in range(0, rows, strip):
                chunks.append(zlib.compress(plane[top : top + strip].tobytes(), 9))

    entries = [
        _entry(256, _LONG, [columns]),
        _entry(257, _LONG, [rows]),
        _entry(258, _SHORT, [bits] * samples),
        _entry(259, _SHORT, [_DEFLATE]),
        _entry(262, _SHORT, [2 if rgb else 1]),  # RGB, or BlackIsZero
        _entry(277, _SHORT, [samples]),
        _entry(284, _SHORT, [1 if rgb or samples == 1 else 2]),  # chunky, or one plane per band
        _entry(339, _SHORT, [_SAMPLE_FORMAT[sample]] * samples),
    ]
    if description:
        entries.append(_entry(270, _ASCII, description.encode("ascii", "replace")))
    if samples > 1 and not rgb:
        entries.append(_entry(338, _SHORT, [0] * (samples - 1)))  # ExtraSamples: unspecified
    if tile is not None:
        entries += [_entry(322, _SHORT, [tile]), _entry(323, _SHORT, [tile])]
    else:
        entries.append(_entry(278, _LONG, [16]))
    if tiepoints:
        flat = [v for col, row, lon, lat in tiepoints for v in (col, row, 0.0, lon, lat, 0.0)]
        entries.append(_entry(33922, _DOUBLE, flat))  # ModelTiepointTag
        # GeoKeyDirectory 1.1.0: model geographic, raster PixelIsArea, WGS 84 (EPSG 4326).
        entries.append(
            _entry(34735, _SHORT, (1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326))
        )
    offsets_tag, counts_tag = (324, 325) if tile is not None else (273, 279)
    placeholder = [0] * len(chunks)
    entries += [
        _entry(offsets_tag, _LONG, placeholder),
        _entry(counts_tag, _LONG, [len(c) for c in chunks]),
    ]
    entries.sort(key=lambda e: e[0])

    ifd_at = 8
    ifd_size = 2 + 12 * len(entries) + 4
    extra_at = ifd_at + ifd_size
    extra = bytearray()
    placed: list[tuple[int, int, int, bytes]] = []
    for tag, code, count, data in entries:
        if len(data) > 4:
            extra += b"\x00" * (len(extra) % 2)  # word-aligned values
            placed.append((tag, code, count, struct.pack("<I", extra_at + len(extra))))
            if tag == offsets_tag:
                offsets_field = extra_at + len(extra)
            extra += data
        else:
            if tag == offsets_tag:
                offsets_field = ifd_at + 2 + 12 * len(placed) + 8
            placed.append((tag, code, count, data.ljust(4, b"\x00")))
    data_at = extra_at + len(extra)
    offsets: list[int] = []
    position = data_at
    for chunk in chunks:
        offsets.append(position)
        position += len(chunk)
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_at))
    out += struct.pack("<H", len(placed))
    for tag, code, count, value in placed:
        out += struct.pack("<HHI", tag, code, count) + value
    out += struct.pack("<I", 0)
    out += extra
    out[offsets_field : offsets_field + 4 * len(offsets)] = struct.pack(
        f"<{len(offsets)}I", *offsets
    )
    for chunk in chunks:
        out += chunk
    return bytes(out)


# --- NITF 2.1 ----------------------------------------------------------------------------------

_UNCLASSIFIED = "U" + " " * 166  # classification U, then the 166 characters of its other fields


def _field(value: str | int, width: int, *, number: bool = False) -> bytes:
    text = f"{value:0{width}d}" if number else str(value).ljust(width)
    if len(text) != width:
        raise ValueError(f"NITF field {value!r} does not fit in {width} characters")
    return text.encode("ascii")


@dataclass(frozen=True)
class DataExtension:
    """A data extension segment: ``XML_DATA_CONTENT`` carries SICD's and SIDD's XML."""

    data: bytes
    user_header: bytes = b""
    desid: str = "XML_DATA_CONTENT"
    version: int = 1


def _dms(value: float, degrees_width: int, positive: str, negative: str) -> str:
    hemisphere = positive if value >= 0 else negative
    seconds = round(abs(value) * 3600)
    degrees, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{degrees:0{degrees_width}d}{minutes:02d}{secs:02d}{hemisphere}"


def nitf_igeolo(corners: Sequence[tuple[float, float]]) -> str:
    """IGEOLO for ICORDS ``G``: the (lat, lon) of the image's first row/first column, first
    row/last column, last row/last column and last row/first column, each ``ddmmssXdddmmssY``."""
    if len(corners) != 4:
        raise ValueError("IGEOLO needs the image's 4 corners")
    return "".join(_dms(lat, 2, "N", "S") + _dms(lon, 3, "E", "W") for lat, lon in corners)


def _image_subheader(
    image: npt.NDArray[np.generic],
    *,
    complex_pixels: bool,
    stamp: str,
    title: str,
    corners: Sequence[tuple[float, float]] | None,
) -> bytes:
    rows, columns = image.shape[0], image.shape[1]
    bands: tuple[tuple[str, str], ...]
    if complex_pixels:  # SICD: two bands, I and Q, 16-bit signed, band-interleaved by pixel
        pvtype, irep, bands, bits, mode = "SI", "NODISPLY", (("", "I"), ("", "Q")), 16, "P"
    else:  # SIDD: one 8-bit band for display
        pvtype, irep, bands, bits, mode = "INT", "MONO", (("M", ""),), 8, "B"
    header = b"IM" + _field("0000000001", 10) + _field(stamp, 14) + _field("", 17)
    header += _field(title[:80], 80) + _UNCLASSIFIED.encode("ascii") + b"0"
    header += _field("ICEYE tasking sandbox (simulated)", 42)
    header += _field(rows, 8, number=True) + _field(columns, 8, number=True)
    header += _field(pvtype, 3) + _field(irep, 8) + _field("SAR", 8)
    header += _field(bits, 2, number=True) + b"R"
    header += (b"G" + _field(nitf_igeolo(corners), 60)) if corners is not None else b" "
    header += b"0" + b"NC" + _field(len(bands), 1, number=True)
    for representation, subcategory in bands:
        header += _field(representation, 2) + _field(subcategory, 6) + b"N" + _field("", 3) + b"0"
    header += b"0" + mode.encode("ascii")
    header += b"0001" + b"0001"  # one block: the whole image
    header += _field(columns, 4, number=True) + _field(rows, 4, number=True)
    header += _field(bits, 2, number=True)
    header += b"001" + b"000" + b"0000000000" + b"1.0 " + b"00000" + b"00000"
    return header


def nitf(
    *,
    title: str,
    created: datetime,
    image: npt.NDArray[np.generic],
    complex_pixels: bool,
    corners: Sequence[tuple[float, float]] | None,
    extensions: Sequence[DataExtension],
) -> bytes:
    """A NITF 2.1 file (MIL-STD-2500C) with one uncompressed image segment and the given data
    extension segments. ``image``: int16 (rows, columns, 2) of I and Q when ``complex_pixels``
    (SICD's RE16I_IM16I), else uint8 (rows, columns) (SIDD's MONO8I)."""
    stamp = created.strftime("%Y%m%d%H%M%S")
    if complex_pixels:
        pixels = np.ascontiguousarray(np.asarray(image).astype(">i2")).tobytes()
    else:
        pixels = np.ascontiguousarray(np.asarray(image).astype(np.uint8)).tobytes()
    subheader = _image_subheader(
        np.asarray(image), complex_pixels=complex_pixels, stamp=stamp, title=title, corners=corners
    )
    des_parts: list[tuple[bytes, bytes]] = []
    for extension in extensions:
        des_header = b"DE" + _field(extension.desid, 25) + _field(extension.version, 2, number=True)
        des_header += _UNCLASSIFIED.encode("ascii")
        des_header += _field(len(extension.user_header), 4, number=True) + extension.user_header
        des_parts.append((des_header, extension.data))
    header_length = 388 + 16 + 13 * len(des_parts)  # NUMI 1, NUMDES as given, nothing else
    file_length = header_length + len(subheader) + len(pixels)
    file_length += sum(len(h) + len(d) for h, d in des_parts)
    header = b"NITF02.10" + b"03" + b"BF01" + _field("SANDBOX", 10) + _field(stamp, 14)
    header += _field(title[:80], 80) + _UNCLASSIFIED.encode("ascii")
    header += b"00000" + b"00000" + b"0" + b"\x00\x00\x00"  # copies, encryption, background
    header += _field("ICEYE tasking sandbox", 24) + _field("", 18)
    header += _field(file_length, 12, number=True) + _field(header_length, 6, number=True)
    header += b"001" + _field(len(subheader), 6, number=True) + _field(len(pixels), 10, number=True)
    header += b"000" + b"000" + b"000"  # graphics, reserved, text segments
    header += _field(len(des_parts), 3, number=True)
    for des_header, data in des_parts:
        header += _field(len(des_header), 4, number=True) + _field(len(data), 9, number=True)
    header += b"000" + b"00000" + b"00000"  # reserved extensions, user and extended header data
    if len(header) != header_length:
        raise AssertionError(f"NITF header is {len(header)} bytes, not {header_length}")
    body = header + subheader + pixels + b"".join(h + d for h, d in des_parts)
    if len(body) != file_length:
        raise AssertionError("NITF file length mismatch")
    return body


# --- animated GIF -------------------------------------------------------------------------------


def animated_gif(
    frames: Sequence[npt.NDArray[np.uint8]], *, frame_ms: int, levels: int = 32
) -> bytes:
    """An endlessly looping grayscale GIF of ``frames`` (uint8 arrays of one size), quantised to
    ``levels`` grey levels (fewer levels, smaller file: speckle compresses badly)."""
    step = 256 // levels
    images = [
        Image.fromarray((np.asarray(f) // step * step).astype(np.uint8), mode="L") for f in frames
    ]
    out = io.BytesIO()
    images[0].save(
        out, format="GIF", save_all=True, append_images=images[1:], duration=frame_ms, loop=0,
        optimize=True,
    )  # fmt: skip
    return out.getvalue()
