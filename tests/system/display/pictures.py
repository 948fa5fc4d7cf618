"""Pictures for the display drill, with Python's standard library only (it runs in the guest,
which has nothing else, as well as on the host): PNG files written and read, a screen reduced
to the average colour of each square block, and two screens compared by their blocks.

Why blocks: the kiosk on KMS and its off-screen render draw the same widgets with the same
fonts, but not necessarily the same pixels: text may be hinted or smoothed a little
differently, and the water's temperature moves by a tenth of a degree between the two. An
average over a 16-pixel block hides that; a missing card, a blank screen or another screen
changes many blocks by a lot. Two measures, both needed to call two screens alike:

- close: the share of blocks whose colours differ by at most TOLERANCE in every channel
  (the same colours in the same places);
- corr: the correlation of the blocks' brightness (the same layout: light text and cards where
  the reference has them). A blank screen has no layout at all: corr 0.
"""

import json
import math
import os
import struct
import zlib

BLOCK = 16  # pixels a side: 1024x768 -> 64x48 blocks
TOLERANCE = 16  # of 255, per channel, for a block to count as close
CLOSE_MIN = 0.97  # share of close blocks for two screens to be alike
CORR_MIN = 0.95  # brightness correlation for two screens to be alike
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class PictureError(ValueError):
    pass


# -- PNG ------------------------------------------------------------------------------------

def write_png(path, width, height, rgb, level=1):
    """An 8-bit RGB PNG of RGB (rows top to bottom), every row unfiltered."""
    row_len = width * 3
    if len(rgb) != row_len * height:
        raise PictureError(f"{len(rgb)} bytes is not {width}x{height} RGB")
    raw = b"".join(b"\0" + bytes(rgb[y * row_len:(y + 1) * row_len]) for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    data = (PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, level)) + chunk(b"IEND", b""))
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def read_png(path):
    """(width, height, rgb bytes) of an 8-bit RGB or RGBA, non-interlaced PNG (alpha dropped)."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(PNG_MAGIC):
        raise PictureError(f"{path} is not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise PictureError(f"{path} has no IHDR")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise PictureError(f"{path}: only 8-bit RGB/RGBA without interlacing is read here")
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        _unfilter(kind, line, previous, channels)
        rows.append(line)
        previous = line
    pixels = b"".join(rows)
    if channels == 4:
        rgb = bytearray(width * height * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = pixels[0::4], pixels[1::4], pixels[2::4]
        pixels = bytes(rgb)
    return width, height, pixels


def _unfilter(kind, line, previous, bpp):
    if kind == 0:
        return
    n = len(line)
    if kind == 1:
        for i in range(bpp, n):
            line[i] = (line[i] + line[i - bpp]) & 0xFF
    elif kind == 2:
        for i in range(n):
            line[i] = (line[i] + previous[i]) & 0xFF
    elif kind == 3:
        for i in range(n):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
    elif kind == 4:
        for i in range(n):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + predictor) & 0xFF
    else:
        raise PictureError(f"unknown PNG filter {kind}")


# -- blocks ---------------------------------------------------------------------------------

def blocks(width, height, pixels, *, block=BLOCK, bpp=3, order=(0, 1, 2), stride=None,
           box=None, row_step=2):
    """The average colour of each BLOCK x BLOCK square, row by row: a dict with the grid's
    size and a flat list of (r, g, b). PIXELS may be RGB (bpp 3) or a framebuffer's XRGB
    (bpp 4, order (2, 1, 0): B, G, R in memory). BOX (x, y, w, h) takes part of the picture.
    Every ROW_STEP-th row is read: enough for an average, and half the time in the guest."""
    stride = stride or width * bpp
    x0, y0, w, h = box or (0, 0, width, height)
    cols, rows = w // block, h // block
    sums = [[0, 0, 0] for _ in range(cols * rows)]
    counts = [0] * rows
    for y in range(y0, y0 + rows * block, row_step):
        by = (y - y0) // block
        counts[by] += 1
        start = y * stride + x0 * bpp
        line = pixels[start:start + cols * block * bpp]
        for c in range(3):
            channel = line[order[c]::bpp]
            base = by * cols
            for bx in range(cols):
                sums[base + bx][c] += sum(channel[bx * block:(bx + 1) * block])
    out = []
    for i, (r, g, b) in enumerate(sums):
        n = counts[i // cols] * block
        out.append((r / n, g / n, b / n))
    return {"cols": cols, "rows": rows, "block": block, "rgb": out}


def luminance(rgb):
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b


def compare(a, b, *, tolerance=TOLERANCE):
    """Measures of how alike two block grids of the same shape are (see the module's text)."""
    if (a["cols"], a["rows"]) != (b["cols"], b["rows"]):
        raise PictureError(f"grids differ: {a['cols']}x{a['rows']} and {b['cols']}x{b['rows']}")
    close = sum(1 for p, q in zip(a["rgb"], b["rgb"], strict=True)
                if max(abs(p[0] - q[0]), abs(p[1] - q[1]), abs(p[2] - q[2])) <= tolerance)
    la, lb = [luminance(p) for p in a["rgb"]], [luminance(q) for q in b["rgb"]]
    n = len(la)
    ma, mb = sum(la) / n, sum(lb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(la, lb, strict=True))
    va, vb = sum((x - ma) ** 2 for x in la), sum((y - mb) ** 2 for y in lb)
    corr = cov / math.sqrt(va * vb) if va > 0 and vb > 0 else 0.0
    mean_diff = sum(abs(luminance(p) - luminance(q)) for p, q in zip(a["rgb"], b["rgb"], strict=True)) / n
    return {"close": close / n, "corr": corr, "mean_diff": mean_diff}


def alike(measures, *, close_min=CLOSE_MIN, corr_min=CORR_MIN):
    return measures["close"] >= close_min and measures["corr"] >= corr_min


def save_grid(path, grid):
    with open(path, "w") as f:
        json.dump(grid, f)


def load_grid(path):
    with open(path) as f:
        return json.load(f)


def pixel_differences(width, height, a, b, *, threshold=32):
    """How many pixels of two RGB pictures differ by more than THRESHOLD in some channel
    (rows that are the same byte for byte are skipped: quick for near-identical pictures)."""
    row_len = width * 3
    differing = 0
    for y in range(height):
        ra, rb = a[y * row_len:(y + 1) * row_len], b[y * row_len:(y + 1) * row_len]
        if ra == rb:
            continue
        for x in range(width):
            i = x * 3
            if (abs(ra[i] - rb[i]) > threshold or abs(ra[i + 1] - rb[i + 1]) > threshold
                    or abs(ra[i + 2] - rb[i + 2]) > threshold):
                differing += 1
    return differing
