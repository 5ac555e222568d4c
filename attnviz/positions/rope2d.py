"""2-D RoPE (post 8397) and position ids for mixed text/image sequences (RoPE-Tie 10040, RoPE-TV 10352, M-RoPE).

2-D RoPE is the block solution of 8397: ``R_{x,y} = diag(R_x, R_y)``. The first half of the head dimension
is rotated by the row coordinate x, the second half by the column coordinate y, each half by 1-D RoPE
(interleaved pairs) at its own frequencies of length d/4.

Position ids count from 0 (the posts count from 1; RoPE only sees differences, so the shift changes nothing).
With ``P`` the last id used before an image of h rows and w columns (``P = -1`` at the very start) and
1-based patch indices r = 1..h, c = 1..w, the schemes place patch (r, c) and the next text token at:

- ``"tie"`` (10040): ``(P + r s, P + c t)`` with s = w + 1, t = h + 1; next text at ``P + (w + 1)(h + 1)``,
  so the step from the text into the image and from the image into the text is the same (s, t).
- ``"tv"`` (10352): ``(beta_1 + r, beta_2 + c)`` with beta_1 = P + (wh - h)/2, beta_2 = P + (wh - w)/2;
  next text at ``P + wh + 1`` (an image is worth wh tokens; float ids, half-integers when h(w-1) is odd).
- ``"mrope"`` (Qwen2-VL): ``(P + r, P + c)``; next text at the largest id used plus 1, ``P + max(h, w) + 1``.
  Qwen2-VL's third (temporal) id is ``P + 1`` for every patch of a still image and equals the text id on
  text, so it carries no information here and is not returned.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .. import _checks
from .rope import apply_rope, rotation_matrix

SCHEMES = ("tie", "tv", "mrope")


def _axis_freqs(freqs: object, d: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated (freqs_x, freqs_y), each (d/4,): one shared tensor or a pair."""
    pair = tuple(freqs) if isinstance(freqs, (tuple, list)) else (freqs, freqs)
    if len(pair) != 2:
        raise ValueError(f"freqs must be one tensor or a pair (freqs_x, freqs_y), got {len(pair)} tensors")
    fx, fy = (_checks.freqs(name, f) for name, f in zip(("freqs_x", "freqs_y"), pair, strict=True))
    if d is not None and not (fx.shape[0] == fy.shape[0] == d // 4):
        raise ValueError(
            f"freqs must have length d/4 = {d // 4} per axis for d = {d}, got {fx.shape[0]} and {fy.shape[0]}"
        )
    return fx, fy


def apply_rope_2d(x: torch.Tensor, positions: object, freqs: object) -> torch.Tensor:
    """Rotate x (..., n, d) by 2-D RoPE at positions (..., n, 2) = (x, y); same shape. Chapter: rope-2d.

    ``freqs`` is one tensor (d/4,) shared by both axes (8397) or a pair ``(freqs_x, freqs_y)`` (10040).
    The first half of x is rotated by the first coordinate, the second half by the second.
    """
    _checks.tensor("x", x, min_dim=2)
    d = x.shape[-1]
    if d % 4:
        raise ValueError(f"x must have a last dimension d divisible by 4 (two halves of pairs), got d = {d}")
    fx, fy = _axis_freqs(freqs, d)
    positions = torch.as_tensor(positions, dtype=torch.float64, device=x.device)
    if positions.dim() < 2 or positions.shape[-1] != 2:
        raise ValueError(f"positions must have shape (..., n, 2), got {tuple(positions.shape)}")
    half = d // 2
    first = apply_rope(x[..., :half], positions[..., 0], fx)  # (..., n, d/2) rotated by x
    second = apply_rope(x[..., half:], positions[..., 1], fy)  # (..., n, d/2) rotated by y
    return torch.cat((first, second), dim=-1)  # (..., n, d)


def rotation_matrix_2d(row: float, col: float, freqs: object) -> torch.Tensor:
    """Block-diagonal 2-D RoPE matrix diag(R_row, R_col) (d, d), float64. Chapter: rope-2d."""
    fx, fy = _axis_freqs(freqs)
    if fx.shape[0] != fy.shape[0]:
        raise ValueError(f"freqs_x and freqs_y must have the same length, got {fx.shape[0]} and {fy.shape[0]}")
    return torch.block_diag(rotation_matrix(row, fx), rotation_matrix(col, fy))  # (d, d)


def _segment(item: object, index: int) -> tuple[str, int, int]:
    """Validated segment as (kind, h, w); a text run of n tokens is ("text", n, 1)."""
    name = f"segments[{index}]"
    if not isinstance(item, (tuple, list)) or not item or item[0] not in ("text", "image"):
        raise ValueError(f'{name} must be ("text", n) or ("image", h, w), got {item!r}')
    if item[0] == "text":
        if len(item) != 2:
            raise ValueError(f'{name} must be ("text", n), got {item!r}')
        return "text", _checks.positive_int(f"{name} length", item[1]), 1
    if len(item) != 3:
        raise ValueError(f'{name} must be ("image", h, w), got {item!r}')
    return "image", _checks.positive_int(f"{name} h", item[1]), _checks.positive_int(f"{name} w", item[2])


def _image(last: float, h: int, w: int, scheme: str) -> tuple[torch.Tensor, float]:
    """Ids (h w, 2) of an image's patches in row-major order after last id ``last``, and the next text id."""
    r = torch.arange(1, h + 1, dtype=torch.float64).repeat_interleave(w)  # (h w,) rows 1..h
    c = torch.arange(1, w + 1, dtype=torch.float64).repeat(h)  # (h w,) columns 1..w
    if scheme == "tie":
        ids = torch.stack((last + r * (w + 1), last + c * (h + 1)), -1)  # (h w, 2), steps s = w+1, t = h+1
        return ids, last + (w + 1) * (h + 1)
    if scheme == "tv":
        beta = torch.tensor([last + (w * h - h) / 2, last + (w * h - w) / 2], dtype=torch.float64)
        return beta + torch.stack((r, c), -1), last + w * h + 1  # (h w, 2)
    return last + torch.stack((r, c), -1), last + max(h, w) + 1  # (h w, 2), M-RoPE: max id + 1


def rope_tie_positions(segments: Sequence[object], scheme: str = "tie") -> torch.Tensor:
    """Position ids (N, 2) = (row x, column y) of text runs and images (row-major). Chapter: rope-tie.

    ``segments``: ``("text", n)`` and ``("image", h, w)`` items; text token n gets (n, n). int64 for
    ``"tie"`` and ``"mrope"``, float64 for ``"tv"`` (its offsets are half-integers in general).
    """
    _checks.choice("scheme", scheme, SCHEMES)
    if isinstance(segments, (str, bytes)) or not isinstance(segments, Sequence) or not segments:
        raise ValueError(f"segments must be a non-empty list of text and image items, got {segments!r}")
    parts, next_id = [], 0.0
    for index, item in enumerate(segments):
        kind, h, w = _segment(item, index)
        if kind == "text":
            n = next_id + torch.arange(h, dtype=torch.float64)  # (n,)
            parts.append(torch.stack((n, n), -1))  # (n, 2)
            next_id += h
        else:
            ids, next_id = _image(next_id - 1, h, w, scheme)
            parts.append(ids)
    out = torch.cat(parts)  # (N, 2)
    return out if scheme == "tv" else out.round().to(torch.int64)


def image_span(h: int, w: int, scheme: str = "tie") -> float:
    """How many text positions an h x w image spends, K - L - 1 (text around it sees this gap). Chapter: rope-tie."""
    _checks.positive_int("h", h)
    _checks.positive_int("w", w)
    _checks.choice("scheme", scheme, SCHEMES)
    return float(_image(0.0, h, w, scheme)[1]) - 1.0
