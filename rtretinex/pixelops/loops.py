"""The host executor's fused loops, compiled with numba: the fast YUV path's full-resolution
formulas (``reference`` states each; the tests hold these against it) and the gain grid's
splat and slice (``frame.schedule``).

At full resolution the work is per pixel and cheap; what costs time is the passes (OpenCV
needs one, and a full-size temporary, per operation: upsample a map, subtract, multiply,
add). Each function here reads its inputs once and writes its output once, upsampling the
low-resolution maps one row at a time into a buffer that stays in the cache.

The full-resolution loops take maps at chroma resolution (half the width and height) and
upsample them 2× bilinearly exactly as OpenCV's ``INTER_LINEAR`` does it (weights ¾ and
¼, edges repeated); the loops at chroma resolution take maps of any height already at
their width and interpolate between the maps' rows as INTER_LINEAR does (``_map_rows``,
``_map_at``). Compiled code is cached on disk: the first run on a machine compiles for
about five seconds, later runs load it.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from .formats import CHROMA_ZERO, LUMA, RGB_TO_YUV, Y_BLACK, YUV_TO_RGB
from .reference import (
    CAST_CHROMA,
    CHROMA_SMOOTH_GAINS,
    GREY_CHROMA,
    SHOULDER_START,
    SHOULDER_TOP,
    TINY,
)

__all__ = ["NEUTRAL_NIGHT", "GainConstants", "cast_added", "cast_removed", "compose_luma",
           "deblock", "gains_at_chroma", "grid_sums", "guided_rows", "lift_shares",
           "mixed_rows", "slice_grid", "smooth_chroma", "update_chroma", "update_luma"]

_NEAR, _FAR = np.float32(0.75), np.float32(0.25)  # INTER_LINEAR's 2× weights
_BLACK, _GREY = np.float32(Y_BLACK), np.float32(CHROMA_ZERO)
_TINY = np.float32(TINY)
_SMOOTH_FROM = np.float32(CHROMA_SMOOTH_GAINS[0])
_SMOOTH_SPAN = np.float32(CHROMA_SMOOTH_GAINS[1] - CHROMA_SMOOTH_GAINS[0])
_START, _TOP = np.float32(255.0 * SHOULDER_START), np.float32(255.0 * SHOULDER_TOP)
_GREY_CHROMA4 = np.float32(GREY_CHROMA**4)
_CAST_FROM = np.float32(CAST_CHROMA[0])
_CAST_SPAN = np.float32(1.0 / (CAST_CHROMA[1] - CAST_CHROMA[0]))
# ``gains_at_chroma``'s night corrections, off: black point 0, knee 0.
NEUTRAL_NIGHT = np.zeros(2, np.float32)


class GainConstants(NamedTuple):
    """What ``_gains_row`` multiplies by (float32): YUV → RGB (row-major ``r*``, ``g*``,
    ``b*`` on Y, U, V), RGB → YUV, the luma weights, and the night corrections."""

    ry: np.float32
    ru: np.float32
    rv: np.float32
    gy: np.float32
    gu: np.float32
    gv: np.float32
    by: np.float32
    bu: np.float32
    bv: np.float32
    yr: np.float32
    yg: np.float32
    yb: np.float32
    ur: np.float32
    ug: np.float32
    ub: np.float32
    vr: np.float32
    vg: np.float32
    vb: np.float32
    lr: np.float32
    lg: np.float32
    lb: np.float32
    black: np.float32
    knee: np.float32


def _compiled(function):
    """Compiled on first call, without the GIL; ``fastmath``: no NaN or infinity reaches
    these loops, and it lets min/max vectorize; NumPy's error model: no zero-division
    checks in the loops (every divisor is kept positive). Cached on disk where numba finds
    a writable place (beside the module, or the user's cache); compiled each run where it
    finds none."""
    try:
        return numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, fastmath=True, error_model="numpy")(function)


@_compiled
def _upsampled_row(low, row, edge_buffer, out):
    """Row ``row`` of ``low`` (h, w) upsampled 2× to (2h, 2w), into ``out`` (2w)."""
    height, width = low.shape
    i = row >> 1
    other = max(i - 1, 0) if row & 1 == 0 else min(i + 1, height - 1)
    for j in range(width):
        edge_buffer[j + 1] = _NEAR * low[i, j] + _FAR * low[other, j]
    edge_buffer[0], edge_buffer[width + 1] = edge_buffer[1], edge_buffer[width]
    for j in range(width):
        near = _NEAR * edge_buffer[j + 1]
        out[2 * j] = near + _FAR * edge_buffer[j]
        out[2 * j + 1] = near + _FAR * edge_buffer[j + 2]


@_compiled
def _filter_row(new, old, k, light, pivot):
    """One row of the temporal filter, in place: old ← previous + k·(new − previous), with
    previous = old under ``light`` times the light (scaled around ``pivot``)."""
    for x in range(new.shape[0]):
        previous = (old[x] - pivot) * light + pivot
        old[x] = previous + k[x] * (new[x] - previous)


@_compiled
def _update_luma(y, state, k_half, light):
    edge_buffer = np.empty(k_half.shape[1] + 2, np.float32)
    k = np.empty(y.shape[1], np.float32)
    for row in range(y.shape[0]):
        _upsampled_row(k_half, row, edge_buffer, k)
        _filter_row(y[row], state[row], k, light, _BLACK)


@_compiled
def _update_chroma(plane, state, k, light):
    for row in range(plane.shape[0]):
        _filter_row(plane[row], state[row], k[row], light, _GREY)


@_compiled
def _compose_luma(y, detail_half, base_half, out):
    height, width = y.shape
    edge_buffer = np.empty(detail_half.shape[1] + 2, np.float32)
    detail, base = np.empty(width, np.float32), np.empty(width, np.float32)
    for row in range(height):
        _upsampled_row(detail_half, row, edge_buffer, detail)
        _upsampled_row(base_half, row, edge_buffer, base)
        source, target = y[row], out[row]
        for x in range(width):
            target[x] = min(max(np.rint(source[x] * detail[x] + base[x]), 0.0), 255.0)


@_compiled
def _ramped(p1, p0, q0, q1, step_max, flat_max):
    """Four pixels across a block boundary (between ``p0`` and ``q0``): a step below
    ``step_max`` between two sides flat to within ``flat_max`` becomes a linear ramp;
    anything else comes back as it was."""
    if abs(p1 - p0) >= flat_max or abs(q1 - q0) >= flat_max:
        return p1, p0, q0, q1
    low = (p1 + p0) * np.float32(0.5)
    step = (q0 + q1) * np.float32(0.5) - low
    if abs(step) >= step_max:
        return p1, p0, q0, q1
    eighth = step * np.float32(0.125)
    return low + eighth, low + 3 * eighth, low + 5 * eighth, low + 7 * eighth


@_compiled
def _deblock(plane, spacing, step_max, flat_max):
    height, width = plane.shape
    for row in range(height):  # column boundaries
        line = plane[row]
        for x in range(spacing, width - 1, spacing):
            line[x - 2], line[x - 1], line[x], line[x + 1] = _ramped(
                line[x - 2], line[x - 1], line[x], line[x + 1], step_max, flat_max)
    for y in range(spacing, height - 1, spacing):  # row boundaries, four rows at a time
        r1, r0, s0, s1 = plane[y - 2], plane[y - 1], plane[y], plane[y + 1]
        for x in range(width):
            r1[x], r0[x], s0[x], s1[x] = _ramped(r1[x], r0[x], s0[x], s1[x], step_max,
                                                 flat_max)


@_compiled
def _lift_share(luma, black, knee):
    """``reference.lift_share`` of one pixel."""
    excess = max(luma - black, np.float32(0.0))  # no branch: the loops stay vectorized
    return min(excess * excess / max((excess + knee) * luma, _TINY), np.float32(1.0))


@_compiled
def _shoulder(peak_in, peak_out):
    """``reference.shoulder`` of one pixel (no branch, no call: the loop stays vectorized)."""
    peak_in = min(max(peak_in, np.float32(0.0)), np.float32(255.0))
    peak_out = max(peak_out, _TINY)
    knee = max(peak_in, _START)
    soft = max(peak_in, _TOP) - knee
    excess = max(peak_out - knee, np.float32(0.0))
    eased = min(peak_out, knee) + soft * excess / (soft + excess + _TINY)
    return min(eased / peak_out, np.float32(1.0))


@_compiled
def _colourfulness(y, u, v):
    """``reference.colourfulness`` of one pixel (one division)."""
    chroma = abs(u) + abs(v)
    luma = max(y, np.float32(1.0))
    power, grey = chroma * chroma, luma * luma
    power, grey = power * power, grey * grey * _GREY_CHROMA4
    return power / (power + grey)


@_compiled
def _lift_shares(luma, black, knee, out):
    for i in range(luma.shape[0]):
        out[i] = _lift_share(luma[i], black, knee)


@_compiled
def _gains_row(y, u, v, y_filtered, u_filtered, v_filtered, maps, c, out_u, out_v, detail_out,
               base_out, smooth_out):
    """One row of ``reference.gains_at_chroma``: Y, U, V and their filtered values (a row of
    each, read straight from the planes: copying them into one packed array first took a
    quarter more time), ``maps`` (4, w) the R, G, B gains and the denoise weight at this
    row, ``c`` the ``GainConstants``; writes U', V' (rounded), the detail gain, the base and
    the chroma smoothing's share."""
    zero, one, full = np.float32(0.0), np.float32(1.0), np.float32(255.0)
    ry, ru, rv, gy, gu, gv, by, bu, bv = c.ry, c.ru, c.rv, c.gy, c.gu, c.gv, c.by, c.bu, c.bv
    yr, yg, yb, ur, ug, ub, vr, vg, vb = c.yr, c.yg, c.yb, c.ur, c.ug, c.ub, c.vr, c.vg, c.vb
    lr, lg, lb, black, knee = c.lr, c.lg, c.lb, c.black, c.knee
    for x in range(y.shape[0]):
        y_old, u_old, v_old = np.float32(y[x]), np.float32(u[x]), np.float32(v[x])
        gain_r, gain_g, gain_b, weight = maps[0, x], maps[1, x], maps[2, x], maps[3, x]
        y0 = y_old + weight * (np.float32(y_filtered[x]) - y_old) - _BLACK
        u0 = u_old + weight * (np.float32(u_filtered[x]) - u_old) - _GREY
        v0 = v_old + weight * (np.float32(v_filtered[x]) - v_old) - _GREY
        red = ry * y0 + ru * u0 + rv * v0
        green = gy * y0 + gu * u0 + gv * v0
        blue = by * y0 + bu * u0 + bv * v0
        share = _lift_share(ry * y0, black, knee)  # ry = 255/219: Y − 16 as full-range luma
        lift_r = one + (gain_r - one) * share
        lift_g = one + (gain_g - one) * share
        lift_b = one + (gain_b - one) * share
        colour = _colourfulness(y0, u_old - _GREY, v_old - _GREY)  # its own chroma
        neutral = lr * lift_r + lg * lift_g + lb * lift_b
        lift_r = neutral + colour * (lift_r - neutral)
        lift_g = neutral + colour * (lift_g - neutral)
        lift_b = neutral + colour * (lift_b - neutral)
        eased = _shoulder(max(red, green, blue),
                          max(red * lift_r, green * lift_g, blue * lift_b))
        lift_r, lift_g, lift_b = lift_r * eased, lift_g * eased, lift_b * eased
        red = min(max(red * lift_r, zero), full)
        green = min(max(green * lift_g, zero), full)
        blue = min(max(blue * lift_b, zero), full)
        gain = lr * lift_r + lg * lift_g + lb * lift_b
        detail = gain * (one - weight)
        kept = (one + (max(gain, one) - one) * colour) / max(gain, one)
        out_u[x] = min(max(np.rint((ur * red + ug * green + ub * blue) * kept + _GREY), zero),
                       full)
        out_v[x] = min(max(np.rint((vr * red + vg * green + vb * blue) * kept + _GREY), zero),
                       full)
        detail_out[x] = detail
        base_out[x] = yr * red + yg * green + yb * blue + _BLACK - detail * y_old
        smooth_out[x] = min(max((gain - _SMOOTH_FROM) / _SMOOTH_SPAN, zero), one)


@_compiled
def _map_rows(row, height, map_rows):
    """The two rows of a map with ``map_rows`` rows, and their weights, that OpenCV's
    INTER_LINEAR blends for row ``row`` of ``height``."""
    position = max((row + 0.5) * (map_rows / height) - 0.5, 0.0)
    above = min(int(position), map_rows - 1)
    below = min(above + 1, map_rows - 1)
    lower = np.float32(position - above) if below > above else np.float32(0.0)
    return above, below, np.float32(1.0) - lower, lower


@_compiled
def _map_at(maps, index, rows, x):
    """Map ``index`` of ``maps`` at column ``x``, between the two of its rows (and by their
    weights) that ``rows`` (``_map_rows``) names."""
    above, below, upper, lower = rows
    return maps[index, above, x] * upper + maps[index, below, x] * lower


@_compiled
def _smooth_chroma(u, v, guide, maps, gate):
    height, width = u.shape
    zero, full = np.float32(0.0), np.float32(255.0)
    for row in range(height):
        rows = _map_rows(row, height, maps.shape[1])
        for x in range(width):
            a_u = _map_at(maps, 0, rows, x)
            b_u = _map_at(maps, 1, rows, x)
            a_v = _map_at(maps, 2, rows, x)
            b_v = _map_at(maps, 3, rows, x)
            share = _map_at(maps, 4, rows, x) * gate[row, x]
            g = np.float32(guide[row, x])
            own_u, own_v = np.float32(u[row, x]) - _GREY, np.float32(v[row, x]) - _GREY
            colour = _colourfulness(g - _BLACK, own_u, own_v)
            smooth_u, smooth_v = a_u * g + b_u - _GREY, a_v * g + b_v - _GREY
            greyer_u = min(max(smooth_u, min(own_u, zero)), max(own_u, zero))
            greyer_v = min(max(smooth_v, min(own_v, zero)), max(own_v, zero))
            to_u = greyer_u + colour * (smooth_u - greyer_u)
            to_v = greyer_v + colour * (smooth_v - greyer_v)
            u[row, x] = min(max(np.rint(own_u + share * (to_u - own_u) + _GREY), zero), full)
            v[row, x] = min(max(np.rint(own_v + share * (to_v - own_v) + _GREY), zero), full)


@_compiled
def _cast_removed(y, u, v, cast_u, cast_v, out_u, out_v, share):
    zero, one = np.float32(0.0), np.float32(1.0)
    inverse_size = one / (cast_u * cast_u + cast_v * cast_v)
    magnitude = abs(cast_u) + abs(cast_v)
    for row in range(y.shape[0]):
        for x in range(y.shape[1]):
            own_u, own_v = np.float32(u[row, x]), np.float32(v[row, x])
            along = ((own_u - _GREY) * cast_u + (own_v - _GREY) * cast_v) * inverse_size
            along = min(max(along, zero), one)
            ratio = magnitude / max(np.float32(y[row, x]) - _BLACK, _TINY)
            taken = along * min(max((ratio - _CAST_FROM) * _CAST_SPAN, zero), one)
            share[row, x] = taken
            out_u[row, x] = own_u - taken * cast_u
            out_v[row, x] = own_v - taken * cast_v


@_compiled
def _cast_added(plane, share, cast):
    for row in range(plane.shape[0]):
        for x in range(plane.shape[1]):
            value = np.rint(np.float32(plane[row, x]) + share[row, x] * cast)
            plane[row, x] = min(max(value, np.float32(0.0)), np.float32(255.0))


@_compiled
def _guided_rows(guide, maps, out):
    height, width = guide.shape
    for row in range(height):
        rows = _map_rows(row, height, maps.shape[1])
        for x in range(width):
            a = _map_at(maps, 0, rows, x)
            b = _map_at(maps, 1, rows, x)
            out[row, x] = a * guide[row, x] + b


@_compiled
def _mixed_rows(plane, maps):
    height, width = plane.shape
    for row in range(height):
        rows = _map_rows(row, height, maps.shape[1])
        for x in range(width):
            new = _map_at(maps, 0, rows, x)
            share = _map_at(maps, 1, rows, x)
            plane[row, x] += share * (new - plane[row, x])


@_compiled
def _gains_at_chroma(y_half, u, v, y_filtered, u_filtered, v_filtered, maps, constants,
                     out_u, out_v, detail_half, base_half, smooth_half):
    height, width = u.shape
    row_maps = np.empty((4, width), np.float32)
    for row in range(height):
        rows = _map_rows(row, height, maps.shape[1])
        for c in range(4):
            for x in range(width):
                row_maps[c, x] = _map_at(maps, c, rows, x)
        _gains_row(y_half[row], u[row], v[row], y_filtered[row], u_filtered[row],
                   v_filtered[row], row_maps, constants, out_u[row], out_v[row],
                   detail_half[row], base_half[row], smooth_half[row])


@_compiled
def _grid_sums(position, values, cell, sums):
    height, width = position.shape
    top = sums.shape[2] - 2
    for i in range(height):
        ci = i // cell
        for j in range(width):
            cj = j // cell
            p = position[i, j]
            k = min(int(p), top)
            upper = p - k
            lower = np.float32(1.0) - upper
            for c in range(3):
                sums[ci, cj, k, c] += lower * values[i, j, c]
                sums[ci, cj, k + 1, c] += upper * values[i, j, c]
            sums[ci, cj, k, 3] += lower
            sums[ci, cj, k + 1, 3] += upper


@_compiled
def _cell_coordinate(x, cell, cells):
    """(lower cell, upper cell, weight of the upper) of pixel ``x`` between cell centres,
    as INTER_LINEAR places them (edges repeated)."""
    at = (x + np.float32(0.5)) / cell - np.float32(0.5)
    if at <= 0:
        return 0, 0, np.float32(0.0)
    low = int(at)
    if low >= cells - 1:
        return cells - 1, cells - 1, np.float32(0.0)
    return low, low + 1, np.float32(at - low)


@_compiled
def _bilinear(grid, y0, y1, fy, x0, x1, fx, b, c):
    top = grid[y0, x0, b, c] + fx * (grid[y0, x1, b, c] - grid[y0, x0, b, c])
    bottom = grid[y1, x0, b, c] + fx * (grid[y1, x1, b, c] - grid[y1, x0, b, c])
    return top + fy * (bottom - top)


@_compiled
def _slice_grid(grid, position, cell, out):
    height, width = position.shape
    rows, columns, bins = grid.shape[0], grid.shape[1], grid.shape[2]
    for i in range(height):
        y0, y1, fy = _cell_coordinate(i, cell, rows)
        for j in range(width):
            x0, x1, fx = _cell_coordinate(j, cell, columns)
            p = position[i, j]
            k = min(int(p), bins - 2)
            upper = p - k
            for c in range(3):
                lower = _bilinear(grid, y0, y1, fy, x0, x1, fx, k, c)
                out[i, j, c] = lower + upper * (_bilinear(grid, y0, y1, fy, x0, x1, fx, k + 1, c)
                                                - lower)


def grid_sums(position: np.ndarray, values: np.ndarray, cell: int, bins: int) -> np.ndarray:
    """Each pixel's ``values`` (float32 h×w×3) splatted with tent weights at its bin
    ``position`` (float32 h×w, 0 to bins − 1) into the cells of ``cell``×``cell`` pixels:
    (cells high, cells wide, bins, 4) holding Σw·value per channel and Σw."""
    if position.shape != values.shape[:2] or values.shape[2] != 3:
        raise ValueError(f"positions {position.shape} do not fit values {values.shape}")
    height, width = position.shape
    sums = np.zeros((-(-height // cell), -(-width // cell), bins, 4), np.float32)
    _grid_sums(position, values, cell, sums)
    return sums


def slice_grid(grid: np.ndarray, position: np.ndarray, cell: int) -> np.ndarray:
    """The ``grid`` (cells high, cells wide, bins, 3) read at every pixel of an h×w frame:
    bilinear between the centres of its ``cell``-pixel cells, as INTER_LINEAR upsamples
    (edges repeated), and linear between bins at the pixel's ``position``."""
    out = np.empty((*position.shape, 3), np.float32)
    _slice_grid(np.ascontiguousarray(grid, np.float32), position, cell, out)
    return out


def _check_half(full: np.ndarray, half: np.ndarray) -> None:
    if full.shape != (2 * half.shape[0], 2 * half.shape[1]):
        raise ValueError(f"a {half.shape} map does not fit a {full.shape} plane at half size")


def update_luma(y: np.ndarray, state: np.ndarray, k_half: np.ndarray, light: float) -> None:
    """The temporal filter's step on the Y plane, in place: ``state`` (float32 H×W) ←
    previous + k·(``y`` − previous), where previous is ``state`` under ``light`` times the
    light (Y − 16 scales) and k is ``k_half`` (float32 H/2×W/2) upsampled."""
    _check_half(y, k_half)
    _update_luma(y, state, k_half, np.float32(light))


def update_chroma(plane: np.ndarray, state: np.ndarray, k: np.ndarray, light: float) -> None:
    """The same step on a chroma plane (U or V, with ``k`` at its size; the chroma
    scales around 128)."""
    if not plane.shape == state.shape == k.shape:
        raise ValueError(f"plane {plane.shape}, state {state.shape} and k {k.shape} differ")
    _update_chroma(plane, state, k, np.float32(light))


def compose_luma(y: np.ndarray, detail_half: np.ndarray, base_half: np.ndarray,
                 out: np.ndarray) -> None:
    """``out`` (uint8 H×W) ← round(``y`` · detail + base), clipped to 0-255, with the
    float32 H/2×W/2 maps ``detail_half`` and ``base_half`` upsampled."""
    _check_half(y, detail_half)
    _check_half(y, base_half)
    _compose_luma(y, detail_half, base_half, out)


def deblock(plane: np.ndarray, spacing: int, step_max: float, flat_max: float) -> None:
    """``reference.deblocked`` of a float32 plane, in place."""
    if plane.dtype != np.float32 or spacing < 4:
        raise ValueError(f"expected a float32 plane and spacing >= 4, got {plane.dtype}, "
                         f"{spacing}")
    _deblock(plane, spacing, np.float32(step_max), np.float32(flat_max))


def lift_shares(luma: np.ndarray, black: float, knee: float) -> np.ndarray:
    """``reference.lift_share`` of each value of a float32 array (any shape)."""
    flat = np.ascontiguousarray(luma, np.float32).reshape(-1)
    out = np.empty_like(flat)
    _lift_shares(flat, np.float32(black), np.float32(knee), out)
    return out.reshape(np.shape(luma))


def gains_at_chroma(y_half: np.ndarray, u: np.ndarray, v: np.ndarray, filtered: tuple,
                    maps: np.ndarray, out_u: np.ndarray, out_v: np.ndarray,
                    night: np.ndarray = NEUTRAL_NIGHT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``reference.gains_at_chroma`` in one pass over the chroma planes, with ``maps`` (4, h,
    W/2: the gains R, G, B and the denoise weight, at the gains' rows and the chroma width)
    interpolated between rows as INTER_LINEAR does. Writes U' and V' to ``out_u`` and
    ``out_v`` (uint8) and returns (detail, base, chroma smoothing share) at chroma
    resolution. ``night``: black point and knee (0, 0: the gains as they are)."""
    if not y_half.shape == u.shape == v.shape:
        raise ValueError(f"planes {y_half.shape}, {u.shape} and {v.shape} differ")
    if maps.shape[0] != 4 or maps.shape[2] != u.shape[1]:
        raise ValueError(f"maps {maps.shape} do not fit chroma planes {u.shape}")
    detail_half, base_half, smooth_half = (np.empty(u.shape, np.float32) for _ in range(3))
    night = np.asarray(night, np.float32)
    values = np.concatenate([np.ravel(YUV_TO_RGB), np.ravel(RGB_TO_YUV), LUMA,
                             night]).astype(np.float32)
    constants = GainConstants(*(np.float32(value) for value in values))
    _gains_at_chroma(y_half, u, v, *filtered, maps, constants, out_u, out_v, detail_half,
                     base_half, smooth_half)
    return detail_half, base_half, smooth_half


def cast_removed(y: np.ndarray, u: np.ndarray, v: np.ndarray, cast: tuple[float, float]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``reference.cast_removed`` in one pass: U and V (float32) with the share of a black
    level's ``cast`` each pixel holds taken off, and that share; planes of one size (Y
    float32, U and V uint8 or float32)."""
    if not y.shape == u.shape == v.shape:
        raise ValueError(f"planes {y.shape}, {u.shape} and {v.shape} differ")
    out_u, out_v, share = (np.empty(y.shape, np.float32) for _ in range(3))
    _cast_removed(y, u, v, np.float32(cast[0]), np.float32(cast[1]), out_u, out_v, share)
    return out_u, out_v, share


def cast_added(plane: np.ndarray, share: np.ndarray, cast: float) -> None:
    """A uint8 chroma ``plane`` ← ``reference.cast_added`` (``share`` of one plane's
    ``cast`` put back, rounded to codes), in place, one pass."""
    if plane.dtype != np.uint8 or plane.shape != share.shape:
        raise ValueError(f"expected a uint8 plane of the share's size {share.shape}, got "
                         f"{plane.dtype} {plane.shape}")
    _cast_added(plane, share, np.float32(cast))


def _check_maps(plane: np.ndarray, maps: np.ndarray, count: int) -> None:
    if plane.dtype != np.float32:
        raise ValueError(f"expected a float32 plane, got {plane.dtype}")
    if maps.ndim != 3 or maps.shape[0] != count or maps.shape[2] != plane.shape[1]:
        raise ValueError(f"maps {maps.shape} do not fit a {plane.shape} plane")


def guided_rows(guide: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """The guided filter's output a · ``guide`` + b (float32 planes), a and b in ``maps`` (2, h, W:
    at the guide's width and their own rows, interpolated as INTER_LINEAR), one pass."""
    _check_maps(guide, maps, 2)
    out = np.empty(guide.shape, np.float32)
    _guided_rows(guide, maps, out)
    return out


def mixed_rows(plane: np.ndarray, maps: np.ndarray) -> None:
    """A float32 ``plane`` ← ``reference.mixed(plane, new, share)`` in place, ``new`` and
    ``share`` in ``maps`` (2, h, W: at the plane's width and their own rows, interpolated as
    INTER_LINEAR), one pass."""
    _check_maps(plane, maps, 2)
    _mixed_rows(plane, maps)


def smooth_chroma(u: np.ndarray, v: np.ndarray, guide: np.ndarray, maps: np.ndarray,
                  gate: np.ndarray) -> None:
    """U and V (uint8) in place ← ``reference.chroma_smoothed``: a guided filter's result
    mixed in by a share, a near grey's only towards grey, one pass. ``guide`` (uint8) and
    ``gate`` (float32, a factor on the share) have their size; ``maps`` (5, h, W) holds a
    and b for U, a and b for V, and the share, at the planes' width and their own rows
    (interpolated as INTER_LINEAR)."""
    if (not u.shape == v.shape == guide.shape == gate.shape or maps.shape[0] != 5
            or maps.shape[2] != u.shape[1]):
        raise ValueError(f"planes {u.shape}, {v.shape}, guide {guide.shape} and maps "
                         f"{maps.shape} do not fit")
    _smooth_chroma(u, v, guide, maps, gate)
