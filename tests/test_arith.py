import collections
import math
import random

import pytest

from backend.tasks import arith


def test_generation_is_deterministic_and_covers_cells():
    a = [arith.generate(o, d, random.Random(7)).expr for o, d in arith.cells()]
    b = [arith.generate(o, d, random.Random(7)).expr for o, d in arith.cells()]
    assert a == b
    for (o, d), expr in zip(arith.cells(), a):
        nums, ops = arith.tokens_of(expr)
        assert len(ops) == o
        for op, n in zip(ops, nums[1:]):
            assert (2 <= n <= 9) if op == "*" else len(str(n)) == d
    with pytest.raises(ValueError):
        arith.generate(7, 1, random.Random(0))


def test_heldout_split_is_disjoint_from_training_stream():
    held = {p.expr for p in arith.eval_split()}
    assert len(held) == len(arith.eval_split()) == 18 * arith.EVAL_PER_CELL
    stream = arith.train_stream(3)
    train = [next(stream).expr for _ in range(50_000)]
    assert not held & set(train)
    # easy cells are small enough that the stream would hit held-out expressions if it did not filter them
    raw = random.Random(3)
    assert any(arith.generate(1, 1, raw).expr in held for _ in range(2000))


def test_solver_matches_python_precedence_on_thousands():
    rng = random.Random(11)
    for _ in range(5000):
        p = arith.generate(rng.randint(1, 6), rng.randint(1, 3), rng)
        steps, ans = arith.solve(p.expr)
        assert ans == eval(p.expr)  # the expression is digits and + - * only
        assert len(steps) == p.n_ops


def test_checker_accepts_gold_traces_and_rejects_corruptions():
    rng = random.Random(5)
    for _ in range(3000):
        p = arith.generate(rng.randint(1, 6), rng.randint(1, 3), rng)
        text = arith.cot_text(p, rng, p_fix=0.3, p_recheck=0.2)
        parsed = arith.parse(text)
        assert parsed.answer == p.answer
        assert arith.trace_complete(p.expr, text)
        labels = arith.check_steps(p.expr, parsed.steps)
        # only a step corrected by the next "wait" step may be wrong
        for i, ok in enumerate(labels):
            if not ok:
                assert parsed.steps[i + 1].revises
        # corrupt one step's result without a fix: it and every later step become wrong
        steps = list(arith.parse(arith.cot_text(p)).steps)
        j = rng.randrange(len(steps))
        s = steps[j]
        steps[j] = arith.Step(s.raw, s.a, s.op, s.b, s.c + rng.choice([-1, 1, 10]))
        labels = arith.check_steps(p.expr, steps)
        assert labels[:j] == [True] * j and not any(labels[j:])
        assert arith.check_answer(p.expr, p.answer) and not arith.check_answer(p.expr, p.answer + 1)


def test_precedence_is_enforced_by_the_step_checker():
    # 2+3*4: adding before multiplying is an illegal step even though 2+3=5 is true
    bad = arith.parse("T:2+3=5;5*4=20\nA:20")
    assert arith.check_steps("2+3*4", bad.steps) == [False, False]
    # 9-2+3: left to right; 2+3 first is illegal
    assert arith.check_steps("9-2+3", arith.parse("T:2+3=5;9-5=4\nA:4").steps) == [False, False]
    good = arith.parse("T:3*4=12;2+12=14\nA:14")
    assert arith.check_steps("2+3*4", good.steps) == [True, True]


@pytest.mark.parametrize("text", [
    "", "A:", "A:-", "A:12x", "T:1+2=3\nA:3 4", "\x00\x01", "T:;;;;\nA:", "wait wait", "A:" + "9" * 40,
    "T:1+2=3;1+=;wait \nA:--3", "Q:1+2\n", "T:" + "1+2=3;" * 1000, None, 12,
])
def test_parser_never_raises_on_malformed_text(text):
    parsed = arith.parse(text)
    assert parsed.answer is None
    assert arith.check_steps("1+2", parsed.steps) is not None


def test_parser_reads_steps_and_answer():
    p = arith.parse("T:243*6=1448;wait 243*6=1458;1+1=2\nA:-341")
    assert p.answer == -341
    assert [s.revises for s in p.steps] == [False, True, False]
    assert (p.steps[1].a, p.steps[1].op, p.steps[1].b, p.steps[1].c) == (243, "*", 6, 1458)
    assert arith.parse("A:17").answer == 17
    assert arith.parse("T:1+2=3;1+\nA:3").steps[1].a is None


def test_corrupted_traces_have_exactly_one_slip_and_a_wrong_answer():
    rng = random.Random(2)
    for _ in range(2000):
        p = arith.generate(rng.randint(1, 6), rng.randint(1, 3), rng)
        text = arith.corrupted_cot(p, rng)
        parsed = arith.parse(text)
        labels = arith.check_steps(p.expr, parsed.steps)
        first_bad = labels.index(False)
        assert all(labels[:first_bad]) and not any(labels[first_bad:])
        assert len(parsed.steps) == p.n_ops and "wait" not in text
        # every step after the slip is arithmetically right: the error is carried, not repeated
        assert all(s.c == (s.a + s.b if s.op == "+" else s.a - s.b if s.op == "-" else s.a * s.b)
                   for s in parsed.steps[first_bad + 1:])


def _n_paths(expr: str) -> int:
    """Legal paths by counting: p! orders of the p multiplications, then C(m,2) pairs at each of m terms."""
    nums, ops = arith.tokens_of(expr)
    n_terms = 1 + sum(op != "*" for op in ops)
    return math.factorial(ops.count("*")) * math.prod(math.comb(j, 2) for j in range(2, n_terms + 1))


@pytest.mark.parametrize("expr", ["486-389+12", "2*3*4", "7+2*3-5*4", "31-17*4*3+50-9", "9*8-7*6+5*4"])
def test_every_legal_path_is_enumerated_and_accepted(expr):
    paths = arith.all_paths(expr)
    assert len(paths) == _n_paths(expr)  # these expressions have distinct intermediate values
    for steps in paths:
        text = "T:" + ";".join(f"{a}{op}{b}={c}" for a, op, b, c in steps) + f"\nA:{eval(expr)}"
        assert steps[-1][3] == eval(expr)
        assert arith.check_steps(expr, arith.parse(text).steps) == [True] * len(steps)
        assert arith.trace_complete(expr, text)
    assert arith.solve(expr)[0] in paths


def test_paths_are_drawn_uniformly():
    expr = "7+2*3-5*4"  # 2! * C(3,2) * C(2,2) = 6 paths
    rng = random.Random(0)
    counts = collections.Counter(arith.path_steps(expr, rng) for _ in range(12_000))
    assert set(counts) == arith.all_paths(expr)
    for c in counts.values():  # 2000 expected each; 5 standard deviations is about 200
        assert abs(c - 2000) < 200


def test_any_order_of_signed_terms_is_legal_and_precedence_still_holds():
    for text in ("T:486-389=97;97+12=109\nA:109", "T:12-389=-377;486-377=109\nA:109",
                 "T:-389+12=-377;486-377=109\nA:109", "T:486+12=498;498-389=109\nA:109"):
        assert arith.trace_complete("486-389+12", text), text
    # a sign must travel with its term: 389 is subtracted, so "389+12" is not a legal step
    assert arith.check_steps("486-389+12", arith.parse("T:389+12=401;486-401=85\nA:85").steps) == [False, False]
    # finished terms may be combined while another product is pending
    assert arith.check_steps("5+3+2*4", arith.parse("T:5+3=8;2*4=8;8+8=16\nA:16").steps) == [True] * 3
    # a product's factor is not a term of its own
    assert arith.check_steps("5+3*4", arith.parse("T:5+3=8;8*4=32\nA:32").steps) == [False, False]


def test_the_same_factors_in_two_products_keep_both_states():
    # 2*3 occurs in both products; whichever it was, the trace stays legal
    text = "T:2*3=6;6*4=24;2*3=6;24-6=18\nA:18"
    assert arith.check_steps("2*3*4-2*3", arith.parse(text).steps) == [True] * 4


def test_multi_path_traces_with_wait_and_corruptions_check_as_before():
    rng = random.Random(9)
    for _ in range(2000):
        p = arith.generate(rng.randint(1, 6), rng.randint(1, 3), rng)
        text = arith.cot_text(p, rng, p_fix=0.3, p_recheck=0.2, path_rng=rng)
        assert arith.trace_complete(p.expr, text)
        labels = arith.check_steps(p.expr, arith.parse(text).steps)
        assert all(ok or arith.parse(text).steps[i + 1].revises for i, ok in enumerate(labels))
        bad = arith.parse(arith.corrupted_cot(p, rng, paths="multi"))
        labels = arith.check_steps(p.expr, bad.steps)
        first = labels.index(False)
        assert all(labels[:first]) and not any(labels[first:])


def test_single_path_data_is_unchanged_by_the_paths_knob():
    # the canonical trace of a known expression, as every shipped single-path member was trained on
    p = arith.Problem("616+243*6-645*4+847", 4, 3)
    assert arith.cot_text(p) == "T:243*6=1458;645*4=2580;616+1458=2074;2074-2580=-506;-506+847=341\nA:341"
    assert arith.completion(p, "cot", random.Random(1), 0.5, 0.5) == arith.cot_text(p, random.Random(1), 0.5, 0.5)
    with pytest.raises(ValueError):
        arith.corrupted_cot(p, random.Random(0), paths="many")
