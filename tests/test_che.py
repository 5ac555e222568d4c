"""The CHE tasks of post 9444: the post's worked examples, properties of random samples, shapes and errors."""

import math

import pytest
import torch

from attnviz import che

# The post's examples (Chinese original and translation agree), in its own symbols: × and − are read as * and -.
POST_EXAMPLES = [
    ("even_pairs", "aabba", "y"),  # ab and ba occur twice in total: yes
    ("modular_arithmetic_simple", "1+2−4", "4"),  # -1 mod 5
    ("parity_check", "aaabba", "y"),  # two b: even, yes
    ("cycle_navigation", "010211", "2"),  # 0+0+1+0-1+1+1 = 2
    ("modular_arithmetic", "−(1−2)×(4−3×(−2))", "0"),  # 10 mod 5
    ("reverse_string", "aabba", "abbaa"),
    ("solve_equation", "−(1−2)×(4−z×(−2))=0", "3"),
    ("stack_manipulation", "abbaa" + "pAp", "abba"),  # stack abbaa, then POP / PUSH a / POP
    ("binary_addition", "10010+101", "10111"),  # 18 + 5 = 23
    ("binary_multiplication", "100×10110", "1011000"),  # 4 * 22 = 88
    # The post prints floor(sqrt(101001)) = 101. But 101001 in binary is 41 and floor(sqrt(41)) = 6 = 110; the
    # CHE code's own docstring has the same slip (100101 = 37 -> 101).
    ("compute_sqrt", "101001", "110"),
    ("duplicate_string", "abaab", "abaababaab"),
    ("missing_duplicate", "ab_aba", "a"),
    ("odds_first", "aaabaa", "aaaaba"),
    ("bucket_sort", "421302214", "011222344"),
]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _length(task: str, length: int) -> int:
    """A length the task accepts near ``length``."""
    if task == "modular_arithmetic_simple":
        return length | 1
    return length + length % 2 if task == "missing_duplicate" else length


def _samples(task: str, length: int, count: int = 100, seed: int = 0) -> list[tuple[str, str]]:
    """``count`` decoded (input, padded target) pairs."""
    xs, ys = che.sample(task, count, _length(task, length), generator=_gen(seed))
    return [(che.decode(task, x), che.decode(task, y, output=True)) for x, y in zip(xs, ys, strict=True)]


def _py_mod5(expression: str) -> int:
    """Python's own value of an expression over 0-4, + - *, brackets, mod 5 (an independent evaluator)."""
    return eval(expression, {"__builtins__": {}}) % 5  # the generator only emits 0-4, + - * ( )


@pytest.mark.parametrize(("task", "text", "expected"), POST_EXAMPLES, ids=[t for t, _, _ in POST_EXAMPLES])
def test_the_posts_worked_examples(task, text, expected):
    assert che.answer(task, text) == expected


def test_the_posts_sqrt_example_is_wrong():
    assert int("101001", 2) == 41 and math.isqrt(41) == 6 == int("110", 2)
    assert che.answer("compute_sqrt", "101001") != "101"  # what the post printed (101 = 5, and 5^2 = 25 <= 41)


def test_the_post_lists_fifteen_tasks_at_three_levels():
    assert len(che.TASKS) == 15 and set(che.TASKS) == set(che.ALPHABETS) == set(che.LEVELS)
    assert [t for t in che.TASKS if che.LEVELS[t] == "R"] == [
        "even_pairs",
        "modular_arithmetic_simple",
        "parity_check",
        "cycle_navigation",
    ]
    assert sum(level == "DCF" for level in che.LEVELS.values()) == 4
    assert sum(level == "CS" for level in che.LEVELS.values()) == 7


@pytest.mark.parametrize("length", [1, 2, 40, 101])
def test_even_pairs_is_first_symbol_equals_last(length):
    # the post: "equivalent to asking whether the first and last symbols agree"
    for x, y in _samples("even_pairs", length):
        assert y == ("y" if x[0] == x[-1] else "n")


@pytest.mark.parametrize("length", [1, 40, 101])
def test_parity_is_the_number_of_b_mod_2(length):
    xs, ys = che.sample("parity_check", 200, length, generator=_gen(1))
    assert torch.equal(ys[:, 0], 1 - xs.sum(1) % 2)  # b = 1, and y (= 1) means an even count


def test_cycle_navigation_is_the_sum_of_moves_mod_5():
    xs, ys = che.sample("cycle_navigation", 200, 60, generator=_gen(2))
    moves = torch.tensor([0, 1, -1])[xs]  # (200, 60)
    assert torch.equal(ys[:, 0], moves.sum(1) % 5)


@pytest.mark.parametrize("length", [1, 2, 41])
def test_reverse_of_reverse_is_the_identity(length):
    for x, y in _samples("reverse_string", length):
        assert che.answer("reverse_string", y) == x and len(y) == len(x)


def test_duplicate_odds_first_and_bucket_sort_on_tokens():
    xs, ys = che.sample("duplicate_string", 50, 33, generator=_gen(3))
    assert torch.equal(ys, torch.cat([xs, xs], 1))
    xs, ys = che.sample("odds_first", 50, 33, generator=_gen(3))
    assert torch.equal(ys, torch.cat([xs[:, 0::2], xs[:, 1::2]], 1))
    xs, ys = che.sample("bucket_sort", 50, 33, generator=_gen(3))
    assert torch.equal(ys, xs.sort(1).values)  # digit d has token id d


@pytest.mark.parametrize(("op", "task"), [(int.__add__, "binary_addition"), (int.__mul__, "binary_multiplication")])
@pytest.mark.parametrize("length", [3, 4, 40, 101])
def test_binary_arithmetic_matches_integer_arithmetic(op, task, length):
    symbol = "+" if task == "binary_addition" else "*"
    for x, y in _samples(task, length):
        left, right = x.split(symbol)
        result = y.rstrip(".")
        assert y.endswith(".") and "." not in result and len(y) == length + 1
        assert result[0] == "1" and int(result, 2) == op(int(left, 2), int(right, 2))


@pytest.mark.parametrize("length", [1, 6, 40, 101])
def test_compute_sqrt_is_the_integer_square_root(length):
    for x, y in _samples("compute_sqrt", length):
        n, r = int(x, 2), int(y, 2)
        assert n >= 1 and r * r <= n < (r + 1) ** 2 and len(y) == math.ceil(length / 2)


@pytest.mark.parametrize("length", [2, 40, 100])
def test_missing_duplicate_fills_the_hole(length):
    for x, y in _samples("missing_duplicate", length):
        full = x.replace("_", y)
        assert x.count("_") == 1 and full[: length // 2] == full[length // 2 :]


@pytest.mark.parametrize("length", [1, 2, 40, 101])
def test_stack_manipulation_matches_a_top_first_simulation(length):
    for x, y in _samples("stack_manipulation", length):
        size = len(x) - len(x.lstrip("ab"))
        assert size >= 1
        top_first = list(reversed(x[:size]))
        for act in x[size:]:
            if act == "p":
                top_first = top_first[1:]
            else:
                top_first.insert(0, act.lower())
        assert y == "".join(top_first) + "." * (length + 1 - len(top_first))


@pytest.mark.parametrize("task", ["modular_arithmetic_simple", "modular_arithmetic"])
@pytest.mark.parametrize("length", [1, 5, 41, 101])
def test_modular_arithmetic_matches_python(task, length):
    for x, y in _samples(task, length):
        assert len(x) == _length(task, length) and int(y) == _py_mod5(x)


@pytest.mark.parametrize("length", [3, 8, 41, 101])
def test_solve_equation_has_one_root_and_the_target_is_it(length):
    for x, y in _samples("solve_equation", length, count=50):
        left, right = x.split("=")
        assert len(x) == length and x.count("z") == 1
        roots = [z for z in range(5) if _py_mod5(left.replace("z", str(z))) == int(right)]
        assert roots == [int(y)]


@pytest.mark.parametrize("task", list(che.TASKS))
def test_sample_shapes_ids_and_determinism(task):
    length = _length(task, 12)
    xs, ys = che.sample(task, 8, length, generator=_gen(4))
    assert xs.shape == (8, length) and ys.shape == (8, che.output_length(task, length))
    assert xs.dtype == ys.dtype == torch.int64
    n_in, n_out = (len(s) for s in che.ALPHABETS[task])
    assert int(xs.min()) >= 0 and int(xs.max()) < n_in and int(ys.min()) >= 0 and int(ys.max()) < n_out
    again = che.sample(task, 8, length, generator=_gen(4))
    assert torch.equal(xs, again[0]) and torch.equal(ys, again[1])
    x, y = che.TASKS[task](length, _gen(4))
    assert che.answer(task, che.decode(task, x)) == che.decode(task, y, output=True).rstrip(".")


def test_encode_and_decode_round_trip():
    tokens = che.encode("solve_equation", "−(1−2)×(4−z×(−2))=0")
    assert che.decode("solve_equation", tokens) == "-(1-2)*(4-z*(-2))=0"
    assert che.encode("parity_check", "aab").tolist() == [0, 0, 1]
    assert che.decode("even_pairs", torch.tensor([1]), output=True) == "y"


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda: che.sample("sorting", 2, 4), "task must be one of"),
        (lambda: che.sample("parity_check", 0, 4), "batch must be >= 1"),
        (lambda: che.parity_check(0), "length must be >= 1"),
        (lambda: che.parity_check(4, generator=1), "generator"),
        (lambda: che.modular_arithmetic_simple(4), "length must be odd"),
        (lambda: che.missing_duplicate(5), "length must be even"),
        (lambda: che.binary_addition(2), "length must be >= 3"),
        (lambda: che.solve_equation(2), "length must be >= 3"),
        (lambda: che.encode("parity_check", "abc"), "text has symbols"),
        (lambda: che.encode("parity_check", 3), "text must be a str"),
        (lambda: che.answer("parity_check", ""), "text must not be empty"),
        (lambda: che.answer("modular_arithmetic", "(1+2"), "text has an unclosed bracket"),
        (lambda: che.answer("modular_arithmetic", "1+"), "text is not a well-formed expression"),
        (lambda: che.answer("solve_equation", "z*0=0"), "exactly one solution"),
        (lambda: che.answer("solve_equation", "1+2=3"), "one z"),
        (lambda: che.answer("stack_manipulation", "apa"), "followed by the actions"),
        (lambda: che.answer("binary_addition", "101"), "text must be 'x\\+y'"),
        (lambda: che.answer("missing_duplicate", "ab_"), "even length"),
        (lambda: che.decode("parity_check", torch.tensor([2])), "tokens must lie in"),
        (lambda: che.decode("parity_check", torch.zeros(2)), "tokens must be a 1-D integer tensor"),
        (lambda: che.output_length("parity_check", 0), "length must be >= 1"),
    ],
)
def test_bad_arguments_are_named(call, word):
    with pytest.raises(ValueError, match=word):
        call()
