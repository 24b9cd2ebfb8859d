"""TFRecord files and tf.train.Example protos without TensorFlow (for BAIR's original release).

A record is: length (uint64 LE), masked CRC-32C of the length bytes, the data, masked CRC-32C
of the data. The data of a BAIR record is a serialized SequenceExample whose `context` (field
1, wire-compatible with Example's `features`) maps keys like '3/image_aux1/encoded' to
Features. Only the protobuf subset that Example uses is implemented: length-delimited fields,
varints, packed floats and int64s.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np


class TFRecordError(Exception):
    """A damaged record file; str() is the reason."""


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1  # Castagnoli polynomial, reflected
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ----------------------------------------------------------------------------- records
def write_records(path: str | Path, records: list[bytes]) -> Path:
    path = Path(path)
    with path.open("wb") as f:
        for data in records:
            length = struct.pack("<Q", len(data))
            f.write(length + struct.pack("<I", masked_crc(length)))
            f.write(data + struct.pack("<I", masked_crc(data)))
    return path


def record_offsets(path: str | Path) -> list[int]:
    """Byte offsets of the records, checking each length's CRC (cheap) and the file's end.

    The data CRCs are not checked here: pure-Python CRC-32C of a 30-frame BAIR record takes
    ~0.1 s, too slow for indexing 44K records; `read_record(verify=True)` checks one.
    """
    offsets, size = [], Path(path).stat().st_size
    with open(path, "rb") as f:
        position = 0
        while position < size:
            header = f.read(12)
            if len(header) < 12:
                raise TFRecordError(f"truncated record header at byte {position}")
            (length,), (crc,) = struct.unpack("<Q", header[:8]), struct.unpack("<I", header[8:])
            if masked_crc(header[:8]) != crc:
                raise TFRecordError(f"bad length checksum at byte {position}")
            end = position + 12 + length + 4
            if end > size:
                raise TFRecordError(f"truncated record at byte {position} ({size} bytes, "
                                    f"record ends at {end})")
            offsets.append(position)
            position = end
            f.seek(position)
    return offsets


def read_record(path: str | Path, offset: int, verify: bool = False) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        header = f.read(12)
        (length,) = struct.unpack("<Q", header[:8])
        data, (crc,) = f.read(length), struct.unpack("<I", f.read(4))
    if len(data) != length:
        raise TFRecordError(f"truncated record at byte {offset}")
    if verify and masked_crc(data) != crc:
        raise TFRecordError(f"bad data checksum in the record at byte {offset}")
    return data


# ----------------------------------------------------------------------------- protobuf
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits, value = value & 0x7F, value >> 7
        out.append(bits | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise TFRecordError("truncated protobuf varint")
        byte = buf[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, bytes | int]]:
    """(field number, wire type, value) of one message; LEN values as bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
            if len(value) != length:
                raise TFRecordError("truncated protobuf field")
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise TFRecordError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def encode_example(features: dict[str, list[bytes] | np.ndarray]) -> bytes:
    """{key: [bytes, ...] (bytes_list) or float array (float_list)} -> serialized Example."""
    entries = b""
    for key, value in features.items():
        if isinstance(value, np.ndarray):
            feature = _len_field(2, _len_field(1, value.astype("<f4").tobytes()))
        else:
            feature = _len_field(1, b"".join(_len_field(1, v) for v in value))
        entries += _len_field(1, _len_field(1, key.encode()) + _len_field(2, feature))
    return _len_field(1, entries)


def decode_example(data: bytes, keys: set[str] | None = None) -> dict[str, list]:
    """Serialized Example or SequenceExample context -> {key: list of bytes / floats / ints}.

    `keys` limits decoding to those features (payloads of others are skipped, not copied).
    """
    out: dict[str, list] = {}
    for number, _, features in _fields(data):
        if number != 1:
            continue  # SequenceExample.feature_lists: BAIR keeps everything in the context
        for n, _, entry in _fields(features):
            if n != 1:
                continue
            key, feature = None, b""
            for en, _, value in _fields(entry):
                if en == 1:
                    key = value.decode()
                elif en == 2:
                    feature = value
            if key is None or (keys is not None and key not in keys):
                continue
            out[key] = _decode_feature(feature)
    return out


def _decode_feature(feature: bytes) -> list:
    for kind, _, payload in _fields(feature):
        values: list = []
        for _, wire, value in _fields(payload):
            if kind == 1:
                values.append(value)
            elif kind == 2:
                values += np.frombuffer(value, "<f4").tolist()  # packed (wire 2) or single
            elif kind == 3:
                if wire == 0:
                    values.append(value)
                else:
                    pos = 0
                    while pos < len(value):
                        v, pos = _read_varint(value, pos)
                        values.append(v)
        return values
    return []
