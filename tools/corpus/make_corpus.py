#!/usr/bin/env python3
"""An independent corpus of marked and degraded ballot scans, with the truth a careful person reads.

Clean pages come from `ballotscan generate` (print-ready PNGs and layout.json). Everything after
that — how citizens mark the boxes, and what folds, copiers, phones, curled edges and seal stamps
do to the page — is written here, without reading ballotscan's simulator, and mostly with
augraphy, the field's standard library of print and scan artefacts.

    python3 tools/corpus/make_corpus.py --ballotscan /work/bin/ballotscan --out DIR \
        --per-family 40 --seed 1 [--families fold-shadow,photocopy] [--dpi 200]

Writes DIR/scans/*.jpg|png, DIR/truth.csv (one row per page and question) and DIR/pages.csv (one
row per page: the effects applied, whether zbar reads the QR code, how many fiducial discs and
whether every checkbox is on the image). See README.md beside this file for the truth rules.
"""

import argparse
import csv
import json
import math
import os
import random
import subprocess
import sys
import time
from multiprocessing import Pool

import cv2
import numpy as np

FAMILIES = [
    "fold-shadow",
    "fold-ridge",
    "photocopy",
    "phone-shadow",
    "phone-hidden-corner",
    "skew-cut-corners",
    "curled-edge",
    "seal-stamp",
    "augraphy-default",
    "inkbleed-noise",
    "tinted-paper",
]
UNITS = ["P-ANBIEN", "X-ANDONG", "P-MAYTO", "PC08"]

# A definite mark whose ink, after every effect, darkens the page by less than this fraction of
# the paper beside it (median ink luminance vs median paper luminance around the box) is
# demoted to "marginal": a careful person could no longer be sure of it. Light pencil on clean
# paper measures about 0.3–0.5 and a ballpoint 0.6–0.85, so only a mark an effect really washed
# out falls below.
LEGIBLE_CONTRAST = 0.15
# ... and at least this much visible ink (mm²) near its box: the smallest tick drawn leaves about
# 2 mm² off the printed border, so only a mark mostly hidden or cut off falls below.
LEGIBLE_INK_MM2 = 0.8

# Inks as (R, G, B) and opacity; the image is composited multiplicatively (ink darkens paper).
PENS = {
    "blue": ((28, 48, 150), 0.92, 0.45),  # colour, opacity, stroke width mm
    "black": ((30, 30, 38), 0.92, 0.45),
    "felt": ((20, 20, 25), 0.95, 0.75),
    "pencil": ((70, 70, 78), 0.8, 0.5),
}

DEFINITE_STYLES = {
    "tick": 28,
    "cross": 20,
    "fill": 8,
    "o-inside": 6,
    "circle-around": 3,
    "pencil-line": 6,
    "light-pencil": 8,
    "scribble": 6,
    "overshoot": 6,
    "off-centre": 9,
}
MARGINAL_STYLES = {"dot": 1, "faint": 1}


def weighted(rng, table):
    names = list(table)
    w = np.array([table[n] for n in names], dtype=float)
    return names[int(rng.choice(len(names), p=w / w.sum()))]


# ---------------------------------------------------------------------------------------------
# Marks: strokes drawn in page pixels into an ink-opacity layer, then composited with a colour.
# ---------------------------------------------------------------------------------------------


def smooth_path(points, n=40):
    """A Catmull-Rom curve through the control points: hand strokes do not have corners except
    where the pen turns, and a turn is simply two close control points."""
    p = np.asarray(points, dtype=float)
    if len(p) < 3:
        t = np.linspace(0, 1, n)[:, None]
        return p[0] * (1 - t) + p[-1] * t
    p = np.vstack([p[0], p, p[-1]])
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        for t in np.linspace(0, 1, max(4, n // (len(p) - 3)), endpoint=False):
            t2, t3 = t * t, t * t * t
            out.append(
                0.5
                * (
                    2 * p1
                    + (-p0 + p2) * t
                    + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                    + (-p0 + 3 * p1 - 3 * p2 + p3) * t3
                )
            )
    out.append(p[-2])
    return np.array(out)


def draw_stroke(layer, pts_px, width_px, opacity, rng, pressure=0.15):
    """Draws a polyline into `layer` (float32 opacity, max-combined). Ballpoint pressure varies
    along the stroke, so the opacity of each run of a few segments wanders a little."""
    shift = 4
    w = max(1, int(round(width_px)))
    pts = np.asarray(pts_px, dtype=float)
    h_l, w_l = layer.shape
    for k in range(0, len(pts) - 1, 4):
        run = pts[k : k + 5]
        x0 = int(max(0, math.floor(run[:, 0].min()) - w - 2))
        y0 = int(max(0, math.floor(run[:, 1].min()) - w - 2))
        x1 = int(min(w_l, math.ceil(run[:, 0].max()) + w + 3))
        y1 = int(min(h_l, math.ceil(run[:, 1].max()) + w + 3))
        if x1 <= x0 or y1 <= y0:
            continue
        seg = np.zeros((y1 - y0, x1 - x0), np.float32)
        fixed = np.round((run - [x0, y0]) * (1 << shift)).astype(np.int32)
        cv2.polylines(seg, [fixed], False, 1.0, w, cv2.LINE_AA, shift)
        o = opacity * (1 - pressure * rng.random())
        np.maximum(layer[y0:y1, x0:x1], seg * o, out=layer[y0:y1, x0:x1])


def mark_strokes(style, box, mm, rng):
    """Control-point strokes (in mm, page coordinates) for one mark in `box` (x, y, w, h mm).
    Returns (strokes, width_scale, opacity_scale, pen_override)."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    s = min(w, h)
    j = lambda a: rng.normal(0, a)  # noqa: E731  hand jitter, mm
    width_scale, op_scale, pen = 1.0, 1.0, None
    strokes = []
    if style in ("tick", "overshoot", "off-centre", "light-pencil") and (
        style != "light-pencil" or rng.random() < 0.6
    ):
        k = {"overshoot": rng.uniform(1.7, 2.4)}.get(style, rng.uniform(0.75, 1.2))
        ox, oy = (0.0, 0.0)
        if style == "off-centre":
            ang = rng.uniform(0, 2 * math.pi)
            r = rng.uniform(1.4, 2.4)
            ox, oy = r * math.cos(ang), r * math.sin(ang)
        elif style == "overshoot":
            ox, oy = rng.uniform(0.5, 1.5), rng.uniform(-1.5, -0.5)
        cxx, cyy = cx + ox + j(0.4), cy + oy + j(0.4)
        strokes.append(
            [
                (cxx - 0.32 * s * k + j(0.3), cyy + 0.02 * s * k + j(0.3)),
                (cxx - 0.06 * s * k + j(0.2), cyy + 0.3 * s * k + j(0.2)),
                (cxx - 0.03 * s * k, cyy + 0.27 * s * k),
                (cxx + 0.2 * s * k + j(0.3), cyy - 0.1 * s * k + j(0.3)),
                (cxx + 0.42 * s * k + j(0.3), cyy - 0.48 * s * k + j(0.3)),
            ]
        )
    elif style in ("cross", "off-centre", "light-pencil", "overshoot"):
        k = rng.uniform(0.6, 1.25)
        cxx, cyy = cx + j(0.4), cy + j(0.4)
        for sx in (1, -1):
            strokes.append(
                [
                    (cxx - sx * 0.36 * s * k + j(0.3), cyy - 0.36 * s * k + j(0.3)),
                    (cxx + j(0.2), cyy + j(0.2)),
                    (cxx + sx * 0.36 * s * k + j(0.3), cyy + 0.36 * s * k + j(0.3)),
                ]
            )
    elif style == "fill":
        # Back-and-forth hatching covering most of the box, as people blacken a box.
        gap = rng.uniform(0.5, 0.9)
        m = rng.uniform(0.3, 0.9)
        yy = y + m
        pts = []
        left = True
        while yy < y + h - m:
            pts.append((x + m + j(0.25) if left else x + w - m + j(0.25), yy))
            yy += gap
            left = not left
        strokes.append(pts)
        width_scale = rng.uniform(1.0, 1.6)
    elif style in ("o-inside", "circle-around"):
        r = s * (rng.uniform(0.22, 0.38) if style == "o-inside" else rng.uniform(0.62, 0.8))
        start = rng.uniform(0, 2 * math.pi)
        span = 2 * math.pi * rng.uniform(1.0, 1.15)
        ecc = rng.uniform(0.85, 1.15)
        pts = []
        for t in np.linspace(0, span, 18):
            rr = r * (1 + j(0.04))
            pts.append((cx + rr * math.cos(start + t) * ecc, cy + rr * math.sin(start + t)))
        strokes.append(pts)
    elif style == "pencil-line":
        # VVSG's test: a single line about 1 mm wide across the box.
        ang = rng.choice([0.0, rng.uniform(-0.9, 0.9)])
        half = rng.uniform(0.55, 0.8) * s
        dx, dy = half * math.cos(ang), half * math.sin(ang)
        cxx, cyy = cx + j(0.5), cy + j(0.5)
        strokes.append([(cxx - dx, cyy - dy), (cxx + dx, cyy + dy)])
        pen, width_scale = "pencil", 1.0 / PENS["pencil"][2] * rng.uniform(0.9, 1.1)
    elif style == "scribble":
        pts = [(cx + rng.uniform(-0.32, 0.32) * s, cy + rng.uniform(-0.32, 0.32) * s) for _ in range(int(rng.integers(6, 12)))]
        strokes.append(pts)
    elif style == "dot":
        px, py = cx + rng.uniform(-0.25, 0.25) * s, cy + rng.uniform(-0.25, 0.25) * s
        strokes.append([(px, py), (px + rng.uniform(0.05, 0.3), py + rng.uniform(0.05, 0.3))])
        width_scale = rng.uniform(0.7, 1.4)
    elif style == "faint":
        px, py = cx + rng.uniform(-0.2, 0.2) * s, cy + rng.uniform(-0.2, 0.2) * s
        ang = rng.uniform(0, math.pi)
        ln = rng.uniform(1.0, 3.0)
        strokes.append([(px, py), (px + ln * math.cos(ang), py + ln * math.sin(ang))])
        op_scale = rng.uniform(0.08, 0.16)
    elif style == "blackout":
        m = -rng.uniform(0.2, 0.8)  # beyond the border: people blacken the whole box
        gap = 0.35
        yy = y + m
        pts = []
        left = True
        while yy < y + h - m:
            pts.append((x + m if left else x + w - m, yy))
            yy += gap
            left = not left
        strokes.append(pts)
        width_scale, op_scale = 1.8, 1.05
    if style == "light-pencil":
        pen, op_scale = "pencil", rng.uniform(0.5, 0.8)
    return strokes, width_scale, op_scale, pen


def pencil_grain(shape, rng):
    """Graphite leaves the paper's tooth white in places."""
    g = rng.random(shape).astype(np.float32)
    g = cv2.GaussianBlur(g, (0, 0), 0.7)
    return np.clip(0.8 + 0.6 * (g - 0.5) * 3, 0.55, 1.0)


def apply_ink(img, layer, colour):
    """Multiplicative ink: where opacity is a, the paper's reflectance is scaled towards the
    ink's colour (`colour` in the image's channel order). Only the inked area is touched."""
    ys, xs = np.nonzero(layer > 0.002)
    if len(ys) == 0:
        return
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    c = np.array(colour, dtype=np.float32) / 255.0
    a = layer[y0:y1, x0:x1, None]
    img[y0:y1, x0:x1] *= 1.0 - a * (1.0 - c)


def draw_mark(img, ink_aux, style, box, pen_name, px_per_mm, rng):
    strokes, wscale, oscale, pen_override = mark_strokes(style, box, 1.0, rng)
    pen_name = pen_override or pen_name
    colour, opacity, width_mm = PENS[pen_name]
    x, y, w, h = box
    pad = 9.0
    x0, y0 = int((x - pad) * px_per_mm), int((y - pad) * px_per_mm)
    x1, y1 = int((x + w + pad) * px_per_mm), int((y + h + pad) * px_per_mm)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(img.shape[1], x1), min(img.shape[0], y1)
    layer = np.zeros((y1 - y0, x1 - x0), np.float32)
    for st in strokes:
        path = smooth_path(st, n=max(8, 6 * len(st)))
        if style in ("pencil-line", "dot", "faint"):
            path = np.asarray(st, dtype=float)
        path_px = (path * px_per_mm) - np.array([x0, y0])
        draw_stroke(layer, path_px, width_mm * wscale * px_per_mm, min(1.0, opacity * oscale), rng)
    if pen_name == "pencil":
        layer *= pencil_grain(layer.shape, rng)
    apply_ink(img[y0:y1, x0:x1], layer, colour[::-1])
    np.maximum(ink_aux[y0:y1, x0:x1], layer, out=ink_aux[y0:y1, x0:x1])
    return pen_name


# ---------------------------------------------------------------------------------------------
# What is on the ballot: per question, which boxes get which marks.
# ---------------------------------------------------------------------------------------------


def plan_marks(layout, rng):
    """Returns {question: [(option, kind, style)]} and whether the ballot is blank.
    kind is definite, marginal or blackout (a corrected answer)."""
    plan = {}
    blank_ballot = rng.random() < 0.03
    for q, opts in layout["checkboxes"].items():
        ids = list(opts)
        marks = []
        if blank_ballot:
            plan[q] = marks
            continue
        r = rng.random()
        if r < 0.05:
            pass  # left blank
        elif r < 0.08:  # over-marked: two definite marks
            a, b = rng.choice(len(ids), size=2, replace=False)
            marks = [(ids[a], "definite", weighted(rng, DEFINITE_STYLES)), (ids[b], "definite", weighted(rng, DEFINITE_STYLES))]
        elif r < 0.10:  # a marginal touch alone: a speck or a faint line
            a = int(rng.integers(len(ids)))
            marks = [(ids[a], "marginal", weighted(rng, MARGINAL_STYLES))]
        elif r < 0.115 and len(ids) > 1:  # a correction: one box blacked out, a new mark beside it
            a, b = rng.choice(len(ids), size=2, replace=False)
            marks = [(ids[a], "blackout", "blackout"), (ids[b], "definite", weighted(rng, DEFINITE_STYLES))]
        elif r < 0.125 and len(ids) > 1:  # a definite mark and a stray speck in another box
            a, b = rng.choice(len(ids), size=2, replace=False)
            marks = [(ids[a], "definite", weighted(rng, DEFINITE_STYLES)), (ids[b], "marginal", "dot")]
        else:
            a = int(rng.integers(len(ids)))
            marks = [(ids[a], "definite", weighted(rng, DEFINITE_STYLES))]
        plan[q] = marks
    return plan, blank_ballot


def answer_of(definite, blackout):
    if len(definite) == 0:
        return "BLANK"
    if len(definite) == 1:
        return definite[0]
    return "MULTI"


def truth_for_question(marks):
    """(expected, acceptable, marks-cell) from the final kinds of a question's marks."""
    definite = [o for o, k, _ in marks if k == "definite"]
    marginal = [o for o, k, _ in marks if k == "marginal"]
    blackout = [o for o, k, _ in marks if k == "blackout"]
    expected = answer_of(definite, blackout)
    acceptable = []
    if blackout:
        # A person reads the new mark. Sending the question to a person is fine; reading it as
        # MULTI would silently drop a vote, and reading the blacked-out option is wrong —
        # unless the new mark is itself a filled box: then nobody can tell which box was
        # corrected, and MULTI is fair.
        acceptable.append("REVIEW")
        if any(s in ("fill", "scribble") for o, k, s in marks if k == "definite"):
            acceptable.append("MULTI")
        if not definite:
            expected = "BLANK"
    if marginal:
        acceptable.append("REVIEW")
        # Each marginal mark may be read either way: every answer it could give is no error.
        for m in marginal:
            alt = answer_of(sorted(set(definite + [m])), blackout)
            acceptable.append(alt)
        acceptable.append(answer_of(definite + marginal, blackout))
    seen = []
    for a in acceptable:
        if a != expected and a not in seen:
            seen.append(a)
    cell = " ".join(
        f"{o}={'definite' if k in ('definite', 'blackout') else 'marginal'}:{s}" for o, k, s in marks
    )
    return expected, ";".join(seen), cell


# ---------------------------------------------------------------------------------------------
# The page as it travels through the effects. `img` is float32 BGR 0..255 (OpenCV's and
# augraphy's channel order); `aux` carries, through the same geometric transforms, the marks'
# ink opacity (channel 0) and the printed form's darkness (channel 1), so legibility can be
# measured on the final image; `pts` are tracked layout points (page pixels at first).
# ---------------------------------------------------------------------------------------------


class Page:
    def __init__(self, img, aux, pts, px_per_mm):
        self.img = img
        self.aux = aux
        self.pts = pts
        self.px_per_mm = px_per_mm
        self.effects = []
        self.hidden_discs = set()  # discs covered by an occluder (a finger)

    def log(self, name, **params):
        if params:
            inner = ",".join(f"{k}={fmt(v)}" for k, v in params.items())
            self.effects.append(f"{name}({inner})")
        else:
            self.effects.append(name)

    def u8(self):
        return np.clip(self.img, 0, 255).astype(np.uint8)


def fmt(v):
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, (tuple, list)):
        return "/".join(fmt(x) for x in v)
    return str(v)


def warp_homography(page, H, out_w, out_h, background):
    """Maps the page through H onto an out_w × out_h frame over `background` (float32 BGR)."""
    flags = cv2.INTER_LINEAR
    img = cv2.warpPerspective(page.img, H, (out_w, out_h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    cover = cv2.warpPerspective(np.ones(page.img.shape[:2], np.float32), H, (out_w, out_h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    cover = cover[..., None]
    page.img = img + background * (1.0 - cover)
    page.aux = cv2.warpPerspective(page.aux, H, (out_w, out_h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    page.pts = cv2.perspectiveTransform(page.pts.reshape(-1, 1, 2).astype(np.float64), H).reshape(-1, 2)


def warp_displacement(page, disp):
    """Non-linear warp: the output pixel p shows the input at p + disp(p). Points are carried
    forwards by solving p_out + disp(p_out) = p_in (the displacement is small and smooth)."""
    h, w = page.img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = disp(xs, ys)
    mx, my = (xs + dx).astype(np.float32), (ys + dy).astype(np.float32)
    page.img = cv2.remap(page.img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    page.aux = cv2.remap(page.aux, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    p = page.pts.copy()
    out = p.copy()
    for _ in range(20):
        ddx, ddy = disp(out[:, 0], out[:, 1])
        out = p - np.stack([ddx, ddy], axis=1)
    page.pts = out


def paper_background(h, w, rng, level=(236, 250)):
    """The scanner lid or the glass beyond the sheet: nearly white, a little noise."""
    v = rng.uniform(*level)
    bg = np.full((h, w, 3), v, np.float32)
    bg += 1.5 * rng.standard_normal((h, w, 1), dtype=np.float32)
    return bg


def table_background(h, w, rng):
    """A desk under a phone: a darker, textured, unevenly lit surface."""
    base = np.array(
        [(45, 65, 95), (95, 100, 105), (50, 52, 58), (70, 95, 120), (120, 125, 125)][int(rng.integers(5))],
        np.float32,
    )
    small = rng.normal(0, 1, (max(2, h // 64), max(2, w // 64))).astype(np.float32)
    low = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    grain = rng.standard_normal((h, w), dtype=np.float32)
    # Wood-like streaks: noise smoothed along one direction (at quarter size, then enlarged).
    streak = cv2.GaussianBlur(rng.standard_normal((h // 4, w // 4), dtype=np.float32), (0, 0), sigmaX=10, sigmaY=0.5)
    streak = cv2.resize(streak * 2, (w, h), interpolation=cv2.INTER_LINEAR)
    t = 1 + 0.12 * low + 0.03 * grain + 0.15 * streak
    return base[None, None, :] * t[..., None]


def scanner_geometry(page, rng, allow_turn=True, max_rot=3.0):
    """An office flatbed/feeder: the sheet on an A4 frame, slightly rotated and shifted, some
    sheets upside down."""
    h, w = page.img.shape[:2]
    ppm = page.px_per_mm
    rot = float(np.clip(rng.normal(0, 1.1), -max_rot, max_rot))
    shift = rng.normal(0, 1.0, 2) * ppm
    scale = rng.uniform(0.992, 1.006)
    turn = allow_turn and rng.random() < 0.15
    c = (w / 2, h / 2)
    M = cv2.getRotationMatrix2D(c, rot + (180 if turn else 0), scale)
    M[:, 2] += shift
    H = np.vstack([M, [0, 0, 1]])
    warp_homography(page, H, w, h, paper_background(h, w, rng))
    page.log("scanner", rot_deg=rot, turn180=int(turn), scale=scale, shift_mm=tuple(shift / ppm))


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed % (2**32))
    cv2.setRNGSeed(seed % (2**31))
    try:
        _numba_seed(seed % (2**32))
    except Exception:
        pass


try:
    import numba

    @numba.njit(cache=False)
    def _numba_seed(s):
        # augraphy's jitted kernels draw from numba's own generators, not the interpreter's:
        # one behind np.random and another behind `random` (BadPhotoCopy's Worley noise).
        np.random.seed(s)
        random.seed(s)

except Exception:  # pragma: no cover - numba is augraphy's dependency

    def _numba_seed(s):
        pass


def aug_u8(page, aug):
    """Runs one augraphy augmentation on the page image."""
    out = aug(page.u8())
    if isinstance(out, dict):
        out = out["output"]
    out = np.asarray(out)
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    if out.shape[:2] != page.img.shape[:2]:
        raise RuntimeError(f"{type(aug).__name__} changed the image size")
    page.img = out.astype(np.float32)


def aug_multiplier(aug, h, w, scale=4, base=255.0):
    """Runs an augraphy lighting/shadow/copier-noise augmentation on a blank low-resolution
    sheet and returns its effect as a full-resolution multiplier: these effects are smooth (or,
    for copier noise, made of specks the size of a few pixels at half resolution), and running
    them on the full page costs seconds."""
    small = np.full((max(8, h // scale), max(8, w // scale), 3), base, np.uint8)
    out = np.asarray(aug(small))
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    m = out.astype(np.float32) / float(base)
    return cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)


def line_distance(h, w, p0, angle):
    """Signed distance (px) of every pixel from a line through p0 at `angle` (radians)."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    nx, ny = -math.sin(angle), math.cos(angle)
    return (xs - p0[0]) * nx + (ys - p0[1]) * ny


def line_distance_fn(p0, angle):
    nx, ny = -math.sin(angle), math.cos(angle)
    return lambda xs, ys: (xs - p0[0]) * nx + (ys - p0[1]) * ny, (nx, ny)


# ---------------------------------------------------------------------------------------------
# Effects in page coordinates (they belong to the sheet: folds, curls, stamps).
# ---------------------------------------------------------------------------------------------


def box_rows_mm(layout):
    return sorted({round(b["y"] + b["h"] / 2, 2) for q in layout["checkboxes"].values() for b in q.values()})


def box_columns_mm(layout):
    return sorted({round(b["x"] + b["w"] / 2, 2) for q in layout["checkboxes"].values() for b in q.values()})


def fold_lines_mm(layout, rng):
    """Where a ballot folded for a pocket or an envelope creases: A4 in thirds (≈ 99 and 198 mm,
    right on the q2 and q8 rows of the standard form), or once across a random row of boxes."""
    rows = box_rows_mm(layout)
    if rng.random() < 0.5:
        return [99.0 + rng.normal(0, 2.5), 198.0 + rng.normal(0, 2.5)][: int(rng.integers(1, 3))]
    return [float(rng.choice(rows)) + rng.normal(0, 1.5)]


def fold_shadow(page, layout, rng):
    """The ridge of a flattened fold casts a soft shadow 3–12 mm wide along a row of boxes: the
    whole row gets darker, more on the side away from the scanner lamp. A thin crease line runs
    at its centre."""
    h, w = page.img.shape[:2]
    ppm = page.px_per_mm
    m = np.ones((h, w), np.float32)
    for y_mm in fold_lines_mm(layout, rng):
        width = rng.uniform(3.0, 12.0)
        depth = rng.uniform(0.12, 0.35)
        angle = math.radians(rng.normal(0, 0.6))
        d = line_distance(h, w, (w / 2, y_mm * ppm), angle) / ppm
        # Asymmetric profile: the lamp lights one flank of the ridge, the other is in shadow.
        s_a, s_b = width / 4, width / 4 * rng.uniform(0.4, 1.0)
        sig = np.where(d > 0, s_a, s_b)
        m *= 1 - depth * np.exp(-0.5 * (d / sig) ** 2)
        crease = rng.uniform(0.05, 0.2)
        m *= 1 - crease * np.exp(-0.5 * (d / rng.uniform(0.12, 0.25)) ** 2)
        page.log("fold_shadow", y_mm=y_mm, width_mm=width, depth=depth, crease=crease, angle_deg=math.degrees(angle))
    page.img *= m[..., None]


def fold_ridge(page, layout, rng):
    """A fold ridge that has not lain flat displaces the paper on one side of the crease by
    ~0.5 mm (a gap or an overlap across the fold line, sometimes a slide along it), over a
    transition of a fraction of a millimetre, with a faint shadow on the ridge."""
    ppm = page.px_per_mm
    h, w = page.img.shape[:2]
    if rng.random() < 0.7:
        pos = fold_lines_mm(layout, rng)[0]
        p0, angle = (w / 2, pos * ppm), math.radians(rng.normal(0, 0.5))
        orient = "across"
    else:  # a vertical fold between two columns of boxes or through one
        cols = box_columns_mm(layout)
        pos = float(rng.choice(cols)) + rng.uniform(-6, 6)
        p0, angle = (pos * ppm, h / 2), math.radians(90 + rng.normal(0, 0.5))
        orient = "down"
    shift_mm = rng.uniform(0.35, 0.75) * rng.choice([-1, 1])
    along_mm = rng.uniform(-0.3, 0.3)
    trans_mm = rng.uniform(0.2, 0.8)
    dist, (nx, ny) = line_distance_fn(p0, angle)
    tx, ty = ny, -nx  # along the line

    def disp(xs, ys):
        s = 1.0 / (1.0 + np.exp(np.clip(-dist(xs, ys) / (trans_mm * ppm), -50, 50)))
        # Output p shows input p + d: content beyond the line moves by -d.
        return (-(shift_mm * nx + along_mm * tx) * ppm * s).astype(np.float32), (
            -(shift_mm * ny + along_mm * ty) * ppm * s
        ).astype(np.float32)

    warp_displacement(page, disp)
    d = line_distance(h, w, p0, angle) / ppm
    depth = rng.uniform(0.04, 0.15)
    page.img *= (1 - depth * np.exp(-0.5 * (d / rng.uniform(0.5, 2.0)) ** 2))[..., None]
    page.log("fold_ridge", orient=orient, at_mm=pos, shift_mm=shift_mm, along_mm=along_mm, transition_mm=trans_mm, shadow=depth)


def curled_edge(page, layout, rng):
    """An edge lifted off the glass: out of focus, darker, and bent — the displacement grows
    towards the edge (up to ~1–2 mm) and wanders along it."""
    ppm = page.px_per_mm
    h, w = page.img.shape[:2]
    edge = ["right", "top", "bottom", "left"][int(rng.choice(4, p=[0.45, 0.25, 0.15, 0.15]))]
    band_mm = rng.uniform(25, 55)
    dmax_mm = rng.uniform(0.8, 2.0)
    dark = rng.uniform(0.15, 0.45)
    blur_px = rng.uniform(1.0, 3.0) * ppm / 7.87
    wave = rng.uniform(0, 2 * math.pi)
    band = band_mm * ppm

    def u_of(xs, ys):
        if edge == "right":
            u, along = (xs - (w - band)) / band, ys / h
        elif edge == "left":
            u, along = (band - xs) / band, ys / h
        elif edge == "top":
            u, along = (band - ys) / band, xs / w
        else:
            u, along = (ys - (h - band)) / band, xs / w
        return np.clip(u, 0, 1), along

    def disp(xs, ys):
        u, along = u_of(xs, ys)
        mag = dmax_mm * ppm * u**2 * (0.6 + 0.4 * np.sin(2 * math.pi * along * 1.3 + wave))
        # The lifted paper is seen foreshortened: content near the edge appears pulled inwards,
        # so the output pixel shows paper from further out.
        z = np.zeros_like(mag)
        if edge == "right":
            return mag.astype(np.float32), z.astype(np.float32)
        if edge == "left":
            return (-mag).astype(np.float32), z.astype(np.float32)
        if edge == "top":
            return z.astype(np.float32), (-mag).astype(np.float32)
        return z.astype(np.float32), mag.astype(np.float32)

    warp_displacement(page, disp)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    u, _ = u_of(xs, ys)
    blurred = cv2.GaussianBlur(page.img, (0, 0), blur_px)
    wgt = np.clip(u * 1.3, 0, 1)[..., None]
    page.img = page.img * (1 - wgt) + blurred * wgt
    page.img *= (1 - dark * u**1.5)[..., None]
    page.log("curled_edge", edge=edge, band_mm=band_mm, max_shift_mm=dmax_mm, darken=dark, blur_px=blur_px)


_FONT_CACHE = {}


def font(size_px, bold=False, oblique=False):
    from PIL import ImageFont

    key = (size_px, bold, oblique)
    if key not in _FONT_CACHE:
        names = ["DejaVuSans-Bold.ttf" if bold else ("DejaVuSans-Oblique.ttf" if oblique else "DejaVuSans.ttf")]
        dirs = ["/usr/share/fonts/truetype/dejavu"]
        try:
            import matplotlib

            dirs.append(os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data/fonts/ttf"))
        except Exception:
            pass
        for d in dirs:
            for n in names:
                p = os.path.join(d, n)
                if os.path.exists(p):
                    _FONT_CACHE[key] = ImageFont.truetype(p, size_px)
                    break
            if key in _FONT_CACHE:
                break
        else:
            _FONT_CACHE[key] = ImageFont.load_default()
    return _FONT_CACHE[key]


def text_layer(text, size_px, bold=False, oblique=False):
    """The text's coverage (0..1) as a float32 array."""
    from PIL import Image, ImageDraw

    f = font(int(size_px), bold, oblique)
    box = f.getbbox(text)
    im = Image.new("L", (box[2] - box[0] + 4, box[3] - box[1] + 4), 0)
    ImageDraw.Draw(im).text((2 - box[0], 2 - box[1]), text, font=f, fill=255)
    return np.asarray(im, np.float32) / 255.0


def paste_layer(dst, src, cx, cy):
    """max-combines `src` centred at (cx, cy) into `dst` (both float32 2-D)."""
    h, w = src.shape
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    xa, ya = max(0, x0), max(0, y0)
    xb, yb = min(dst.shape[1], x0 + w), min(dst.shape[0], y0 + h)
    if xb <= xa or yb <= ya:
        return
    np.maximum(dst[ya:yb, xa:xb], src[ya - y0 : yb - y0, xa - x0 : xb - x0], out=dst[ya:yb, xa:xb])


SEAL_TEXTS = {
    "P-ANBIEN": ("CÔNG AN PHƯỜNG AN BIÊN", "TP. HẢI PHÒNG"),
    "X-ANDONG": ("CÔNG AN XÃ AN ĐỒNG", "H. AN DƯƠNG"),
    "P-MAYTO": ("CÔNG AN PHƯỜNG MÁY TƠ", "Q. NGÔ QUYỀN"),
    "PC08": ("PHÒNG CẢNH SÁT GIAO THÔNG", "CATP HẢI PHÒNG"),
}


def seal_stamp(page, layout, unit, rng):
    """A red round seal (two rings, the unit's name around the rim, a star in the centre) stamped
    over the header and partly over the title, with uneven ink; sometimes a signature beside it.
    Kept off the QR code, the fiducial discs and every checkbox."""
    ppm = page.px_per_mm
    h, w = page.img.shape[:2]
    r_mm = rng.uniform(16, 20)
    first_row = min(b["y"] for q in layout["checkboxes"].values() for b in q.values())
    qr_x = layout["qr"]["x"] - layout["qr"]["quiet_zone"]
    cx_mm = rng.uniform(22 + r_mm, qr_x - r_mm - 2)
    cy_mm = rng.uniform(14, min(first_row - r_mm - 8, 42))
    cx, cy, r = cx_mm * ppm, cy_mm * ppm, r_mm * ppm
    layer = np.zeros((h, w), np.float32)
    cv2.circle(layer, (int(cx * 16), int(cy * 16)), int(r * 16), 1.0, max(2, int(0.9 * ppm)), cv2.LINE_AA, 4)
    cv2.circle(layer, (int(cx * 16), int(cy * 16)), int((r - 1.3 * ppm) * 16), 1.0, max(1, int(0.35 * ppm)), cv2.LINE_AA, 4)
    cv2.circle(layer, (int(cx * 16), int(cy * 16)), int(r * 0.52 * 16), 1.0, max(1, int(0.35 * ppm)), cv2.LINE_AA, 4)
    star = []
    for i in range(10):
        a = -math.pi / 2 + i * math.pi / 5
        rr = r * (0.42 if i % 2 == 0 else 0.17)
        star.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    cv2.fillPoly(layer, [np.round(np.array(star) * 16).astype(np.int32)], 1.0, cv2.LINE_AA, 4)
    top, bottom = SEAL_TEXTS.get(unit, ("CÔNG AN", "HẢI PHÒNG"))
    rt = r - 3.4 * ppm
    size = 3.0 * ppm
    for text, start, end, upright in ((top, 200, 340, True), (bottom, 150, 30, False)):
        n = len(text)
        for i, ch in enumerate(text):
            if ch == " ":
                continue
            a = math.radians(start + (end - start) * (i + 0.5) / n)
            t = text_layer(ch, size, bold=True)
            deg = math.degrees(a) + 90 if upright else math.degrees(a) - 90
            M = cv2.getRotationMatrix2D((t.shape[1] / 2, t.shape[0] / 2), -deg, 1.0)
            diag = int(math.hypot(*t.shape)) + 2
            M[:, 2] += (diag - t.shape[1]) / 2, (diag - t.shape[0]) / 2
            tr = cv2.warpAffine(t, M, (diag, diag))
            paste_layer(layer, tr, cx + rt * math.cos(a), cy + rt * math.sin(a))
    # Uneven pressure: the rubber leaves blotches and gaps, stronger on one side.
    noise = cv2.resize(rng.random((max(2, h // 24), max(2, w // 24))).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    tilt = rng.uniform(0, 2 * math.pi)
    side = 0.75 + 0.25 * np.cos(np.arctan2(ys - cy, xs - cx) - tilt)
    fine = rng.random((h, w)).astype(np.float32)
    opacity = rng.uniform(0.85, 0.98)
    layer = layer * np.clip(0.65 + 0.6 * noise, 0, 1) * side * np.where(fine < 0.05, 0.4, 1.0) * opacity
    red = (45, 25, 190)  # BGR
    apply_ink(page.img, layer, red)
    page.log("seal_stamp", centre_mm=(cx_mm, cy_mm), radius_mm=r_mm, ink=opacity)
    if rng.random() < 0.7:
        signature(page, (cx_mm + rng.uniform(-0.6, 0.6) * r_mm, cy_mm + rng.uniform(-0.3, 0.5) * r_mm), rng, qr_x)


def signature(page, at_mm, rng, max_x_mm):
    """A quick scrawl: a few loops and a long tail, in blue or black ballpoint."""
    ppm = page.px_per_mm
    x, y = at_mm
    pts = []
    span = rng.uniform(22, 34)
    n = int(rng.integers(5, 9))
    x = min(x, max_x_mm - span - 2)
    for i in range(n):
        t = i / (n - 1)
        pts.append((x + span * t + rng.normal(0, 1.5), y + rng.normal(0, 3.0) * (1 - 0.5 * t)))
        if rng.random() < 0.5:
            pts.append((x + span * t + rng.uniform(-4, -1), y + rng.uniform(-5, 5)))
    pts.append((pts[-1][0] + rng.uniform(5, 10), pts[-1][1] + rng.uniform(-2, 3)))
    path = smooth_path(pts, n=200) * ppm
    h, w = page.img.shape[:2]
    layer = np.zeros((h, w), np.float32)
    draw_stroke(layer, path, 0.4 * ppm, 0.9, rng)
    colour = (150, 48, 28) if rng.random() < 0.6 else (38, 30, 30)
    apply_ink(page.img, layer, colour)
    page.log("signature", at_mm=(x, y), span_mm=span)


MARGIN_NOTES = [
    "Cán bộ nhiệt tình",
    "Chờ hơi lâu",
    "Cảm ơn các anh chị",
    "Nên có thêm ghế ngồi",
    "Rất tốt!",
    "Thủ tục còn rườm rà",
    "Không có ý kiến",
]


def margin_note(page, layout, rng):
    """Citizens write a few words below the questions or beside the title — never in a box."""
    ppm = page.px_per_mm
    last_row = max(b["y"] + b["h"] for q in layout["checkboxes"].values() for b in q.values())
    text = MARGIN_NOTES[int(rng.integers(len(MARGIN_NOTES)))]
    t = text_layer(text, rng.uniform(3.5, 5.0) * ppm, oblique=True)
    ang = rng.normal(0, 3)
    M = cv2.getRotationMatrix2D((t.shape[1] / 2, t.shape[0] / 2), ang, 1.0)
    t = cv2.warpAffine(t, M, (t.shape[1], t.shape[0]))
    cx = rng.uniform(20 * ppm + t.shape[1] / 2, 150 * ppm - t.shape[1] / 2)
    cy = rng.uniform(last_row + 15, 265) * ppm
    h, w = page.img.shape[:2]
    layer = np.zeros((h, w), np.float32)
    paste_layer(layer, t * 0.9, cx, cy)
    apply_ink(page.img, layer, (150, 50, 30) if rng.random() < 0.7 else (38, 30, 30))
    page.log("margin_note", at_mm=(cx / ppm, cy / ppm))


# ---------------------------------------------------------------------------------------------
# Effects of the scanner, the copier and the phone (image coordinates).
# ---------------------------------------------------------------------------------------------


def photocopy(page, rng):
    """A tired copier: toner bands or drum streaks 3–10 mm wide down a column of boxes, grey
    haze, speckle and edge noise (augraphy BadPhotoCopy, DirtyDrum, LowInk lines)."""
    import augraphy as A

    h, w = page.img.shape[:2]
    ppm = page.px_per_mm
    nt = int(rng.choice([1, 2, 3, 4, 6]))
    strength = rng.uniform(0.15, 0.3) if nt == 2 else rng.uniform(0.2, 0.45)
    m = aug_multiplier(A.BadPhotoCopy(noise_type=nt, p=1), h, w, scale=2)
    page.img *= 1 - strength * (1 - m)
    page.log("augraphy.BadPhotoCopy", noise_type=nt, blend=strength)
    if rng.random() < 0.7:
        # Drum streaks run along the feed direction: down the page.
        aug_u8(page, A.DirtyDrum(line_width_range=(1, 4), line_concentration=float(rng.uniform(0.03, 0.08)), direction=1, noise_intensity=float(rng.uniform(0.2, 0.45)), noise_value=(64, 200), p=1))
        page.log("augraphy.DirtyDrum")
    if rng.random() < 0.5:
        if rng.random() < 0.5:
            aug_u8(page, A.LowInkRandomLines(count_range=(3, 8), p=1))
            page.log("augraphy.LowInkRandomLines")
        else:
            aug_u8(page, A.LowInkPeriodicLines(count_range=(2, 4), period_range=(16, 32), p=1))
            page.log("augraphy.LowInkPeriodicLines")
    # Toner bands down the page: the copier's drum wears along the feed direction, so a band
    # follows a column — often right over a column of boxes.
    nb = int(rng.integers(1, 3))
    cols = [layout_col for layout_col in page.box_columns_px] if hasattr(page, "box_columns_px") else [w / 2]
    for _ in range(nb):
        x = float(rng.choice(cols)) + rng.normal(0, 3 * ppm) if rng.random() < 0.7 else rng.uniform(0.1, 0.9) * w
        width = rng.uniform(3, 10) * ppm
        depth = rng.uniform(0.08, 0.3)
        xs = np.arange(w, dtype=np.float32)
        prof = np.exp(-0.5 * ((xs - x) / (width / 4)) ** 2)
        # The band is streaky along its length.
        along = cv2.resize(rng.random((max(2, h // 40), 1)).astype(np.float32), (1, h), interpolation=cv2.INTER_LINEAR)
        band = depth * prof[None, :] * (0.6 + 0.4 * along)
        page.img *= (1 - band)[..., None]
        page.log("toner_band", x_mm=x / ppm, width_mm=width / ppm, depth=depth)
    haze = rng.uniform(0.03, 0.12)
    page.img = page.img * (1 - haze) + 0 * haze
    speck = rng.random((h, w)) < rng.uniform(0.0005, 0.003)
    page.img[speck] *= rng.uniform(0.2, 0.6)
    page.log("haze_speckle", haze=haze)


def phone_frame(page, rng, hidden=None):
    """A phone photo of the sheet lying on a desk: perspective, rotation, the page filling
    78–95 % of the frame's height, a darker textured table around it. With `hidden`, the page
    is pushed so that disc leaves the frame while the QR code and the boxes stay; returns
    whether that placement was found."""
    ppm = page.px_per_mm
    h, w = page.img.shape[:2]
    fw, fh = int(w * 0.95), int(h * 0.95 * 1.0)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    for _ in range(200):
        fill = rng.uniform(0.78, 0.95)
        ph = fh * fill
        pw = ph * w / h
        cx, cy = fw / 2 + rng.normal(0, 0.03 * fw), fh / 2 + rng.normal(0, 0.03 * fh)
        rot = math.radians(rng.normal(0, 4))
        corners = np.array([[-pw / 2, -ph / 2], [pw / 2, -ph / 2], [pw / 2, ph / 2], [-pw / 2, ph / 2]])
        R = np.array([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
        corners = corners @ R.T
        # Perspective: the far edge looks shorter (the phone held at an angle).
        k = rng.uniform(0.03, 0.12)
        side = int(rng.integers(4))
        i, j = [(0, 1), (1, 2), (2, 3), (3, 0)][side]
        mid = (corners[i] + corners[j]) / 2
        corners[i] += (mid - corners[i]) * k
        corners[j] += (mid - corners[j]) * k
        corners += rng.normal(0, 0.01 * fw, corners.shape)
        if hidden is not None:
            # Push the chosen corner off the frame: shift the whole quad outwards.
            push = rng.uniform(12, 22) * ppm * fill * fh / h
            direction = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]][hidden], float)
            corners += direction * push / math.sqrt(2)
        dst = np.float32(corners + [cx, cy])
        H = cv2.getPerspectiveTransform(src, dst)
        ok = True
        pts = cv2.perspectiveTransform(page.pts.reshape(-1, 1, 2).astype(np.float64), H).reshape(-1, 2)
        ok = frame_check(page, pts, fw, fh, want_cut=set() if hidden is None else {hidden})
        if ok:
            break
    bg = table_background(fh, fw, rng)
    warp_homography(page, H, fw, fh, bg)
    page.log("phone_perspective", fill=fill, rot_deg=math.degrees(rot), keystone=k, far_side=side)
    if hidden is not None:
        page.log("corner_off_frame", disc=hidden, placed=int(ok))
    return ok


def frame_check(page, pts, fw, fh, want_cut):
    """True if the QR code and every box are well inside the frame and exactly the discs in
    `want_cut` are not fully on it."""
    inside = lambda p, m: (p[:, 0] >= m) & (p[:, 1] >= m) & (p[:, 0] < fw - m) & (p[:, 1] < fh - m)  # noqa: E731
    margin = 1.5 * page.px_per_mm
    if not inside(pts[page.idx_qr], margin).all() or not inside(pts[page.idx_boxes], margin).all():
        return False
    for d, idx in enumerate(page.idx_discs):
        full = inside(pts[idx], 1).all()
        if (d in want_cut) == full:
            return False
    return True


def phone_light(page, rng):
    """Uneven light and a cast shadow (augraphy LightingGradient and ShadowCast), a colour cast,
    defocus and sensor noise."""
    import augraphy as A

    h, w = page.img.shape[:2]
    lg = aug_multiplier(A.LightingGradient(max_brightness=255, min_brightness=0, mode="gaussian", p=1), h, w, scale=4, base=200.0)
    lg = np.clip(lg, 0.5, 1.25)
    page.img *= lg
    page.log("augraphy.LightingGradient")
    sc = aug_multiplier(
        A.ShadowCast(shadow_side=["top", "bottom", "left", "right"][int(rng.integers(4))], shadow_opacity_range=(0.3, 0.6), shadow_blur_kernel_range=(31, 75), p=1),
        h,
        w,
        scale=4,
    )
    page.img *= sc
    page.log("augraphy.ShadowCast", min_level=float(sc.min()))
    cast = np.array([1.0, 1.0, 1.0]) + rng.normal(0, 0.04, 3)
    page.img *= cast.astype(np.float32)
    page.img = cv2.GaussianBlur(page.img, (0, 0), rng.uniform(0.4, 1.0))
    page.img += rng.uniform(1.5, 4.0) * rng.standard_normal(page.img.shape, dtype=np.float32)
    page.log("camera", cast=tuple(cast), noise=1)


def own_cast_shadow(page, rng):
    """A hand or the phone between the lamp and the sheet: a soft-edged dark blob entering
    from one side."""
    h, w = page.img.shape[:2]
    small = np.zeros((h // 4, w // 4), np.float32)
    side = int(rng.integers(4))
    cx, cy = [(rng.uniform(0, w / 4), 0), (w / 4, rng.uniform(0, h / 4)), (rng.uniform(0, w / 4), h / 4), (0, rng.uniform(0, h / 4))][side]
    ax, ay = rng.uniform(0.15, 0.35) * w / 4, rng.uniform(0.15, 0.35) * h / 4
    cv2.ellipse(small, (int(cx), int(cy)), (int(ax), int(ay)), rng.uniform(0, 180), 0, 360, 1.0, -1)
    small = cv2.GaussianBlur(small, (0, 0), rng.uniform(8, 20))
    depth = rng.uniform(0.25, 0.5)
    page.img *= (1 - depth * cv2.resize(small, (w, h)))[..., None]
    page.log("hand_shadow", side=side, depth=depth)


def finger_over_disc(page, rng, disc):
    """A finger holding the sheet flat covers one fiducial disc: a skin-toned, softly shaded
    capsule coming in from outside the page. Returns False if it cannot be placed without
    touching the QR code or a box."""
    h, w = page.img.shape[:2]
    centre = page.pts[page.idx_discs[disc]].mean(axis=0)
    page_c = page.pts[page.idx_boxes].mean(axis=0)
    local = np.linalg.norm(page.pts[page.idx_discs[disc]][0] - centre) / 3.0  # px per mm near the disc
    for _ in range(60):
        out_dir = centre - page_c
        out_dir /= np.linalg.norm(out_dir)
        ang = math.atan2(out_dir[1], out_dir[0]) + rng.uniform(-0.9, 0.9)
        d = np.array([math.cos(ang), math.sin(ang)])
        tip = centre + rng.normal(0, 1.0, 2) * local - d * rng.uniform(1.0, 3.0) * local
        base = tip + d * 80 * local
        width = rng.uniform(14, 19) * local
        mask = np.zeros((h, w), np.float32)
        cv2.line(mask, tuple(int(v) for v in tip), tuple(int(v) for v in base), 1.0, int(width), cv2.LINE_AA)
        keep = np.vstack([page.pts[page.idx_qr], page.pts[page.idx_boxes]])
        keep_inside = (keep[:, 0] >= 0) & (keep[:, 1] >= 0) & (keep[:, 0] < w) & (keep[:, 1] < h)
        kx = np.clip(keep[:, 0].astype(int), 0, w - 1)
        ky = np.clip(keep[:, 1].astype(int), 0, h - 1)
        grown = cv2.dilate(mask, np.ones((int(3 * local) | 1, int(3 * local) | 1), np.uint8))
        if (grown[ky, kx][keep_inside] > 0).any():
            continue
        dp = page.pts[page.idx_discs[disc]]
        dx = np.clip(dp[:, 0].astype(int), 0, w - 1)
        dy = np.clip(dp[:, 1].astype(int), 0, h - 1)
        covered = float((mask[dy, dx] > 0.5).mean())
        if covered < 0.6:
            continue
        soft = cv2.GaussianBlur(mask, (0, 0), 1.5 * local)
        skin = np.array([120, 150, 205], np.float32) * rng.uniform(0.7, 1.05)  # BGR
        shade = 0.75 + 0.25 * cv2.GaussianBlur(mask, (0, 0), 4 * local)
        page.img = page.img * (1 - soft[..., None]) + (skin[None, None, :] * shade[..., None]) * soft[..., None]
        page.hidden_discs.add(disc)
        page.log("finger", disc=disc, covered=covered)
        return True
    return False


def skew_cut_corners(page, rng):
    """A sheet fed askew or scaled: rotation, scale and shift that cut one or two corner discs
    off the image while the QR code and every box stay fully on it."""
    h, w = page.img.shape[:2]
    ppm = page.px_per_mm
    want = int(rng.choice([1, 2], p=[0.6, 0.4]))
    for attempt in range(400):
        rot = rng.uniform(1.5, 6.0) * rng.choice([-1, 1])
        scale = rng.uniform(0.97, 1.07)
        shift = rng.uniform(-9, 9, 2) * ppm
        turn = rng.random() < 0.15
        M = cv2.getRotationMatrix2D((w / 2, h / 2), rot + (180 if turn else 0), scale)
        M[:, 2] += shift
        H = np.vstack([M, [0, 0, 1]])
        pts = cv2.perspectiveTransform(page.pts.reshape(-1, 1, 2).astype(np.float64), H).reshape(-1, 2)
        inside = lambda p, m: (p[:, 0] >= m) & (p[:, 1] >= m) & (p[:, 0] < w - m) & (p[:, 1] < h - m)  # noqa: E731
        if not inside(pts[page.idx_qr], 1.0 * ppm).all() or not inside(pts[page.idx_boxes], 1.0 * ppm).all():
            continue
        cut = sum(1 for idx in page.idx_discs if not inside(pts[idx], 1).all())
        if cut == want:
            break
    warp_homography(page, H, w, h, paper_background(h, w, rng))
    page.log("skew_feed", rot_deg=rot, turn180=int(turn), scale=scale, shift_mm=tuple(shift / ppm), discs_cut=cut)


EXCLUDED_FROM_DEFAULT = {
    "Geometric",
    "Squish",
    "GlitchEffect",
    "ColorShift",
    "PageBorder",
    "BindingsAndFasteners",
    "PaperFactory",
    "DotMatrix",
    "Hollow",
    # Pen strokes drawn by augraphy itself (strike-throughs, underlines, highlighter, scribbles):
    # ink a person put on the page, not a scan artefact. The truth cannot know where they fall,
    # so a strike-through across a box (seed 91: three boxes of one page) was counted as an
    # unmarked box "read marked" when a person would call it a mark too.
    "Markup",
    "Scribbles",
}


def augraphy_default(page, rng):
    """augraphy's default pipeline, less the augmentations that move page content (Geometric,
    which also mirrors pages, Squish, GlitchEffect, ColorShift, PageBorder, which pads the page
    with a stack of sheet edges and scales it back), clip binders over the page
    (BindingsAndFasteners), PaperFactory (it needs texture files), and DotMatrix and Hollow,
    which re-render the printed form as dot-matrix print or outlined glyphs (a laser-printed
    ballot never looks like that, and they erase the QR code and the marks), and Markup and
    Scribbles, which draw pen strokes the truth cannot know of: none of them is a scan artefact,
    and the truth needs every box's position and every mark."""
    import augraphy as A

    pipe = A.default_augraphy_pipeline()

    def keep(aug):
        return type(aug).__name__ not in EXCLUDED_FROM_DEFAULT

    def prune(seq):
        out = []
        for a in seq.augmentations:
            if hasattr(a, "augmentations") and type(a).__name__ == "OneOf":
                inner = [x for x in a.augmentations if keep(x)]
                if inner:
                    a.augmentations = inner
                    if hasattr(a, "augmentation_probabilities"):
                        a.augmentation_probabilities = [1.0 / len(inner)] * len(inner)
                    out.append(a)
            elif keep(a):
                out.append(a)
        seq.augmentations = out

    for phase in (pipe.pre_phase, pipe.ink_phase, pipe.paper_phase, pipe.post_phase):
        prune(phase)
    # The pipeline keeps its last 30 inputs in ./augraphy_cache and BleedThrough shows a random
    # one through the paper: run it in an empty folder of its own, so the page only ever bleeds
    # into itself and the result does not depend on which pages ran before.
    import tempfile

    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="corpus-augraphy-") as tmp:
        os.chdir(tmp)
        try:
            data = pipe.augment(page.u8())
        finally:
            os.chdir(cwd)
    out = np.asarray(data["output"])
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    if out.shape[:2] != page.img.shape[:2]:
        # Some draws of the default pipeline resize the page; the truth needs the geometry,
        # so this page is redrawn with the next seed.
        raise RetryPage()
    page.img = out[..., :3].astype(np.float32)
    applied = []
    log = data.get("log", {}) or {}
    for name, ok in zip(log.get("augmentation_name", []), log.get("augmentation_status", [])):
        if ok:
            applied.append(name)
    page.log("augraphy.default", applied="+".join(applied) or "none")


def inkbleed_noise(page, rng):
    import augraphy as A

    aug_u8(page, A.InkBleed(intensity_range=(0.4, 0.7), kernel_size=(5, 5), severity=(0.3, 0.5), p=1))
    page.log("augraphy.InkBleed")
    aug_u8(page, A.NoiseTexturize(sigma_range=(3, 8), turbulence_range=(2, 5), p=1))
    page.log("augraphy.NoiseTexturize")
    aug_u8(page, A.SubtleNoise(subtle_range=int(rng.integers(8, 20)), p=1))
    page.log("augraphy.SubtleNoise")
    q = int(rng.integers(25, 45))
    aug_u8(page, A.Jpeg(quality_range=(q, q), p=1))
    page.log("augraphy.Jpeg", quality=q)


def tinted_paper(page, rng):
    import augraphy as A

    aug_u8(page, A.ColorPaper(hue_range=(15, 60), saturation_range=(20, 60), p=1))
    page.log("augraphy.ColorPaper")
    b = float(rng.uniform(0.6, 0.85))
    aug_u8(page, A.Brightness(brightness_range=(b, b), min_brightness=0, p=1))
    page.log("augraphy.Brightness", factor=b)
    if rng.random() < 0.4:
        aug_u8(page, A.DirtyScreen(n_clusters=(20, 50), n_samples=(2, 10), std_range=(1, 3), value_range=(180, 240), p=1))
        page.log("augraphy.DirtyScreen")


def scanner_noise(page, rng):
    page.img += rng.uniform(0.8, 2.5) * rng.standard_normal(page.img.shape[:2] + (1,), dtype=np.float32)
    if rng.random() < 0.5:
        page.img = cv2.GaussianBlur(page.img, (0, 0), rng.uniform(0.3, 0.7))


# ---------------------------------------------------------------------------------------------
# One page, start to finish.
# ---------------------------------------------------------------------------------------------


def tracked_points(layout, ppm):
    """Points whose final position tells what stayed on the image: 16 points on each fiducial
    disc's edge plus its centre, a 5 × 5 grid over the QR code, each box's corners and centre."""
    pts, idx_discs = [], []
    for f in layout["fiducials"]:
        r = f["diameter"] / 2
        start = len(pts)
        pts += [(f["x"] + r * math.cos(a), f["y"] + r * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 16, endpoint=False)]
        pts.append((f["x"], f["y"]))
        idx_discs.append(list(range(start, len(pts))))
    qr = layout["qr"]
    start = len(pts)
    pts += [(qr["x"] + qr["w"] * i / 4, qr["y"] + qr["h"] * j / 4) for i in range(5) for j in range(5)]
    idx_qr = list(range(start, len(pts)))
    idx_boxes, box_index = [], {}
    for q, opts in layout["checkboxes"].items():
        for o, b in opts.items():
            start = len(pts)
            pts += [(b["x"], b["y"]), (b["x"] + b["w"], b["y"]), (b["x"] + b["w"], b["y"] + b["h"]), (b["x"], b["y"] + b["h"]), (b["x"] + b["w"] / 2, b["y"] + b["h"] / 2)]
            box_index[(q, o)] = list(range(start, len(pts)))
            idx_boxes += box_index[(q, o)]
    return np.array(pts, float) * ppm, idx_discs, idx_qr, idx_boxes, box_index


def measure_marks(gray, aux, pts, box_index, plan, ppm_nominal):
    """For every definite mark: (contrast, visible ink mm²) on the final image, inside the box and
    a 2.5 mm ring around it (where the mark's own ink is, per the warped ink layer)."""
    h, w = gray.shape
    out = {}
    for q, marks in plan.items():
        for o, kind, style in marks:
            if kind != "definite":
                continue
            p = pts[box_index[(q, o)]]
            local = np.linalg.norm(p[1] - p[0]) / 7.0  # px per mm here (boxes are 7 mm)
            m = 2.5 * local
            x0, y0 = int(max(0, p[:, 0].min() - m)), int(max(0, p[:, 1].min() - m))
            x1, y1 = int(min(w, p[:, 0].max() + m + 1)), int(min(h, p[:, 1].max() + m + 1))
            if x1 <= x0 or y1 <= y0:
                out[(q, o)] = (0.0, 0.0)
                continue
            ink = aux[y0:y1, x0:x1, 0]
            prt = aux[y0:y1, x0:x1, 1]
            g = gray[y0:y1, x0:x1].astype(np.float32)
            # The mark's body: at least half its own peak opacity (a light pencil mark is light
            # all over), away from the printed border.
            peak = float(ink.max()) if ink.size else 0.0
            ink_px = (ink >= max(0.5 * peak, 10)) & (prt < 25)
            paper_px = (ink < 3) & (prt < 10)
            if ink_px.sum() < 3 or paper_px.sum() < 20:
                out[(q, o)] = (0.0, float(ink_px.sum()) / (local * local))
                continue
            paper = float(np.median(g[paper_px]))
            inkv = float(np.median(g[ink_px]))
            contrast = (paper - inkv) / max(paper, 1.0)
            out[(q, o)] = (contrast, float(ink_px.sum()) / (local * local))
    return out


def zbar_reads(path):
    """Whether zbar decodes a QR code in the file (pyzbar in-process; the zbarimg CLI if pyzbar
    or libzbar is missing)."""
    try:
        from pyzbar import pyzbar

        g = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        return "yes" if g is not None and pyzbar.decode(g, symbols=[pyzbar.ZBarSymbol.QRCODE]) else "no"
    except ImportError:
        pass
    try:
        r = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", path], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "no"
    return "yes" if r.returncode == 0 and r.stdout.strip() else "no"


_LAYOUTS = {}


def make_page(task):
    family, unit, serial, png, layout_path, dpi, seed, scans_dir = task
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    if layout_path not in _LAYOUTS:
        with open(layout_path, encoding="utf-8") as f:
            _LAYOUTS[layout_path] = json.load(f)
    layout = _LAYOUTS[layout_path]
    ppm = dpi / 25.4
    clean = cv2.imread(png, cv2.IMREAD_COLOR)
    if clean is None:
        raise RuntimeError(f"cannot read {png}")
    h, w = clean.shape[:2]
    img = clean.astype(np.float32)
    ink = np.zeros((h, w), np.float32)
    plan, blank_ballot = plan_marks(layout, rng)
    pen = ["blue", "black", "felt", "pencil"][int(rng.choice(4, p=[0.55, 0.25, 0.08, 0.12]))]
    for q, marks in plan.items():
        for i, (o, kind, style) in enumerate(marks):
            b = layout["checkboxes"][q][o]
            draw_mark(img, ink, style, (b["x"], b["y"], b["w"], b["h"]), "black" if kind == "blackout" and pen == "pencil" else pen, ppm, rng)
    aux = np.zeros((h, w, 3), np.uint8)
    aux[..., 0] = np.clip(ink * 255, 0, 255).astype(np.uint8)
    aux[..., 1] = 255 - cv2.cvtColor(clean, cv2.COLOR_BGR2GRAY)
    pts, idx_discs, idx_qr, idx_boxes, box_index = tracked_points(layout, ppm)
    page = Page(img, aux, pts, ppm)
    page.idx_discs, page.idx_qr, page.idx_boxes = idx_discs, idx_qr, idx_boxes
    page.box_columns_px = [c * ppm for c in box_columns_mm(layout)]
    page.log("pen", ink=pen, blank_ballot=int(blank_ballot))
    if rng.random() < 0.15:
        margin_note(page, layout, rng)

    fmt_, quality, grey = "jpg", int(rng.integers(50, 96)), rng.random() < 0.15
    if family == "fold-shadow":
        fold_shadow(page, layout, rng)
        scanner_geometry(page, rng)
        scanner_noise(page, rng)
    elif family == "fold-ridge":
        fold_ridge(page, layout, rng)
        scanner_geometry(page, rng)
        scanner_noise(page, rng)
    elif family == "photocopy":
        # The copy is of the marked ballot; the marks go through the copier too.
        scanner_geometry(page, rng)
        photocopy(page, rng)
        grey = rng.random() < 0.7
        fmt_ = "png" if rng.random() < 0.25 else "jpg"
    elif family == "phone-shadow":
        if not phone_frame(page, rng):
            raise RetryPage()
        phone_light(page, rng)
        if rng.random() < 0.5:
            own_cast_shadow(page, rng)
        grey, quality = False, int(rng.integers(60, 93))
    elif family == "phone-hidden-corner":
        disc = int(rng.integers(4))
        placed = False
        if rng.random() < 0.5:
            placed = phone_frame(page, rng, hidden=disc)
        if not placed:
            if page.effects[-1].startswith("corner_off_frame"):
                raise RetryPage()
            if not phone_frame(page, rng) or not finger_over_disc(page, rng, disc):
                raise RetryPage()
        phone_light(page, rng)
        grey, quality = False, int(rng.integers(60, 93))
    elif family == "skew-cut-corners":
        skew_cut_corners(page, rng)
        scanner_noise(page, rng)
    elif family == "curled-edge":
        curled_edge(page, layout, rng)
        scanner_geometry(page, rng, max_rot=2.0)
        scanner_noise(page, rng)
    elif family == "seal-stamp":
        seal_stamp(page, layout, unit, rng)
        scanner_geometry(page, rng)
        scanner_noise(page, rng)
        grey = False
    elif family == "augraphy-default":
        augraphy_default(page, rng)
        scanner_geometry(page, rng)
    elif family == "inkbleed-noise":
        inkbleed_noise(page, rng)
        scanner_geometry(page, rng)
    elif family == "tinted-paper":
        tinted_paper(page, rng)
        scanner_geometry(page, rng)
        scanner_noise(page, rng)
        grey = False
    else:
        raise ValueError(f"unknown family {family}")

    name = f"{family}-{unit}-{serial}.{fmt_}"
    path = os.path.join(scans_dir, name)
    out = page.u8()
    if grey:
        out = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
    if fmt_ == "jpg":
        cv2.imwrite(path, out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        page.log("jpeg", quality=quality, grey=int(grey))
    else:
        cv2.imwrite(path, out)
        page.log("png", grey=int(grey))

    # What a person would see: measured on the file as written.
    final = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    fh, fw = final.shape
    contrast = measure_marks(final, page.aux, page.pts, box_index, plan, ppm)
    faded = []
    for q, marks in plan.items():
        for i, (o, kind, style) in enumerate(marks):
            if kind == "definite":
                c, area = contrast[(q, o)]
                if c < LEGIBLE_CONTRAST or area < LEGIBLE_INK_MM2:
                    marks[i] = (o, "marginal", style)
                    faded.append(f"{q}/{o}/{style}:contrast={c:.2f}:ink={area:.1f}mm2")
    if faded:
        page.log("demoted_to_marginal", marks=faded)

    inside = lambda p: (p[:, 0] >= 0) & (p[:, 1] >= 0) & (p[:, 0] <= fw - 1) & (p[:, 1] <= fh - 1)  # noqa: E731
    discs_on = sum(1 for d, idx in enumerate(idx_discs) if inside(page.pts[idx]).all() and d not in page.hidden_discs)
    boxes_on = "yes" if inside(page.pts[idx_boxes]).all() else "no"
    zbar = zbar_reads(path)

    truth_rows = []
    for q, marks in plan.items():
        expected, acceptable, cell = truth_for_question(marks)
        truth_rows.append([name, 1, unit, serial, q, expected, acceptable, cell, family, dpi])
    page_row = [name, 1, family, "; ".join(page.effects), zbar, discs_on, boxes_on]
    return truth_rows, page_row


class RetryPage(Exception):
    pass


def run_task(task):
    """Runs one page; a placement that cannot be found with this seed is retried with the next
    seeds (deterministically)."""
    family, unit, serial, png, layout_path, dpi, seed, scans_dir = task
    for k in range(10):
        try:
            return make_page((family, unit, serial, png, layout_path, dpi, seed + 7919 * k, scans_dir))
        except RetryPage:
            continue
    raise RuntimeError(f"{family} {unit}-{serial}: no valid placement in 10 tries")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ballotscan", required=True, help="the ballotscan binary (for `generate`)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-family", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--dpi", type=int, default=200)
    ap.add_argument("--units", default=",".join(UNITS))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)

    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        ap.error(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
    units = [u.strip() for u in args.units.split(",") if u.strip()]
    out = os.path.abspath(args.out)
    scans = os.path.join(out, "scans")
    os.makedirs(scans, exist_ok=True)
    for f in os.listdir(scans):
        if f.endswith((".jpg", ".png")):
            os.remove(os.path.join(scans, f))

    total = args.per_family * len(families)
    per_unit = -(-total // len(units))
    sources = []
    for u in units:
        d = os.path.join(out, "print", u)
        if os.path.isdir(d):
            for root, _, files in os.walk(d, topdown=False):
                for f in files:
                    os.remove(os.path.join(root, f))
        os.makedirs(d, exist_ok=True)
        cmd = [args.ballotscan, "generate", "--unit", u, "--count", str(per_unit), "--out", d, "--png", "--dpi", str(args.dpi), "--first-serial", "1"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"ballotscan generate failed for {u}: {r.stderr.strip()}")
        for s in range(1, per_unit + 1):
            sources.append((u, f"{s:06d}", os.path.join(d, "png", f"{u}-{s:06d}.png"), os.path.join(d, "layout.json")))
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(sources))
    tasks = []
    ss = np.random.SeedSequence(args.seed)
    page_seeds = ss.generate_state(total, dtype=np.uint32)
    for i in range(total):
        fam = families[i // args.per_family]
        u, serial, png, lay = sources[order[i]]
        tasks.append((fam, u, serial, png, lay, args.dpi, int(page_seeds[i]), scans))

    t0 = time.time()
    results = []
    with Pool(args.workers) as pool:
        for k, res in enumerate(pool.imap(run_task, tasks, chunksize=1)):
            results.append(res)
            if sys.stderr.isatty() or (k + 1) % 20 == 0 or k + 1 == total:
                print(f"\r{k + 1}/{total} pages, {time.time() - t0:.0f} s", end="" if sys.stderr.isatty() else "\n", file=sys.stderr, flush=True)
    dt = time.time() - t0
    print(f"\n{total} pages in {dt:.0f} s ({total / max(dt, 1e-9):.2f} pages/s, {args.workers} workers)", file=sys.stderr)

    with open(os.path.join(out, "truth.csv"), "w", newline="", encoding="utf-8") as f:
        wr = csv.writer(f)
        wr.writerow(["source", "page", "unit", "serial", "question", "expected", "acceptable", "marks", "profile", "dpi"])
        for rows, _ in results:
            wr.writerows(rows)
    with open(os.path.join(out, "pages.csv"), "w", newline="", encoding="utf-8") as f:
        wr = csv.writer(f)
        wr.writerow(["source", "page", "profile", "effects", "zbar", "fiducials_on_image", "boxes_on_image"])
        for _, row in results:
            wr.writerow(row)
    print(f"wrote {out}/scans ({total} pages), truth.csv, pages.csv", file=sys.stderr)


if __name__ == "__main__":
    main()
