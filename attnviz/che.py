"""The Chomsky-hierarchy length-generalisation tasks (Delétang et al. 2023) that post 9444 lists, as generators.

Every task turns a string over a small input alphabet into an answer over an output alphabet; ``answer`` applies
the rule to a string, a task function draws a random input of a given length and returns both as token ids
(a symbol's id is its index in the alphabet). Answers of varying length end in '.' and are padded with '.' to a
length fixed by the input length, so that ``sample`` can stack a batch. The post writes × and −; ``encode``
reads them as * and -.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import _checks

MODULUS = 5
PAD = "."
ALPHABETS: dict[str, tuple[str, str]] = {  # task -> (input symbols, output symbols)
    "even_pairs": ("ab", "ny"),
    "modular_arithmetic_simple": ("01234+-*", "01234"),
    "parity_check": ("ab", "ny"),
    "cycle_navigation": ("012", "01234"),
    "modular_arithmetic": ("01234+-*()", "01234"),
    "reverse_string": ("ab", "ab"),
    "solve_equation": ("01234+-*()z=", "01234"),
    "stack_manipulation": ("abpAB", "ab."),  # p = POP, A = PUSH a, B = PUSH b
    "binary_addition": ("01+", "01."),
    "binary_multiplication": ("01*", "01."),
    "compute_sqrt": ("01", "01"),
    "duplicate_string": ("ab", "ab"),
    "missing_duplicate": ("ab_", "ab"),
    "odds_first": ("ab", "ab"),
    "bucket_sort": ("01234", "01234"),
}
_BY_LEVEL = {
    "R": ("even_pairs", "modular_arithmetic_simple", "parity_check", "cycle_navigation"),
    "DCF": ("modular_arithmetic", "reverse_string", "solve_equation", "stack_manipulation"),
    "CS": ("binary_addition", "binary_multiplication", "compute_sqrt", "duplicate_string", "missing_duplicate")
    + ("odds_first", "bucket_sort"),
}
LEVELS = {task: level for level, tasks in _BY_LEVEL.items() for task in tasks}  # the post's grading of each task
_POST_SYMBOLS = str.maketrans({"×": "*", "−": "-"})


def _task(task: object) -> str:
    """Check that ``task`` names a task."""
    return _checks.choice("task", task, tuple(ALPHABETS))


def encode(task: str, text: str, *, output: bool = False) -> torch.Tensor:
    """Token ids (len(text),) int64 of ``text`` over the task's input (or output) alphabet.
    Chapter: positional-robustness."""
    symbols = ALPHABETS[_task(task)][int(bool(output))]
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    text = text.translate(_POST_SYMBOLS)
    bad = sorted(set(text) - set(symbols))
    if bad:
        raise ValueError(f"text has symbols {bad} outside the {task} alphabet {symbols!r}")
    return torch.tensor([symbols.index(c) for c in text], dtype=torch.int64)


def decode(task: str, tokens: torch.Tensor, *, output: bool = False) -> str:
    """The string that 1-D token ids spell over the task's input (or output) alphabet.
    Chapter: positional-robustness."""
    symbols = ALPHABETS[_task(task)][int(bool(output))]
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 1 or tokens.is_floating_point():
        raise ValueError("tokens must be a 1-D integer tensor")
    if tokens.numel() and not (0 <= int(tokens.min()) and int(tokens.max()) < len(symbols)):
        raise ValueError(f"tokens must lie in [0, {len(symbols)}) for the {task} alphabet {symbols!r}")
    return "".join(symbols[i] for i in tokens.tolist())


def _evaluate(text: str, z: int | None = None) -> int:
    """Value mod 5 of an expression over 0-4, + - * (before + and -), unary -, brackets and z."""
    at = 0

    def peek() -> str:
        return text[at] if at < len(text) else ""

    def factor() -> int:
        nonlocal at
        c = peek()
        at += 1
        if c == "-":
            return -factor() % MODULUS
        if c.isdigit() or (c == "z" and z is not None):
            return z if c == "z" else int(c)
        if c == "(":
            value = expr()
            if peek() != ")":
                raise ValueError(f"text has an unclosed bracket: {text!r}")
            at += 1
            return value
        raise ValueError(f"text is not a well-formed expression at symbol {at - 1}: {text!r}")

    def term() -> int:
        nonlocal at
        value = factor()
        while peek() == "*":
            at += 1
            value = value * factor() % MODULUS
        return value

    def expr() -> int:
        nonlocal at
        value = term()
        while peek() in ("+", "-"):
            sign = 1 if peek() == "+" else -1
            at += 1
            value = (value + sign * term()) % MODULUS
        return value

    value = expr()
    if at != len(text):
        raise ValueError(f"text is not a well-formed expression at symbol {at}: {text!r}")
    return value


def _solve(text: str) -> str:
    """The one z in 0..4 that makes 'expression=value' hold mod 5."""
    left, eq, right = text.partition("=")
    if not eq or len(right) != 1 or not right.isdigit() or text.count("z") != 1 or "z" not in left:
        raise ValueError(f"text must be 'expression with one z=digit', got {text!r}")
    roots = [z for z in range(MODULUS) if _evaluate(left, z) == int(right)]
    if len(roots) != 1:
        raise ValueError(f"text must have exactly one solution z, found {roots}: {text!r}")
    return str(roots[0])


def _stack(text: str) -> str:
    """The final stack, top first, of a stack (bottom first) followed by POP/PUSH actions."""
    base = len(text) - len(text.lstrip("ab"))
    stack, actions = list(text[:base]), text[base:]
    if "a" in actions or "b" in actions:
        raise ValueError(f"text must be the stack (a, b) followed by the actions (p, A, B), got {text!r}")
    for act in actions:
        if act == "p":
            stack = stack[:-1]  # POP on an empty stack does nothing
        else:
            stack.append(act.lower())
    return "".join(reversed(stack))


def _binary(text: str, op: str) -> tuple[int, int]:
    """The two numbers of 'x op y' in binary, most significant bit first."""
    x, found, y = text.partition(op)
    if not found or not x or not y or op in y:
        raise ValueError(f"text must be 'x{op}y' with binary x and y, got {text!r}")
    return int(x, 2), int(y, 2)


def _missing(text: str) -> str:
    """The symbol that '_' hides in a string w w."""
    if len(text) % 2 or text.count("_") != 1:
        raise ValueError(f"text must be a string w w of even length with one '_', got {text!r}")
    hole = text.index("_")
    return text[(hole + len(text) // 2) % len(text)]


_RULES: dict[str, Callable[[str], str]] = {
    "even_pairs": lambda s: "ny"[sum(s[i] != s[i + 1] for i in range(len(s) - 1)) % 2 == 0],
    "modular_arithmetic_simple": lambda s: str(_evaluate(s)),
    "parity_check": lambda s: "ny"[s.count("b") % 2 == 0],
    "cycle_navigation": lambda s: str((s.count("1") - s.count("2")) % MODULUS),
    "modular_arithmetic": lambda s: str(_evaluate(s)),
    "reverse_string": lambda s: s[::-1],
    "solve_equation": _solve,
    "stack_manipulation": _stack,
    "binary_addition": lambda s: format(sum(_binary(s, "+")), "b"),
    "binary_multiplication": lambda s: format(math.prod(_binary(s, "*")), "b"),
    "compute_sqrt": lambda s: format(math.isqrt(int(s, 2)), "b").zfill(math.ceil(len(s) / 2)),
    "duplicate_string": lambda s: s + s,
    "missing_duplicate": _missing,
    "odds_first": lambda s: s[0::2] + s[1::2],
    "bucket_sort": lambda s: "".join(sorted(s)),
}


def answer(task: str, text: str) -> str:
    """The task's unpadded answer to a string: answer('reverse_string', 'aabba') = 'abbaa'.
    Chapter: positional-robustness."""
    encode(task, text)  # checks the alphabet
    text = text.translate(_POST_SYMBOLS)
    if not text:
        raise ValueError("text must not be empty")
    return _RULES[task](text)


def output_length(task: str, length: int) -> int:
    """Length of the (padded) target for inputs of ``length`` symbols. Chapter: positional-robustness (via sample)."""
    _task(task)
    _checks.positive_int("length", length)
    if task in ("stack_manipulation", "binary_addition", "binary_multiplication"):
        return length + 1  # the longest answer has length symbols, then '.'
    if task in ("reverse_string", "odds_first", "bucket_sort"):
        return length
    if task == "duplicate_string":
        return 2 * length
    return math.ceil(length / 2) if task == "compute_sqrt" else 1  # the rest answer with one symbol


def _draw(symbols: str, count: int, g: torch.Generator | None) -> str:
    """``count`` symbols drawn uniformly and independently."""
    return "".join(symbols[i] for i in torch.randint(len(symbols), (count,), generator=g).tolist())


def _nonzero_bits(count: int, g: torch.Generator | None) -> str:
    """A uniform binary string of ``count`` bits, not all zero (a number in 1 .. 2^count - 1)."""
    while "1" not in (bits := _draw("01", count, g)):
        pass
    return bits


def _between(low: int, high: int, g: torch.Generator | None) -> int:
    """A uniform int in [low, high)."""
    return int(torch.randint(low, high, (1,), generator=g))


def _expression(length: int, g: torch.Generator | None) -> str:
    """A random expression of ``length`` symbols: d, -d, (d), (-d), or (x op y) of shorter ones."""
    if length <= 4:
        return ("", "", "-", "(", "(-")[length] + _draw("01234", 1, g) + ")" * (length >= 3)
    left = _between(1, length - 3, g)
    return "(" + _expression(left, g) + _draw("+-*", 1, g) + _expression(length - 3 - left, g) + ")"


def _equation(length: int, g: torch.Generator | None) -> str:
    """An expression of length - 2 symbols with one digit replaced by z, '=' and its value; z is unique."""
    if length < 3:
        raise ValueError(f"length must be >= 3 (an expression, '=', its value), got {length}")
    while True:
        expr = _expression(length - 2, g)
        digits = [i for i, c in enumerate(expr) if c.isdigit()]
        for i in torch.randperm(len(digits), generator=g).tolist():
            left = expr[: digits[i]] + "z" + expr[digits[i] + 1 :]
            if (_evaluate(left, 1) - _evaluate(left, 0)) % MODULUS:  # affine in z with a slope != 0: one root
                return f"{left}={_evaluate(expr)}"


def _stack_input(length: int, g: torch.Generator | None) -> str:
    """A stack of 1 .. length - 1 symbols followed by actions (a single symbol when length = 1)."""
    size = _between(1, max(length - 1, 1) + 1, g)
    return _draw("ab", size, g) + _draw("pAB", length - size, g)


def _two_numbers(op: str, length: int, g: torch.Generator | None) -> str:
    """Two binary numbers >= 1 (leading zeros allowed) around ``op``, length symbols in all."""
    if length < 3:
        raise ValueError(f"length must be >= 3 (x, the operator, y), got {length}")
    left = _between(1, length - 1, g)
    return _nonzero_bits(left, g) + op + _nonzero_bits(length - 1 - left, g)


def _odd_length(length: int, g: torch.Generator | None) -> str:
    """Digits and operators in turn, d op d op ... d."""
    if length % 2 == 0:
        raise ValueError(f"length must be odd (digit, operator, ..., digit), got {length}")
    return "".join(_draw("01234" if i % 2 == 0 else "+-*", 1, g) for i in range(length))


def _doubled(length: int, g: torch.Generator | None) -> str:
    """A string w w of ``length`` symbols with one symbol replaced by '_'."""
    if length % 2:
        raise ValueError(f"length must be even (a string w w), got {length}")
    full = _draw("ab", length // 2, g) * 2
    hole = _between(0, length, g)
    return full[:hole] + "_" + full[hole + 1 :]


def _make(task: str, draw: Callable[[int, torch.Generator | None], str], rule: str) -> Callable:
    """A task function that draws an input with ``draw`` and answers it."""

    def generate(length: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        _checks.positive_int("length", length)
        _checks.generator(generator)
        text = draw(length, generator)
        reply = answer(task, text)
        reply = reply + PAD * (output_length(task, length) - len(reply))
        return encode(task, text), encode(task, reply, output=True)  # (length,), (output_length,)

    generate.__name__ = generate.__qualname__ = task
    generate.__module__ = __name__
    generate.__doc__ = (
        f"{rule} Returns (input (length,), target (output_length,)) int64. Chapter: positional-robustness."
    )
    return generate


def _uniform(symbols: str) -> Callable[[int, torch.Generator | None], str]:
    """A drawer of uniform strings over ``symbols``."""
    return lambda length, g: _draw(symbols, length, g)


even_pairs = _make("even_pairs", _uniform("ab"), "y iff the 2-grams ab and ba occur an even number of times.")
modular_arithmetic_simple = _make("modular_arithmetic_simple", _odd_length, "d op d ... d (* first), mod 5.")
parity_check = _make("parity_check", _uniform("ab"), "y iff the number of b is even.")
cycle_navigation = _make("cycle_navigation", _uniform("012"), "Sum of moves 0, +1, -1 from 0, mod 5.")
modular_arithmetic = _make("modular_arithmetic", _expression, "Expression with brackets, mod 5.")
reverse_string = _make("reverse_string", _uniform("ab"), "The string reversed.")
solve_equation = _make("solve_equation", _equation, "The z in 0..4 that solves 'expression=value' mod 5.")
stack_manipulation = _make("stack_manipulation", _stack_input, "Final stack, top first, after POP/PUSH, then '.'.")
binary_addition = _make("binary_addition", lambda n, g: _two_numbers("+", n, g), "x+y in binary, then '.'.")
binary_multiplication = _make("binary_multiplication", lambda n, g: _two_numbers("*", n, g), "x*y in binary, '.'.")
compute_sqrt = _make("compute_sqrt", _nonzero_bits, "floor(sqrt(x)) in ceil(n/2) bits.")
duplicate_string = _make("duplicate_string", _uniform("ab"), "The string twice, w -> w w.")
missing_duplicate = _make("missing_duplicate", _doubled, "The symbol that '_' hides in w w.")
odds_first = _make("odds_first", _uniform("ab"), "Symbols 1, 3, 5, ... then 2, 4, 6, ... (1-based).")
bucket_sort = _make("bucket_sort", _uniform("01234"), "The digits 0-4 sorted ascending.")

TASKS: dict[str, Callable[..., tuple[torch.Tensor, torch.Tensor]]] = {name: globals()[name] for name in ALPHABETS}


def sample(
    task: str, batch: int, length: int, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of one task: inputs (batch, length), targets (batch, output_length) int64.
    Chapter: positional-robustness."""
    _task(task)
    _checks.positive_int("batch", batch)
    pairs = [TASKS[task](length, generator) for _ in range(batch)]
    return torch.stack([x for x, _ in pairs]), torch.stack([y for _, y in pairs])  # (batch, L), (batch, L_out)
