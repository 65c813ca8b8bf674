"""The compiled CPU pass of ``color.soft_encode`` (numba). Only ``color`` calls it; the table it reads, and why
the table's answer is exact, are in ``color._pass_table``."""

from __future__ import annotations

import numba
import numpy as np

_BLOCK = 1024  # points per block: the block's (k, _BLOCK) float32 planes stay in the L1/L2 cache
_LOG2E = np.float32(1.4426950408889634)


@numba.njit(cache=True, fastmath=True, boundscheck=False, error_model="numpy")
def soft_pass(pa, pb, k, side, inv_step, extent, rows, rows_a, rows_b, n_core, n_open, scale, idx, weight, rest):
    """Write the k nearest bins of each point (pa[i], pb[i]) (float32) into ``idx[:, i]`` (int64) and their
    Gaussian weights exp(scale * d^2), normalised, into ``weight[:, i]``; the indices of the points past the
    table (or NaN) go to ``rest``, and the count of them is returned. A point equidistant from its k-th and
    (k+1)-th bins (a set of measure zero) may get either. exp is Cephes' single-precision polynomial (relative
    error ~1e-7), so that its loop vectorises."""
    n = pa.shape[0]
    d2 = np.empty((k, _BLOCK), np.float32)
    low = np.empty(_BLOCK, np.float32)
    total = np.empty(_BLOCK, np.float32)
    bits = np.empty(_BLOCK, np.int32)
    power = bits.view(np.float32)  # 2^q, built in its exponent bits
    open_d2 = np.empty(rows.shape[1], np.float32)
    open_bin = np.empty(rows.shape[1], np.int64)
    n_rest = 0
    for start in range(0, n, _BLOCK):
        m = min(start + _BLOCK, n) - start
        for i in range(m):
            a = pa[start + i]
            b = pb[start + i]
            u = (a + extent) * inv_step
            v = (b + extent) * inv_step
            c = 0
            if u >= 0 and u < side and v >= 0 and v < side:  # False for NaN
                c = int(u) * side + int(v)
            else:
                rest[n_rest] = start + i
                n_rest += 1
            for t in range(k - 1):  # the first k - 1 places: core bins (on real photos almost always)
                da = a - rows_a[c, t]
                db = b - rows_b[c, t]
                d2[t, i] = da * da + db * db
                idx[t, start + i] = rows[c, t]
            core = n_core[c]
            if core >= k - 1:  # the last place: the k-th core bin, or the nearest open one
                count = 1 if core >= k else max(1, n_open[c])
                best = np.int64(rows[c, k - 1])
                da = a - rows_a[c, k - 1]
                db = b - rows_b[c, k - 1]
                best_d2 = da * da + db * db
                for o in range(k, k - 1 + count):
                    j = np.int64(rows[c, o])
                    da = a - rows_a[c, o]
                    db = b - rows_b[c, o]
                    dj = da * da + db * db
                    better = dj < best_d2
                    best_d2 = dj if better else best_d2
                    best = j if better else best
                d2[k - 1, i] = best_d2
                idx[k - 1, start + i] = best
            else:  # several open places: the nearest open bins, one at a time
                count = n_open[c]
                for o in range(count):
                    da = a - rows_a[c, core + o]
                    db = b - rows_b[c, core + o]
                    open_d2[o] = da * da + db * db
                    open_bin[o] = rows[c, core + o]
                for t in range(core, k):
                    pick = 0
                    for o in range(1, count):
                        if open_d2[o] < open_d2[pick]:
                            pick = o
                    d2[t, i] = open_d2[pick]
                    idx[t, start + i] = open_bin[pick]
                    count -= 1
                    open_d2[pick] = open_d2[count]
                    open_bin[pick] = open_bin[count]
        for i in range(m):
            low[i] = d2[0, i]
            total[i] = 0
        for t in range(1, k):
            for i in range(m):
                low[i] = min(low[i], d2[t, i])
        for t in range(k):
            for i in range(m):
                x = max((d2[t, i] - low[i]) * scale, np.float32(-87.0))  # exp(x) = 2^q exp(r), |r| <= ln2 / 2
                q = np.floor(x * _LOG2E + np.float32(0.5))
                r = x - q * np.float32(0.693359375) - q * np.float32(-2.12194440e-4)
                p = np.float32(1.9875691500e-4)
                p = p * r + np.float32(1.3981999507e-3)
                p = p * r + np.float32(8.3334519073e-3)
                p = p * r + np.float32(4.1665795894e-2)
                p = p * r + np.float32(1.6666665459e-1)
                p = p * r + np.float32(5.0000001201e-1)
                p = p * r * r + r + np.float32(1.0)
                bits[i] = (np.int32(q) + np.int32(127)) << 23
                e = p * power[i]
                d2[t, i] = e
                total[i] += e
        for i in range(m):
            total[i] = np.float32(1.0) / total[i]
        for t in range(k):
            for i in range(m):
                weight[t, start + i] = d2[t, i] * total[i]
    return n_rest
