#!/usr/bin/env python3
"""Independent PNG decoder for the Imaging tests (pure Python + zlib, no libpng).

Usage: decode_png.py FILE
Prints one line: "width height channels sum weighted", where sum is the sum of all samples and
weighted is sum(i * sample[i]) over the samples in row-major, channel-interleaved order.
Supports non-interlaced 8-bit gray (colour type 0), RGB (2), gray+alpha (4) and RGBA (6).
Exits with status 1 and a message on stderr for anything else or for a corrupt file.
"""
import struct
import sys
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def fail(message):
    sys.stderr.write("decode_png.py: " + message + "\n")
    sys.exit(1)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode(data):
    if data[:8] != SIGNATURE:
        fail("not a PNG signature")
    pos, header, idat = 8, None, bytearray()
    while pos < len(data):
        if pos + 8 > len(data):
            fail("truncated chunk header")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = data[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            fail("truncated chunk " + kind.decode("latin-1"))
        if zlib.crc32(kind + body) & 0xFFFFFFFF != struct.unpack(">I", crc)[0]:
            fail("bad CRC in chunk " + kind.decode("latin-1"))
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if header is None:
        fail("no IHDR")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in CHANNELS or interlace != 0:
        fail("unsupported format depth=%d colour=%d interlace=%d" % (depth, colour, interlace))
    bpp = CHANNELS[colour]
    stride = width * bpp
    raw = zlib.decompress(bytes(idat))
    if len(raw) != height * (stride + 1):
        fail("expected %d bytes of image data, got %d" % (height * (stride + 1), len(raw)))
    pixels = bytearray()
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            if kind == 0:
                pass
            elif kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + paeth(a, b, c)) & 0xFF
            else:
                fail("bad filter type %d in row %d" % (kind, y))
        pixels += line
        previous = line
    return width, height, bpp, pixels


def main():
    if len(sys.argv) != 2:
        fail("usage: decode_png.py FILE")
    with open(sys.argv[1], "rb") as handle:
        width, height, channels, pixels = decode(handle.read())
    total = sum(pixels)
    weighted = sum(i * v for i, v in enumerate(pixels))
    print(width, height, channels, total, weighted)


if __name__ == "__main__":
    main()
