"""Row statistics of attention distributions: entropy and effective support."""

from __future__ import annotations

import functools
import math

import torch

from . import _checks


def _sum_tolerance(p: torch.Tensor, n: int) -> float:
    return max(1e-6, 4 * n * torch.finfo(p.dtype).eps)


def entropy(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Shannon entropy in nats along ``dim`` of probabilities p, with 0 log 0 = 0. Chapter: rope-rotation.

    ``p`` must be non-negative and sum to 1 along ``dim`` (masked entries are zeros). For logits
    use :func:`entropy_from_logits`.
    """
    _checks.tensor("p", p)
    _checks.finite("p", p)
    if bool((p < 0).any()):
        raise ValueError("p must be non-negative (probabilities); for logits use entropy_from_logits")
    total = p.sum(dim)
    if bool(((total - 1).abs() > _sum_tolerance(p, p.shape[dim])).any()):
        worst = float((total - 1).abs().max())
        raise ValueError(f"p must sum to 1 along dim={dim} (worst row is off by {worst:.3g})")
    plogp = torch.where(p > 0, p * torch.log(torch.where(p > 0, p, 1)), 0)
    return -plogp.sum(dim)


def entropy_from_logits(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Entropy in nats of softmax(logits) along ``dim``; -inf entries are masked keys. Chapter: rope-rotation."""
    _checks.tensor("logits", logits)
    if bool(torch.isnan(logits).any()) or bool((logits == float("inf")).any()):
        raise ValueError("logits must not contain nan or +inf (-inf marks a masked key)")
    if bool(torch.isneginf(logits).all(dim).any()):
        raise ValueError(f"every entry of some row of logits along dim={dim} is -inf: nothing to attend to")
    logp = torch.log_softmax(logits, dim)
    p = logp.exp()
    return -torch.where(p > 0, p * logp, 0).sum(dim)


def effective_support(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Effective number of keys exp(entropy(p)), between 1 (one-hot) and n (uniform). Chapter: rope-rotation."""
    return entropy(p, dim).exp()


# --- streaming row statistics -------------------------------------------------------------------
# The n_q x n_k logits s are produced one tile at a time: a few queries (all batch elements)
# against a few hundred keys, about _TILE_BYTES, so that the passes after the matrix product read
# the tile from the core's L2 cache. Each tile goes through one product, one exp, and row sums of
# e = exp(s - ref) and e * (s - ref) (plus, for the full statistics, the row max and sum of e^2).
# Per-tile sums are float32 for float32 input (torch sums pairwise) and are added up across tiles
# in float64. The reference ref is 0 when Cauchy-Schwarz bounds every |s| by _SAFE (exp can then
# neither overflow nor leave the normal range): then the product is q k^T itself and nothing is
# copied. Otherwise ref is the row's largest logit among its first keys: q gets an extra column
# -ref and the keys, copied _CHUNK_KEYS at a time, a column of ones, so that the product yields
# s - ref directly. A key that outgrows that ref until exp overflows (about 44 nats above it in
# float32), or a row whose log Z ends up more than _RECENTER above it, makes the pass run again
# with ref = the row's log Z (or its max).

_TILE_BYTES = 1 << 20  # bytes in one tile of logits
_TILE_KEYS = 512  # keys in one tile (at most ``block``; more when there are few queries)
_CHUNK_KEYS = 1 << 16  # keys given their column of ones at a time (bounds the copy of k)
_SAFE = {torch.float32: 30.0, torch.float64: 300.0}  # |s| below this: ref = 0 is safe
_RECENTER = 20.0  # log Z - ref above this (with a fitted ref): centre again, for float32 precision
_MASKED = -1e30  # a masked logit: exp gives exactly 0 and 0 * (-1e30) = 0 in the sums


def _check_block(block: int) -> int:
    return _checks.positive_int("block", block)


def _prepare(q: torch.Tensor, k: torch.Tensor, scale: float | None, causal: bool, block: int) -> dict:
    """Check the arguments of the streaming functions; flatten the batch dims into one."""
    _checks.tensor("q", q, min_dim=2)
    _checks.tensor("k", k, min_dim=2)
    for name, x in (("q", q), ("k", k)):
        if x.is_complex():
            raise ValueError(f"{name} must be real, got {x.dtype}")
    if q.dtype != k.dtype:
        raise ValueError(f"q and k must share a dtype, got {q.dtype} and {k.dtype}")
    (n_q, d), (n_k, d_k) = q.shape[-2:], k.shape[-2:]
    if d != d_k:
        raise ValueError(f"q and k must share the head dimension d, got {d} and {d_k}")
    if d == 0:
        raise ValueError("q and k must have a head dimension d >= 1, got 0")
    if n_k == 0:
        raise ValueError("k must hold at least one key (n_k >= 1)")
    try:
        batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    except RuntimeError:
        raise ValueError(f"batch shapes of q {tuple(q.shape)} and k {tuple(k.shape)} do not broadcast") from None
    if not isinstance(causal, bool):
        raise ValueError(f"causal must be True or False, got {causal!r}")
    block = _check_block(block)
    scale = 1.0 / math.sqrt(d) if scale is None else _checks.real_number("scale", scale)
    work = q.dtype if q.dtype in (torch.float32, torch.float64) else torch.float32
    norms = {}
    for name, x in (("q", q), ("k", k)):  # row norms: finite norms mean finite entries (one pass)
        norms[name] = torch.linalg.vector_norm(x, dim=-1, dtype=work)
        if not bool(torch.isfinite(norms[name]).all()):
            _checks.finite(name, x)  # raises, unless the norm only overflowed
    size = math.prod(batch)
    q3 = (q.to(work) * scale).expand(*batch, n_q, d).reshape(size, n_q, d)
    k3 = k.to(work)
    k3 = k3.reshape(1, n_k, d) if math.prod(k.shape[:-2]) == 1 else k3.expand(*batch, n_k, d).reshape(size, n_k, d)
    bound = abs(scale) * norms["q"] * norms["k"].amax(-1, keepdim=True)  # >= |s| on each row
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
    size, n_q, d1 = qs.shape
    n_k, d, dtype, dev = k3.shape[1], k3.shape[2], qs.dtype, qs.device
    per_query = qs.element_size() * size  # bytes of one logit across the batch
    tq = max(1, min(n_q, _TILE_BYTES // (per_query * min(block, n_k, _TILE_KEYS))))
    b = min(block, n_k, max(_TILE_KEYS, _TILE_BYTES // (per_query * tq)))  # few queries: wider tiles
    chunk = max(b, _CHUNK_KEYS // b * b)
    slots = {"max": ("max",), "sums": ("z", "w"), "all": ("z", "w", "z2", "max")}[what]
    z, w, z2, mx = (slots.index(s) if s in slots else None for s in ("z", "w", "z2", "max"))
    n_blocks = -(-min(chunk, n_k) // b)
    part = torch.empty(n_blocks, len(slots), size * tq, dtype=dtype, device=dev)
    total = torch.zeros(len(slots), size, n_q, dtype=torch.float64, device=dev)
    if mx is not None:
        total[mx] = -math.inf
    s_buf = torch.empty(size * tq * b, dtype=dtype, device=dev)
    e_buf = torch.empty_like(s_buf)
    lead = () if size == 1 else (size,)  # one batch element: 2-D products (a little faster)
    qs2 = qs[0] if size == 1 else qs
    if ref != "zero":
        ka = torch.empty(k3.shape[0], min(chunk, n_k), d1, dtype=dtype, device=dev)
        ka[..., d] = 1.0  # a column of ones: the product subtracts ref
    tiles: dict = {}  # (m, width) -> views of the two tile buffers, shaped (*lead, m, width)
    outs: dict = {}  # m -> per block, per slot: (*lead, m) views of part
    for c0 in range(0, min(n_k, n_q) if causal else n_k, chunk):  # causal: keys j >= n_q are unseen
        c1 = min(n_k, c0 + chunk)
        if ref != "zero":
            ka[:, : c1 - c0, :d] = k3[:, c0:c1]
        keys = k3[:, c0:c1] if ref == "zero" else ka[:, : c1 - c0]
        keys = keys[0] if keys.shape[0] == 1 and size == 1 else keys
        key_tiles = [keys[..., j : j + b, :].mT for j in range(0, c1 - c0, b)]
        for i0 in range(0, n_q, tq):
            i1 = min(n_q, i0 + tq)
            m, qt, used = i1 - i0, qs2[..., i0:i1, :], 0
            if m not in outs:
                outs[m] = [[p[: size * m].view(*lead, m) for p in blk] for blk in part]
            for used, j0 in enumerate(range(c0, c1, b)):
                width = min(b, c1 - j0)
                kt = key_tiles[used]
                if causal and j0 + width > i1:  # keys j >= i1 are hidden from every query of the tile
                    if j0 >= i1:
                        break
                    width, kt = i1 - j0, kt[..., :, : i1 - j0]
                if (m, width) not in tiles:
                    n = size * m * width
                    tiles[m, width] = (s_buf[:n].view(*lead, m, width), e_buf[:n].view(*lead, m, width))
                s, e = tiles[m, width]
                out = outs[m][used]
                torch.matmul(qt, kt, out=s)
                if causal and j0 + width - 1 > i0:  # the tile crosses the diagonal
                    hidden = torch.arange(j0, j0 + width, device=dev) > torch.arange(i0, i1, device=dev)[:, None]
                    s.masked_fill_(hidden, _MASKED)
                if ref == "set" and j0 == 0:  # every query sees key 0, so this max is finite
                    row_max = s.amax(-1)
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
            got = part[:used, :, : size * m].view(used, len(slots), size, m)
            tile = total[:, :, i0:i1]
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
    q3, k3, what = args["q"], args["k"], "all" if full else "sums"
    sweep = functools.partial(_sweep, k3=k3, causal=args["causal"], block=args["block"])
    if args["safe"]:  # every |s| <= _SAFE: no reference needed
        ref = torch.zeros(q3.shape[:2], dtype=torch.float64, device=q3.device)
        total = sweep(q3, what=what, ref="zero")
    else:
        qa = torch.cat([q3, torch.zeros_like(q3[..., :1])], -1)  # (B, n_q, d + 1), column d = -ref
        total = sweep(qa, what=what, ref="set")
        ref = -qa[..., -1].double()
        log_z1 = total[0].log()
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
    seen = _rows_seen(n_q, n_k, args["causal"], q3.device)
    log_z1, log_n = total[0].log(), seen.double().log()  # rounding cannot leave 0 <= H <= log n
    stats = {"log_z": ref + log_z1, "entropy": torch.minimum(log_z1 - total[1] / total[0], log_n).clamp_(min=0.0)}
    if full:  # 1 / n <= sum p^2 <= 1
        stats["sum_p2"] = torch.maximum(total[2] / total[0].square(), 1.0 / seen).clamp_(max=1.0)
        stats["max_logit"] = ref + total[3]
    return stats | {"batch": args["batch"], "dtype": args["dtype"], "n_q": n_q, "n_k": n_k, "seen": seen}


def _out(x: torch.Tensor, info: dict) -> torch.Tensor:
    return x.to(info["dtype"]).reshape(*info["batch"], info["n_q"])


def streaming_softmax_stats(
    q: torch.Tensor,
    k: torch.Tensor,
    *,
    scale: float | None = None,
    causal: bool = False,
    block: int = 4096,
) -> tuple[torch.Tensor, torch.Tensor]:
    """log Z and entropy of softmax(scale q k^T) rows (..., n_q), keys read in blocks. Chapter: entropy-invariant-scale.

    The n_q x n_k matrix is never formed. The logits are made a tile at a time (a few hundred
    keys, never more than ``block``; about 1 MiB, so extra memory is O(n_q d + tile)) and every
    row keeps the running sums Z = sum exp(s - ref) and W = sum exp(s - ref)(s - ref), so that
    log Z = ref + log Z and H = log Z - W / Z at the end. ref is 0 when |scale| |q_i| max|k_j|
    bounds the logits safely, else the row's largest early logit (the pass is redone about log Z
    if later keys outgrow it). Sums within a tile are in q's dtype, across tiles in float64; for
    float32 input the entropy is within about 1e-6 of the float64 value (the appendix
    "Performance" measures it). ``scale`` defaults to 1/sqrt(d) as in
    :func:`attnviz.attention.scores`; ``causal`` lets query i see keys j <= i, top-left aligned as
    in :func:`attnviz.attention.attention_weights` and torch's ``is_causal``, also when
    n_q != n_k (query i sees min(i + 1, n_k) keys). Batch dims of q (..., n_q, d) and
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
    """Entropy of softmax(scale q k^T) rows, (..., n_q), never forming n_q x n_k. Chapter: entropy-invariant-scale."""
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
    exp(2 (s - ref)) and the max; same arguments, conventions and dtype rules. In exact arithmetic
    1 <= 1 / max_p <= participation_ratio <= exp(entropy) <= n_keys; against rounding, entropy is
    clamped to [0, log n_keys] and sum_p2 and max_p to [1 / n_keys, 1].
    """
    res = _streaming(q, k, scale, causal, block, full=True)
    log_z, sum_p2, seen = res["log_z"], res["sum_p2"], res["seen"]
    return {
        "log_z": _out(log_z, res),
        "entropy": _out(res["entropy"], res),
        "sum_p2": _out(sum_p2, res),
        "participation_ratio": _out(1.0 / sum_p2, res),
        "max_p": _out(torch.maximum((res["max_logit"] - log_z).exp(), 1.0 / seen).clamp_(max=1.0), res),
        "max_logit": _out(res["max_logit"], res),
        "n_keys": seen.expand(*res["batch"], res["n_q"]).clone(),
    }


def entropy_with_extra_key(
    log_z: torch.Tensor, h: torch.Tensor, logit: torch.Tensor | float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(Entropy, new key's weight) when a key with ``logit`` joins rows (log_z, h). Chapter: entropy-invariant-scale.

    Uses the grouping rule H = h_b(p) + (1 - p) h, with p = e^logit / (Z + e^logit) the new key's
    weight and h_b the binary entropy; returns (H, p), broadcast together.
    """
    _checks.tensor("log_z", log_z, min_dim=0)
    _checks.tensor("h", h, min_dim=0)
    logit = torch.as_tensor(logit, dtype=log_z.dtype, device=log_z.device)
    for name, x in (("log_z", log_z), ("h", h), ("logit", logit)):
        _checks.finite(name, x)
    if bool((h < 0).any()):
        raise ValueError("h must be >= 0 (an entropy)")
    log_total = torch.logaddexp(log_z, logit)
    log_p, log_rest = logit - log_total, log_z - log_total  # log p, log(1 - p)
    p, rest = log_p.exp(), log_rest.exp()
    return -p * log_p - rest * log_rest + rest * h, p


def sphere_entropy_gap(lam: float, d: int, *, points: int = 20001) -> float:
    """Mean-field entropy gap h(lam, d) of softmax over keys on a sphere (7695, 8823). Chapter: entropy-invariant-scale.

    h = log E[e^(lam d cos t)] - lam d E_tilted[cos t], t the angle between random d-dim vectors.

    The mean-field entropy of softmax(lam q . k) over n keys is log n + h when q and the keys have
    norm sqrt(d) and the keys are uniform on their sphere (posts 8823 and 7695; h_d of 7695 is
    h(1, d)). The angle has density proportional to sin(t)^(d-2) on [0, pi]; the three integrals
    are done by the trapezoid rule on ``points`` nodes in log space (accurate to ~1e-10 for
    d <= 4096 and |lam| <= 4). h = -KL(tilted angle law || angle law) <= 0, h(0, d) = 0.
    """
    lam = _checks.real_number("lam", lam)
    _checks.positive_int("d", d)
    if d < 2:
        raise ValueError(f"d must be >= 2 (in one dimension there is no angle to average over), got {d}")
    points = _checks.positive_int("points", points)
    if points < 3:
        raise ValueError(f"points must be >= 3, got {points}")
    t = lam * d
    theta = torch.linspace(0.0, math.pi, points, dtype=torch.float64)
    log_base = torch.xlogy(torch.tensor(d - 2.0, dtype=torch.float64), torch.sin(theta))
    log_tilted = log_base + t * torch.cos(theta)
    base = torch.exp(log_base - log_base.max())
    tilted = torch.exp(log_tilted - log_tilted.max())
    log_mgf = (
        log_tilted.max() + torch.trapezoid(tilted, theta).log() - log_base.max() - torch.trapezoid(base, theta).log()
    )
    mean_cos = torch.trapezoid(tilted * torch.cos(theta), theta) / torch.trapezoid(tilted, theta)
    return float(log_mgf - t * mean_cos)


def random_projection_distortion(x: torch.Tensor, k: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Ratios |P x_i - P x_j|^2 / |x_i - x_j|^2 over pairs i < j, P Gaussian (D, k)/sqrt(k). Chapter: entropy-jl-lemma.

    ``x`` is (n, D); returns the n (n - 1) / 2 ratios (the Johnson-Lindenstrauss lemma bounds how
    far they stray from 1). Each ratio is distributed as chi-squared with k degrees of freedom / k.
    """
    _checks.tensor("x", x, min_dim=2)
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be (n, D) with n >= 2 points, got shape {tuple(x.shape)}")
    _checks.finite("x", x)
    k = _checks.positive_int("k", k)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    before = torch.pdist(x) ** 2  # (n (n - 1) / 2,)
    if bool((before == 0).any()):
        raise ValueError("x must not contain repeated points (a zero distance has no distortion ratio)")
    proj = torch.randn(x.shape[1], k, generator=generator, dtype=x.dtype) / math.sqrt(k)  # (D, k)
    return torch.pdist(x @ proj) ** 2 / before


def sparsity(x: torch.Tensor, kind: str, dim: int = -1, **params) -> torch.Tensor:
    """Sparsity of x along ``dim`` by the 9595 measure ``kind`` (see attnviz.sparsity). Chapter: sparsity-measures."""
    from .sparsity import sparsity as measure  # imported here: attnviz.sparsity imports this module

    return measure(x, kind, dim=dim, **params)
