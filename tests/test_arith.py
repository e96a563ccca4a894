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
