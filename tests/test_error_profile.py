"""The error profile against brute force: majority over every k-subset enumerated, and hand-counted agreement."""
import itertools
import math
import random
from collections import Counter

import numpy as np
import pytest

from backend.analysis import error_profile as EP


def _brute_majority(answers, gold, k):
    total = 0.0
    for subset in itertools.combinations(answers, k):
        counts = Counter(a for a in subset if a is not None)
        if not counts:
            continue
        top = max(counts.values())
        winners = [a for a, c in counts.items() if c == top]
        total += (gold in winners) / len(winners)
    return total / math.comb(len(answers), k)


def test_per_prompt_numbers_match_brute_force():
    rng = random.Random(3)
    answers = [[rng.choice(["1", "2", "3", None]) for _ in range(9)] for _ in range(20)]
    gold = ["1"] * 20
    df = EP.per_prompt(answers, gold, ks=(3, 5))
    for i, (ans, g) in enumerate(zip(answers, gold)):
        assert df["maj@3"][i] == pytest.approx(_brute_majority(ans, g, 3), abs=1e-12)
        assert df["maj@5"][i] == pytest.approx(_brute_majority(ans, g, 5), abs=1e-12)
        assert df["pass1"][i] == sum(a == g for a in ans) / 9


def test_agreement_and_majority_wrong_by_hand():
    # wrong samples: 7, 7, 7, 8, None -> 3 of 5 agree with the modal wrong answer
    ans = ["5", "7", "7", "7", "8", None, "5"]
    df = EP.per_prompt([ans], ["5"], ks=())
    assert df["error_agreement"][0] == pytest.approx(3 / 5)
    assert df["majority_wrong_some_right"][0] == 1.0  # 7 wins 3 to 2 while 5 is right twice
    tie = EP.per_prompt([["5", "7"]], ["5"], ks=())
    assert tie["majority_wrong_some_right"][0] == 1.0 and np.isnan(tie["error_agreement"][0])
    right = EP.per_prompt([["5", "5", "7"]], ["5"], ks=())
    assert right["majority_wrong_some_right"][0] == 0.0
    none_right = EP.per_prompt([["6", "7"]], ["5"], ks=())
    assert none_right["majority_wrong_some_right"][0] == 0.0 and none_right["coverage"][0] == 0.0


def test_profile_reports_means_with_cis_and_no_value_beyond_the_pool():
    rng = random.Random(1)
    answers = [[rng.choice(["1", "2"]) for _ in range(10)] for _ in range(30)]
    out = EP.profile(answers, ["1"] * 30, ks=(8, 24), n_boot=200)
    assert out["n"] == 10 and out["prompts"] == 30
    assert out["pass1_lo"] <= out["pass1"] <= out["pass1_hi"]
    assert np.isnan(out["maj24_gain"])  # a pool of 10 has no maj@24
    assert out["maj8_gain"] == pytest.approx(np.mean(
        [_brute_majority(a, "1", 8) - sum(x == "1" for x in a) / 10 for a in answers]), abs=1e-9)


def test_profile_table_lists_every_pool_with_its_source(on_app_cache):
    from backend import explore
    from backend.analysis import data
    from backend.analysis.error_profile import profile_table

    store = explore.store()
    table = profile_table(store, n_boot=100)
    runs = data.load_runs(store, "sample")
    assert len(table) and set(table["source"]) <= set(runs["source"]) and "pass1" in table.columns
