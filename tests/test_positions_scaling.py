"""RoPE scaling schedules (attnviz.positions.scaling): closed forms, parity with transformers, the beta-base view."""

import math

import pytest
import sympy as sp
import torch

from attnviz.positions import angle_overshoot, beta_digits, rope_angles, rope_frequencies, yarn_logit_scale

D = 16

# --- closed forms and limits --------------------------------------------------------------------------------------


def test_linear_scaling_divides_every_frequency():
    plain, pi = rope_frequencies(D), rope_frequencies(D, scaling="linear", factor=4.0)
    assert torch.allclose(pi, plain / 4, rtol=0, atol=1e-15)


def test_ntk_scaling_keeps_highest_and_interpolates_lowest_frequency():
    k = 8.0
    plain, ntk = rope_frequencies(D), rope_frequencies(D, scaling="ntk", factor=k)
    assert ntk[0] == plain[0] == 1.0
    assert math.isclose(float(ntk[-1]), float(plain[-1]) / k, rel_tol=1e-12)


def test_base_k_is_rope_with_the_base_times_k():
    d, k = 128, 8.0
    ratio = rope_frequencies(d, scaling="base-k", factor=k) / rope_frequencies(d)
    i = torch.arange(d // 2, dtype=torch.float64)
    assert torch.allclose(ratio, k ** (-2 * i / d), rtol=1e-12, atol=0)  # k^(-2i/d): the last pair is not 1/k
    assert ratio[-1].item() == pytest.approx(k ** (-(d - 2) / d), rel=1e-12)


def test_dynamic_is_plain_up_to_the_training_length_then_ntk_at_the_grown_length():
    d, L = 64, 512
    plain = rope_frequencies(d)
    for seq_len in (1, 100, L):
        got = rope_frequencies(d, scaling="dynamic", factor=2.0, train_len=L, seq_len=seq_len)
        assert torch.allclose(got, plain, rtol=1e-15, atol=0)
    got = rope_frequencies(d, scaling="dynamic", factor=1.0, train_len=L, seq_len=4 * L)  # s = 4
    assert torch.allclose(got, rope_frequencies(d, scaling="ntk", factor=4.0), rtol=1e-12, atol=0)
    got = rope_frequencies(d, scaling="dynamic", factor=2.0, train_len=L, seq_len=3 * L)  # s = 2 * 3 - 1 = 5
    assert torch.allclose(got, rope_frequencies(d, scaling="ntk", factor=5.0), rtol=1e-12, atol=0)


def test_ntk_fixed_scales_every_pair_and_the_last_by_exactly_one_over_k():
    d, k = 128, 8.0
    ratio = rope_frequencies(d, scaling="ntk-fixed", factor=k) / rope_frequencies(d)
    lam = k ** (2 / d)
    assert ratio[0].item() == pytest.approx(1 / lam, rel=1e-12)  # 0.96803: even the top pair moves
    assert ratio[-1].item() == pytest.approx(1 / k, rel=1e-12)
    assert ratio[0].item() == pytest.approx(0.96803, abs=5e-6)


def test_ntk_mixed_matches_the_catalogue_and_its_two_limits():
    d, k = 128, 8.0
    ratio = rope_frequencies(d, scaling="ntk-mixed", factor=k, mix=0.625) / rope_frequencies(d)
    expected = {1: 0.85680, 2: 0.78792, 32: 0.25967, 64: 0.125}  # exp(-a m^b), m = i + 1 (positional.md section 9)
    for m, value in expected.items():
        assert ratio[m - 1].item() == pytest.approx(value, abs=5e-6)
    lam = ratio[:-1] / ratio[1:]  # lambda_(m+1) = ratio_m / ratio_(m+1): the digits' extra bases, non-increasing
    assert bool((lam[:-1] >= lam[1:] - 1e-12).all()) and bool((lam >= 1).all())
    fixed = rope_frequencies(d, scaling="ntk-fixed", factor=k)
    assert torch.allclose(rope_frequencies(d, scaling="ntk-mixed", factor=k, mix=1.0), fixed, rtol=1e-12, atol=0)
    linear = rope_frequencies(d, scaling="linear", factor=k)
    assert torch.allclose(rope_frequencies(d, scaling="ntk-mixed", factor=k, mix=0.0), linear, rtol=1e-12, atol=0)


def test_yarn_turns_keeps_fast_pairs_and_interpolates_slow_ones():
    d, s, train_len = 32, 4.0, 64
    theta = rope_frequencies(d)
    ratio = rope_frequencies(d, scaling="yarn", factor=s, train_len=train_len, ramp=(1.0, 4.0)) / theta
    turns = theta * train_len / (2 * math.pi)
    assert torch.allclose(ratio[turns > 4], torch.ones(1, dtype=torch.float64), rtol=1e-15, atol=0)
    assert torch.allclose(ratio[turns < 1], torch.full((1,), 1 / s, dtype=torch.float64), rtol=1e-15, atol=0)
    ramp = (turns >= 1) & (turns <= 4)
    g = (turns[ramp] - 1) / 3  # linear in the turns between the thresholds
    assert ramp.sum() == 3 and torch.allclose(ratio[ramp], g + (1 - g) / s, rtol=1e-14, atol=0)


def test_yarn_counts_of_the_llama2_setting():
    theta = rope_frequencies(128)  # LLaMA-2: d = 128, base 1e4, L = 4096, (alpha, beta) = (1, 32)
    ratio = rope_frequencies(128, scaling="yarn", factor=8.0, train_len=4096) / theta
    assert int((ratio == 1).sum()) == 21 and int((ratio == 1 / 8).sum()) == 18  # 25 pairs on the ramp


def test_yarn_logit_scale_values():
    assert yarn_logit_scale(1.0) == 1.0 and yarn_logit_scale(0.5) == 1.0  # no scale within the training length
    for s, value in [(2, 1.1434), (4, 1.2965), (8, 1.4591), (16, 1.6314), (32, 1.8133)]:  # positional.md, post 9948
        assert yarn_logit_scale(s) == pytest.approx(value, abs=5e-5)


# --- parity with transformers' ROPE_INIT_FUNCTIONS ----------------------------------------------------------------


def _transformers(kind: str, d: int, train_len: int, factor: float, seq_len: int | None = None, **extra):
    """transformers' inverse frequencies (as float64) and attention factor for a LLaMA config."""
    transformers = pytest.importorskip("transformers")
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    params = {"rope_type": kind, "rope_theta": 10000.0, "factor": factor, **extra}
    max_len = train_len  # dynamic: max_position_embeddings is the training length
    if kind == "yarn":
        params.update(original_max_position_embeddings=train_len, beta_fast=32.0, beta_slow=1.0)
        max_len = int(train_len * factor)
    config = transformers.LlamaConfig(
        hidden_size=2 * d, num_attention_heads=2, head_dim=d, max_position_embeddings=max_len, rope_parameters=params
    )
    inv_freq, attention_factor = ROPE_INIT_FUNCTIONS[kind](config, "cpu", seq_len=seq_len)
    return inv_freq.double(), attention_factor


@pytest.mark.parametrize("d, factor", [(128, 8.0), (64, 4.0), (16, 2.5)])
def test_linear_matches_transformers(d, factor):
    ref, attention_factor = _transformers("linear", d, 4096, factor)
    assert attention_factor == 1.0
    assert torch.allclose(rope_frequencies(d, scaling="linear", factor=factor), ref, rtol=1e-6, atol=0)  # float32


@pytest.mark.parametrize("seq_len", [100, 4096, 5000, 16384, 40000])
@pytest.mark.parametrize("factor", [1.0, 2.0])
def test_dynamic_matches_transformers_below_and_beyond_the_training_length(seq_len, factor):
    ref, _ = _transformers("dynamic", 128, 4096, factor, seq_len=seq_len)
    got = rope_frequencies(128, scaling="dynamic", factor=factor, train_len=4096, seq_len=seq_len)
    assert torch.allclose(got, ref, rtol=1e-6, atol=0)


@pytest.mark.parametrize("d, train_len, factor", [(128, 4096, 8.0), (64, 64, 4.0)])
@pytest.mark.parametrize("truncate", [True, False])
def test_yarn_pairs_matches_transformers(d, train_len, factor, truncate):
    ref, attention_factor = _transformers("yarn", d, train_len, factor, truncate=truncate)
    got = rope_frequencies(
        d, scaling="yarn", factor=factor, train_len=train_len, ramp=(1.0, 32.0), ramp_over="pairs", truncate=truncate
    )
    assert torch.allclose(got, ref, rtol=1e-6, atol=0)
    assert attention_factor**2 == pytest.approx(yarn_logit_scale(factor), rel=1e-12)  # scale on q and on k


@pytest.mark.parametrize(
    "d, train_len, factor, truncate, n_apart, largest",
    [(128, 4096, 8.0, True, 25, 0.5661), (128, 4096, 8.0, False, 23, 0.5580), (64, 64, 4.0, True, 9, 0.5627)],
)
def test_yarn_turns_differs_from_transformers_by_a_measured_amount(d, train_len, factor, truncate, n_apart, largest):
    ref, _ = _transformers("yarn", d, train_len, factor, truncate=truncate)
    turns = rope_frequencies(d, scaling="yarn", factor=factor, train_len=train_len, ramp=(1.0, 32.0))
    rel = ((turns - ref) / ref).abs()  # (d/2,)
    assert int((rel > 0.01).sum()) == n_apart  # pairs more than 1 % apart (of d/2)
    assert rel.max().item() == pytest.approx(largest, abs=5e-4)
    assert rel[-1].item() < 1e-6  # both interpolate the slowest pair fully
    # pair 0 made train_len / (2 pi) turns: 652 at L = 4096, both keep it; 10.2 < 32 at L = 64, where the turns
    # ramp gives it g = 0.30 while transformers' ramp, clipped at pair index 0, keeps it (g = 1)
    assert (rel[0].item() < 1e-6) == (train_len / (2 * math.pi) > 32)


def test_yarn_pairs_is_linear_in_the_pair_index_between_the_correction_dimensions():
    d, L, s = 128, 4096, 8.0
    keep = rope_frequencies(d, scaling="yarn", factor=s, train_len=L, ramp_over="pairs", truncate=False)
    keep = (keep / rope_frequencies(d) - 1 / s) / (1 - 1 / s)  # g_i
    fast = d * math.log(L / (2 * math.pi * 32)) / (2 * math.log(10000))  # the pair with 32 turns: 20.2
    slow = d * math.log(L / (2 * math.pi * 1)) / (2 * math.log(10000))  # the pair with 1 turn: 45.0
    i = torch.arange(d // 2, dtype=torch.float64)
    expected = ((slow - i) / (slow - fast)).clamp(0, 1)
    assert torch.allclose(keep, expected, rtol=0, atol=1e-12)


# --- the beta-base view -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [2, 3, 10, 13, 16])
def test_integer_base_digits_match_sympy(beta):
    n = torch.arange(4096)
    got = beta_digits(n, beta, 12)  # (4096, 12), lowest digit first
    for value in [0, 1, beta - 1, beta, 1749, 4095]:
        ref = sp.ntheory.digits(value, beta)[1:][::-1]  # sympy: [base, highest, ..., lowest]
        ref = ref + [0] * (12 - len(ref))
        assert got[value].tolist() == [float(x) for x in ref]
    powers = torch.tensor([float(beta) ** m for m in range(12)], dtype=torch.float64)
    assert torch.equal((got * powers).sum(-1), n.double())  # the digits rebuild n exactly


def test_post_examples():
    assert beta_digits(1749, 16, 3).tolist() == [5.0, 13.0, 6.0]  # [6, 13, 5] read highest first
    assert beta_digits(1749, 10, 4).tolist() == [9.0, 4.0, 7.0, 1.0]
    assert beta_digits(874.5, 10, 3, floor=False)[0].item() == 4.5


def test_digits_of_a_real_base_and_the_unfloored_sawtooth():
    beta = 10000 ** (2 / 128)
    n = torch.linspace(0, 5000, 1001, dtype=torch.float64)
    floored, sawtooth = beta_digits(n, beta, 64), beta_digits(n, beta, 64, floor=False)
    assert bool(((floored >= 0) & (floored < beta)).all())
    assert bool(((sawtooth >= 0) & (sawtooth < beta)).all())
    m = torch.arange(64, dtype=torch.float64)
    expected = torch.remainder(n[:, None] / beta**m, beta)
    assert torch.allclose(sawtooth, expected, atol=1e-9, rtol=0)
    assert beta_digits(torch.zeros(2, 3), beta, 5).shape == (2, 3, 5)


def test_rope_phase_is_a_rescaled_unfloored_digit():
    d = 64
    beta = 10000 ** (2 / d)
    n = torch.arange(0, 3000, 7, dtype=torch.float64)
    phase = rope_angles(n, rope_frequencies(d), wrap=True)  # (len(n), d/2)
    digit = beta_digits(n * beta / (2 * math.pi), beta, d // 2, floor=False)
    rebuilt = 2 * math.pi / beta * digit
    assert torch.allclose(phase.cos(), rebuilt.cos(), atol=1e-9, rtol=0)
    assert torch.allclose(phase.sin(), rebuilt.sin(), atol=1e-9, rtol=0)


def test_overshoot_closed_forms():
    d, k, L_train = 128, 8, 512
    L_test = k * L_train
    theta = rope_frequencies(d)
    i = torch.arange(d // 2, dtype=torch.float64)
    raw = dict(full_turns_seen=False)
    direct = angle_overshoot(theta, theta, L_train, L_test, **raw)
    assert torch.allclose(direct, torch.full_like(theta, L_test - L_train), atol=1e-9, rtol=0)
    pi = angle_overshoot(theta, rope_frequencies(d, scaling="linear", factor=k), L_train, L_test, **raw)
    assert torch.allclose(pi, torch.full_like(theta, 1 - 1 / k), atol=1e-9, rtol=0)
    ntk = angle_overshoot(theta, rope_frequencies(d, scaling="ntk", factor=k), L_train, L_test, **raw)
    expected = (L_test - 1) * k ** (-2 * i / (d - 2)) - (L_train - 1)
    assert torch.allclose(ntk, expected, atol=1e-8, rtol=1e-12)


def test_overshoot_ignores_pairs_that_turned_fully_in_training():
    d, L_train = 128, 512
    theta = rope_frequencies(d)
    seen = angle_overshoot(theta, theta, L_train, 4096)
    full_turn = (L_train - 1) * theta >= 2 * math.pi
    assert int(full_turn.sum()) == 31  # pairs 0..30
    assert bool((seen[full_turn] == 0).all())
    assert torch.allclose(seen[~full_turn], torch.full((33,), 3584.0, dtype=torch.float64), atol=1e-9, rtol=0)


def test_no_overshoot_when_testing_shorter_or_slower():
    theta = rope_frequencies(16)
    assert bool((angle_overshoot(theta, theta, 512, 100, full_turns_seen=False) == 0).all())
    assert bool((angle_overshoot(theta, theta / 10, 512, 4096, full_turns_seen=False) == 0).all())


# --- bad input ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scaling": "yarn-ish"}, "scaling must be one of"),
        ({"scaling": "linear", "factor": 0.0}, "factor must be > 0"),
        ({"scaling": "yarn", "factor": 2.0}, "train_len"),
        ({"scaling": "yarn", "factor": 2.0, "train_len": 64, "ramp": (4.0, 1.0)}, "ramp must have beta > alpha"),
        ({"scaling": "yarn", "factor": 2.0, "train_len": 64, "ramp": (0.0, 1.0)}, "ramp must be > 0"),
        ({"scaling": "yarn", "factor": 2.0, "train_len": 64, "ramp": 32.0}, "ramp must be a pair"),
        ({"scaling": "yarn", "factor": 2.0, "train_len": 64, "ramp_over": "dims"}, "ramp_over must be one of"),
        ({"scaling": "yarn", "train_len": 64, "ramp_over": "pairs", "truncate": "yes"}, "truncate"),
        ({"scaling": "dynamic", "factor": 2.0, "train_len": 64}, "seq_len"),
        ({"scaling": "dynamic", "factor": 2.0, "seq_len": 64}, "train_len"),
        ({"scaling": "dynamic", "train_len": 64, "seq_len": 0}, "seq_len must be >= 1"),
        ({"scaling": "ntk-mixed", "factor": 2.0, "mix": 1.5}, "mix"),
        ({"scaling": "ntk-old", "factor": 2.0}, "scaling"),
    ],
)
def test_schedule_bad_input_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rope_frequencies(16, **kwargs)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: rope_frequencies(2, scaling="ntk", factor=2.0), "d >= 4"),
        (lambda: yarn_logit_scale(0.0), "factor must be > 0"),
        (lambda: beta_digits(10, 1.0, 3), "beta"),
        (lambda: beta_digits(10, -2.0, 3), "beta"),
        (lambda: beta_digits(10, 10, 0), "num_digits"),
        (lambda: beta_digits(-1, 10, 3), "n must be >= 0"),
        (lambda: beta_digits(float("nan"), 10, 3), "n must be finite"),
        (lambda: angle_overshoot(torch.ones(4), torch.ones(3), 8, 16), "scaled_freqs"),
        (lambda: angle_overshoot(torch.ones(4), -torch.ones(4), 8, 16), "scaled_freqs"),
        (lambda: angle_overshoot(torch.zeros(4), torch.ones(4), 8, 16), "freqs"),
        (lambda: angle_overshoot(torch.ones(4, 1), torch.ones(4, 1), 8, 16), "freqs must be 1-D"),
        (lambda: angle_overshoot(torch.ones(4), torch.ones(4), 0, 16), "train_len"),
        (lambda: angle_overshoot(torch.ones(4), torch.ones(4), 8, 2.5), "test_len"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
