import random

import pytest

from backend.analysis.metrics import auroc, within_group_auroc
from backend.tasks import arith, arith_record
from backend.verifiers import aggregate, cost, get_verifier
from backend.verifiers.learned import score_positions


def _gold(n=300, seed=0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        p = arith.generate(rng.randint(1, 6), rng.randint(1, 3), rng)
        out.append((arith_record(p), arith.cot_text(p, rng, p_fix=0.3, p_recheck=0.2)))
    return out


def test_step_checker_accepts_gold_and_rejects_a_corrupted_step():
    steps = get_verifier("steps")
    for rec, text in _gold():
        scores = steps.score([rec], [text])[0]
        assert aggregate(scores, "last") == 1.0
        assert len(scores) == len(arith.parse(text).steps) + 1  # steps + the outcome
        parsed = arith.parse(arith.cot_text(arith.Problem(rec.question, rec.n_ops, rec.digits)))
        s = parsed.steps[0]
        bad = text.replace(f"{s.a}{s.op}{s.b}={s.c}", f"{s.a}{s.op}{s.b}={s.c + 1}", 1)
        if bad != text and "wait" not in text:
            got = steps.score([rec], [bad])[0]
            assert got[0] == 0.0 and aggregate(got, "min") == 0.0 and aggregate(got, "prod") == 0.0


def test_oracle_scores_by_the_final_answer():
    oracle = get_verifier("oracle")
    rec, text = _gold(1)[0]
    assert set(oracle.score([rec], [text])[0]) == {1.0}
    assert set(oracle.score([rec], [text.rsplit("A:", 1)[0] + "A:999999999"])[0]) == {0.0}


def test_rule_based_verifiers_are_charged_at_zero():
    rec, text = _gold(1)[0]
    for name in ("oracle", "steps"):
        tokens, flops = cost(get_verifier(name), [rec], [text])
        assert tokens == len(rec.text) + len(text) and flops == 0.0


def test_noisy_wrapper_error_rate_is_what_was_asked():
    base, data = get_verifier("steps"), _gold(400, seed=3)
    for rate in (0.1, 0.3):
        noisy = get_verifier(f"noisy:steps:{rate}")
        flips = total = 0
        for rec, text in data:
            a, b = base.score([rec], [text])[0], noisy.score([rec], [text])[0]
            flips += sum(x != y for x, y in zip(a, b))
            total += len(a)
        se = (rate * (1 - rate) / total) ** 0.5
        assert abs(flips / total - rate) < 4 * se, (rate, flips / total)
        assert noisy.score([data[0][0]], [data[0][1]]) == noisy.score([data[0][0]], [data[0][1]])  # deterministic


def test_unknown_verifier_suggests_a_name():
    with pytest.raises(KeyError, match="did you mean 'steps'"):
        get_verifier("step")
    with pytest.raises(ValueError):
        aggregate([0.5], "mean")


def test_score_positions_match_step_labels():
    steps = get_verifier("steps")
    for rec, text in _gold(200, seed=5):
        for cut in (text, text[: text.find(";") + 1] if ";" in text else text):
            pos = score_positions(len(rec.text), cut, ";", "\nA:")
            assert len(pos) == len(steps.score([rec], [cut])[0])
            assert all(len(rec.text) <= p < len(rec.text) + len(cut) for p in pos)


def test_auroc_against_brute_force():
    rng = random.Random(0)
    for _ in range(50):
        y = [rng.random() < 0.4 for _ in range(30)]
        s = [rng.choice([0.1, 0.2, 0.5, 0.9]) for _ in range(30)]
        if all(y) or not any(y):
            continue
        pairs = [(a, b) for a, ya in zip(s, y) if ya for b, yb in zip(s, y) if not yb]
        brute = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)
        assert auroc(y, s) == pytest.approx(brute)


def test_within_prompt_auroc_sees_through_prompt_difficulty():
    # the score ranks prompts (easy prompt high) but, inside each prompt, ranks wrong samples above right ones
    y = [1, 1, 1, 0, 1, 0, 0, 0]
    s = [0.90, 0.80, 0.70, 0.95, 0.05, 0.30, 0.10, 0.15]
    g = [0, 0, 0, 0, 1, 1, 1, 1]
    assert auroc(y, s) > 0.5
    within, n = within_group_auroc(y, s, g)
    assert n == 2
    assert within == pytest.approx((auroc(y[:4], s[:4]) + auroc(y[4:], s[4:])) / 2)
    assert within == pytest.approx(0.0)
    with pytest.raises(ValueError):
        within_group_auroc([1, 1], [0.1, 0.2], [0, 1])
