"""Writes the image files the codec tests decode: PNG variants with the standard library only
(so their pixels are known exactly), and, with PIL, a CMYK JPEG and PIL's own decoding of a file.

    make_test_images.py KIND PATH [OUT]
    KIND: grey (8-bit ramp), rgb16 (16-bit RGB), grey_alpha, palette (with tRNS), bomb (a header
    announcing 30000 x 30000 pixels over a few bytes of data), cmyk (PIL), pil_rgb (PATH decoded by
    PIL, written to OUT as raw RGB bytes)
"""
import struct
import sys
import zlib


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(width, height, bit_depth, color_type, rows, extra=b""):
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    data = b"".join(b"\x00" + row for row in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra +
            chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b""))


def make(kind):
    if kind == "grey":  # value 16 * x
        return png(16, 8, 8, 0, [bytes(x * 16 for x in range(16))] * 8)
    if kind == "rgb16":  # channel c of (x, y) has high byte 40 * x + 10 * y + c, low byte 0xff
        rows = [b"".join(struct.pack(">HHH", *[((40 * x + 10 * y + c) << 8) | 0xFF for c in range(3)])
                         for x in range(4)) for y in range(3)]
        return png(4, 3, 16, 2, rows)
    if kind == "grey_alpha":  # grey 50 * x, alpha 255 - 60 * x (dropped, not composited)
        return png(4, 2, 8, 4, [b"".join(bytes((50 * x, 255 - 60 * x)) for x in range(4))] * 2)
    if kind == "palette":  # entries red, green, blue (transparent); pixels 0 1 2 / 2 1 0
        palette = chunk(b"PLTE", bytes((255, 0, 0, 0, 255, 0, 0, 0, 255)))
        return png(3, 2, 8, 3, [bytes((0, 1, 2)), bytes((2, 1, 0))],
                   palette + chunk(b"tRNS", bytes((255, 255, 0))))
    if kind == "bomb":
        header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
                chunk(b"IDAT", zlib.compress(b"\x00" * 30001)) + chunk(b"IEND", b""))
    raise SystemExit("unknown kind " + kind)


def main():
    kind, path = sys.argv[1], sys.argv[2]
    if kind == "cmyk":  # left half CMYK (0, 255, 255, 0) = red, right half (0, 0, 0, 255) = black
        from PIL import Image
        image = Image.new("CMYK", (16, 8), (0, 255, 255, 0))
        image.paste((0, 0, 0, 255), (8, 0, 16, 8))
        image.save(path, quality=100)
        return
    if kind == "pil_rgb":
        from PIL import Image
        with open(sys.argv[3], "wb") as out:
            out.write(Image.open(path).convert("RGB").tobytes())
        return
    with open(path, "wb") as f:
        f.write(make(kind))


if __name__ == "__main__":
    main()
