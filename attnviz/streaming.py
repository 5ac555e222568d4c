"""Row statistics of softmax(scale q k^T) from running sums, without the n_q x n_k matrix.

The logits s are produced one tile at a time: a few queries (all batch elements) against a few
hundred keys, about _TILE_BYTES, so that the passes after the matrix product read the tile from
the core's L2 cache. Each tile goes through one product, one exp, and row sums of
e = exp(s - ref) and e * (s - ref) (plus, for the full statistics, the row max and sum of e^2).
Per-tile sums are float32 for float32 input (torch sums pairwise) and are added up across tiles
in float64. The reference ref is 0 when Cauchy-Schwarz bounds every |s| by _SAFE (exp can then
neither overflow nor leave the normal range): then the product is q k^T itself and nothing is
copied. Otherwise ref is the row's largest logit among its first keys: q gets an extra column
-ref and the keys, copied _CHUNK_KEYS at a time, a column of ones, so that the product yields
s - ref directly. A key that outgrows that ref until exp overflows (about 44 nats above it in
float32), or a row whose log Z ends up more than _RECENTER above it, makes the pass run again
with ref = the row's log Z (or its max).

Causal rows are top-left aligned, as in :func:`attnviz.attention.attention_weights` and torch's
``is_causal``: query i sees keys j <= i, also when n_q != n_k.
"""

from __future__ import annotations

import functools
import math

import torch

from . import _checks

_TILE_BYTES = 1 << 20  # bytes in one tile of logits
_TILE_KEYS = 512  # keys in one tile (at most ``block``; more when there are few queries)
_CHUNK_KEYS = 1 << 16  # keys given their column of ones at a time (bounds the copy of k)
_SAFE = {torch.float32: 30.0, torch.float64: 300.0}  # |s| below this: ref = 0 is safe
_RECENTER = 20.0  # log Z - ref above this (with a fitted ref): centre again, for float32 precision
_MASKED = -1e30  # a masked logit: exp gives exactly 0 and 0 * (-1e30) = 0 in the sums


def _prepare(q: torch.Tensor, k: torch.Tensor, scale: float | None, causal: bool, block: int) -> dict:
    """Check the arguments of the streaming functions; flatten the batch dims into one."""
    batch = _checks.qk(q, k, real=True)
    (n_q, d), n_k = q.shape[-2:], k.shape[-2]
    if n_k == 0:
        raise ValueError("k must hold at least one key (n_k >= 1)")
    if not isinstance(causal, bool):
        raise ValueError(f"causal must be True or False, got {causal!r}")
    block = _checks.positive_int("block", block)
    scale = 1.0 / math.sqrt(d) if scale is None else _checks.real_number("scale", scale)
    work = q.dtype if q.dtype in (torch.float32, torch.float64) else torch.float32
    norms = {}
    for name, x in (("q", q), ("k", k)):  # row norms: finite norms mean finite entries (one pass)
        norms[name] = torch.linalg.vector_norm(x, dim=-1, dtype=work)  # (..., n)
        if not bool(torch.isfinite(norms[name]).all()):
            _checks.finite(name, x)  # raises, unless the norm only overflowed
    size = math.prod(batch)  # B: the batch dims flattened
    q3 = (q.to(work) * scale).expand(*batch, n_q, d).reshape(size, n_q, d)  # (B, n_q, d), scaled
    k3 = k.to(work)
    shared = math.prod(k.shape[:-2]) == 1
    k3 = k3.reshape(1, n_k, d) if shared else k3.expand(*batch, n_k, d).reshape(size, n_k, d)  # (B or 1, n_k, d)
    bound = abs(scale) * norms["q"] * norms["k"].amax(-1, keepdim=True)  # (..., n_q) >= |s| on each row
    safe = bool((bound <= _SAFE[work]).all())
    return {"q": q3, "k": k3, "safe": safe, "causal": causal, "block": block, "batch": batch, "dtype": q.dtype}


def _rows_seen(n_q: int, n_k: int, causal: bool, device: torch.device) -> torch.Tensor:
    """Number of keys each query sees, (n_q,) int64."""
    if not causal:
        return torch.full((n_q,), n_k, dtype=torch.int64, device=device)
    return torch.arange(1, n_q + 1, device=device).clamp_(max=n_k)


def _sweep(qs: torch.Tensor, k3: torch.Tensor, causal: bool, block: int, what: str, ref: str) -> torch.Tensor:
    """One pass over all keys for the scaled queries ``qs`` (B, n_q, d') and keys k3 (B or 1, n_k, d).

    ``ref``: "zero" (d' = d, the logits are used as they are), "column" (d' = d + 1 and
    qs[..., d] = -ref: the keys get a column of ones) or "set" (as "column", with qs[..., d] = 0
    on entry: ref becomes the row max over the first tile of keys, written into qs). Returns
    float64 (slots, B, n_q): what="sums": sum of e = exp(s - ref) and of e (s - ref); "all":
    those, the sum of e^2 and the row max of s - ref; "max": the row max of s - ref only.
    """
    size, n_q, d1 = qs.shape  # B, n_q, d' (d or d + 1)
    n_k, d, dtype, dev = k3.shape[1], k3.shape[2], qs.dtype, qs.device
    per_query = qs.element_size() * size  # bytes of one logit across the batch
    tq = max(1, min(n_q, _TILE_BYTES // (per_query * min(block, n_k, _TILE_KEYS))))  # queries per tile
    b = min(block, n_k, max(_TILE_KEYS, _TILE_BYTES // (per_query * tq)))  # keys per tile (few queries: wider)
    chunk = max(b, _CHUNK_KEYS // b * b)  # keys per chunk, a multiple of b
    slots = {"max": ("max",), "sums": ("z", "w"), "all": ("z", "w", "z2", "max")}[what]
    z, w, z2, mx = (slots.index(s) if s in slots else None for s in ("z", "w", "z2", "max"))
    n_blocks = -(-min(chunk, n_k) // b)  # tiles per chunk
    part = torch.empty(n_blocks, len(slots), size * tq, dtype=dtype, device=dev)  # (tiles, slots, B * tq)
    total = torch.zeros(len(slots), size, n_q, dtype=torch.float64, device=dev)  # (slots, B, n_q)
    if mx is not None:
        total[mx] = -math.inf
    s_buf = torch.empty(size * tq * b, dtype=dtype, device=dev)  # (B * tq * b,) logits of one tile
    e_buf = torch.empty_like(s_buf)  # (B * tq * b,) their exponentials
    lead = () if size == 1 else (size,)  # one batch element: 2-D products (a little faster)
    qs2 = qs[0] if size == 1 else qs  # (*lead, n_q, d')
    if ref != "zero":
        ka = torch.empty(k3.shape[0], min(chunk, n_k), d1, dtype=dtype, device=dev)  # (B or 1, chunk, d + 1)
        ka[..., d] = 1.0  # a column of ones: the product subtracts ref
    tiles: dict = {}  # (m, width) -> views of the two tile buffers, shaped (*lead, m, width)
    outs: dict = {}  # m -> per block, per slot: (*lead, m) views of part
    for c0 in range(0, min(n_k, n_q) if causal else n_k, chunk):  # causal: keys j >= n_q are unseen
        c1 = min(n_k, c0 + chunk)
        if ref != "zero":
            ka[:, : c1 - c0, :d] = k3[:, c0:c1]
        keys = k3[:, c0:c1] if ref == "zero" else ka[:, : c1 - c0]  # (B or 1, c1 - c0, d')
        keys = keys[0] if keys.shape[0] == 1 and size == 1 else keys
        key_tiles = [keys[..., j : j + b, :].mT for j in range(0, c1 - c0, b)]  # each (B or 1, d', <= b)
        for i0 in range(0, n_q, tq):
            i1 = min(n_q, i0 + tq)
            m, qt, used = i1 - i0, qs2[..., i0:i1, :], 0  # qt (*lead, m, d')
            if m not in outs:
                outs[m] = [[p[: size * m].view(*lead, m) for p in blk] for blk in part]
            for used, j0 in enumerate(range(c0, c1, b)):
                width = min(b, c1 - j0)
                kt = key_tiles[used]  # (B or 1, d', width)
                if causal and j0 + width > i1:  # keys j >= i1 are hidden from every query of the tile
                    if j0 >= i1:
                        break
                    width, kt = i1 - j0, kt[..., :, : i1 - j0]
                if (m, width) not in tiles:
                    n = size * m * width
                    tiles[m, width] = (s_buf[:n].view(*lead, m, width), e_buf[:n].view(*lead, m, width))
                s, e = tiles[m, width]  # (*lead, m, width) each
                out = outs[m][used]  # per slot, (*lead, m)
                torch.matmul(qt, kt, out=s)  # (*lead, m, d') @ (B or 1, d', width): s - ref
                if causal and j0 + width - 1 > i0:  # the tile crosses the diagonal
                    hidden = torch.arange(j0, j0 + width, device=dev) > torch.arange(i0, i1, device=dev)[:, None]
                    s.masked_fill_(hidden, _MASKED)  # hidden (m, width): key j after query i
                if ref == "set" and j0 == 0:  # every query sees key 0, so this max is finite
                    row_max = s.amax(-1)  # (*lead, m)
                    s.sub_(row_max[..., None])
                    qt[..., d] = -row_max
                if mx is not None:
                    torch.amax(s, -1, out=out[mx])
                if z is not None:
                    torch.exp(s, out=e)
                    torch.sum(e, -1, out=out[z])
                    if z2 is not None:
                        torch.linalg.vector_norm(e, dim=-1, out=out[z2])
                    torch.sum(s.mul_(e), -1, out=out[w])
            else:
                used += 1
            if used == 0:  # causal: the whole chunk lies beyond this tile's queries
                continue
            got = part[:used, :, : size * m].view(used, len(slots), size, m)  # (tiles, slots, B, m)
            tile = total[:, :, i0:i1]  # (slots, B, m)
            for slot in (z, w):
                if slot is not None:
                    tile[slot] += got[:, slot].double().sum(0)
            if z2 is not None:
                tile[z2] += got[:, z2].double().square().sum(0)
            if mx is not None:
                torch.maximum(tile[mx], got[:, mx].amax(0).double(), out=tile[mx])
    return total


@torch.no_grad()  # statistics for reading, not training: no graph of n_q x n_k tiles
def _streaming(q: torch.Tensor, k: torch.Tensor, scale, causal, block, full: bool) -> dict:
    """log Z, entropy and (``full``) sum of p^2 and max logit of the rows, float64, batch flattened."""
    args = _prepare(q, k, scale, causal, block)
    q3, k3, what = args["q"], args["k"], "all" if full else "sums"  # (B, n_q, d), (B or 1, n_k, d)
    sweep = functools.partial(_sweep, k3=k3, causal=args["causal"], block=args["block"])
    if args["safe"]:  # every |s| <= _SAFE: no reference needed
        ref = torch.zeros(q3.shape[:2], dtype=torch.float64, device=q3.device)  # (B, n_q)
        total = sweep(q3, what=what, ref="zero")  # (slots, B, n_q)
    else:
        qa = torch.cat([q3, torch.zeros_like(q3[..., :1])], -1)  # (B, n_q, d + 1), column d = -ref
        total = sweep(qa, what=what, ref="set")
        ref = -qa[..., -1].double()  # (B, n_q)
        log_z1 = total[0].log()  # (B, n_q) log Z - ref
        if not bool((torch.isfinite(total).all(0) & (log_z1 <= _RECENTER)).all()):
            if bool(torch.isfinite(log_z1).all()):  # a key outgrew ref: centre again at log Z
                ref = ref + log_z1
            else:  # exp overflowed: centre at the row max (from this pass, or one more)
                peak = total[-1] if full else sweep(qa, what="max", ref="column")[0]
                ref = ref + torch.where(torch.isfinite(log_z1), log_z1, peak)
            qa[..., -1] = -ref
            ref = -qa[..., -1].double()  # as rounded to q's dtype
            total = sweep(qa, what=what, ref="column")
    n_q, n_k = q3.shape[1], k3.shape[1]
    seen = _rows_seen(n_q, n_k, args["causal"], q3.device)  # (n_q,)
    log_z1, log_n = total[0].log(), seen.double().log()  # rounding cannot leave 0 <= H <= log n
    stats = {"log_z": ref + log_z1, "entropy": torch.minimum(log_z1 - total[1] / total[0], log_n).clamp_(min=0.0)}
    if full:  # 1 / n <= sum p^2 <= 1
        stats["sum_p2"] = torch.maximum(total[2] / total[0].square(), 1.0 / seen.double()).clamp_(max=1.0)
        stats["max_logit"] = ref + total[3]
    return stats | {"batch": args["batch"], "dtype": args["dtype"], "n_q": n_q, "n_k": n_k, "seen": seen}


def _out(x: torch.Tensor, info: dict) -> torch.Tensor:
    return x.to(info["dtype"]).reshape(*info["batch"], info["n_q"])  # (B, n_q) -> (..., n_q)


def streaming_softmax_stats(
    q: torch.Tensor,
    k: torch.Tensor,
    *,
    scale: float | None = None,
    causal: bool = False,
    block: int = 4096,
) -> tuple[torch.Tensor, torch.Tensor]:
    """log Z and entropy of softmax(scale q k^T) rows (..., n_q), keys read in blocks. Chapter: entropy-invariant-scale.

    The n_q x n_k matrix is never formed: tiles of at most ``block`` keys (about 1 MiB) feed running
    sums Z = sum exp(s - ref) and W = sum exp(s - ref)(s - ref) per row, so log Z = ref + log Z and
    H = log Z - W / Z (the module docstring says how ref is chosen). Extra memory is O(n_q d + tile);
    for float32 input the entropy is within about 1e-6 of the float64 value. ``scale`` defaults to
    1/sqrt(d) as in :func:`attnviz.attention.scores`; ``causal`` lets query i see keys j <= i,
    top-left aligned as in :func:`attnviz.attention.attention_weights` and torch's ``is_causal``,
    also when n_q != n_k (query i sees min(i + 1, n_k) keys). Batch dims of q (..., n_q, d) and
    k (..., n_k, d) broadcast. Results have q's dtype (float16/bfloat16 are computed in float32)
    and carry no gradient.
    """
    res = _streaming(q, k, scale, causal, block, full=False)
    return _out(res["log_z"], res), _out(res["entropy"], res)


def streaming_row_entropy(
    q: torch.Tensor,
    k: torch.Tensor,
    *,
    scale: float | None = None,
    causal: bool = False,
    block: int = 4096,
) -> torch.Tensor:
    """Entropy of softmax(scale q k^T) rows, (..., n_q), never forming n_q x n_k. Chapter: performance (appendix).

    Arguments and conventions (causal: query i sees keys j <= i, top-left aligned) as in
    :func:`streaming_softmax_stats`.
    """
    return streaming_softmax_stats(q, k, scale=scale, causal=causal, block=block)[1]


def streaming_row_stats(
    q: torch.Tensor,
    k: torch.Tensor,
    *,
    scale: float | None = None,
    causal: bool = False,
    block: int = 4096,
) -> dict[str, torch.Tensor]:
    """Row statistics of softmax(scale q k^T) from running sums, no n_q x n_k matrix. Chapter: performance (appendix).

    Returns a dict of (..., n_q) tensors: "log_z" (log-sum-exp of the logits), "entropy" (nats),
    "sum_p2" (sum of p^2), "participation_ratio" (1 / sum p^2 = e^{H_2}), "max_p" (largest
    weight, e^{-H_inf}), "max_logit", and "n_keys" (keys the row sees, int64). The pass of
    :func:`streaming_softmax_stats` plus two more running quantities per row, the sum of
    exp(2 (s - ref)) and the max; same arguments, conventions (causal: query i sees keys j <= i,
    top-left aligned) and dtype rules. In exact arithmetic
    1 <= 1 / max_p <= participation_ratio <= exp(entropy) <= n_keys; against rounding, entropy is
    clamped to [0, log n_keys] and sum_p2 and max_p to [1 / n_keys, 1].
    """
    res = _streaming(q, k, scale, causal, block, full=True)
    log_z, sum_p2, seen = res["log_z"], res["sum_p2"], res["seen"]  # (B, n_q), (B, n_q), (n_q,)
    return {
        "log_z": _out(log_z, res),
        "entropy": _out(res["entropy"], res),
        "sum_p2": _out(sum_p2, res),
        "participation_ratio": _out(1.0 / sum_p2, res),
        "max_p": _out(torch.maximum((res["max_logit"] - log_z).exp(), 1.0 / seen.double()).clamp_(max=1.0), res),
        "max_logit": _out(res["max_logit"], res),
        "n_keys": seen.expand(*res["batch"], res["n_q"]).clone(),
    }
