#!/usr/bin/env python3
"""Checks that a browser screenshot of the report shows pictures, not blank or broken images.

    screenshot_check.py SHOT.png MIN_COLOURFUL_FRACTION MIN_DISTINCT_COLOURS

Decodes the PNG with the standard library only (8-bit RGB/RGBA, not interlaced), then requires
that at least MIN_COLOURFUL_FRACTION of the pixels are strongly coloured (max - min channel > 60:
thumbnails and heat maps; text, borders and white background are not) and that the page holds at
least MIN_DISTINCT_COLOURS distinct colours (a page of empty boxes holds a handful).
"""
import struct
import sys
import zlib


def decode_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise SystemExit(f"{path}: unsupported PNG (depth {depth}, colour type {colour})")
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        kind, row = line[0], bytearray(line[1:])
        for i in range(stride):
            left = row[i - channels] if i >= channels else 0
            up = previous[i]
            upper_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                row[i] = (row[i] + left) & 255
            elif kind == 2:
                row[i] = (row[i] + up) & 255
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else upper_left)
                row[i] = (row[i] + predictor) & 255
        rows.append(row)
        previous = row
    return width, height, channels, rows


def main():
    path, min_fraction, min_colours = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    width, height, channels, rows = decode_png(path)
    colourful, colours = 0, set()
    for row in rows:
        for x in range(0, width * channels, channels):
            r, g, b = row[x], row[x + 1], row[x + 2]
            if max(r, g, b) - min(r, g, b) > 60:
                colourful += 1
            colours.add((r >> 2, g >> 2, b >> 2))
    fraction = colourful / float(width * height)
    print(f"{path}: {width}x{height}, {100 * fraction:.1f}% strongly coloured pixels, "
          f"{len(colours)} distinct colours")
    if fraction < min_fraction or len(colours) < min_colours:
        raise SystemExit("the screenshot does not show the pictures")


if __name__ == "__main__":
    main()
