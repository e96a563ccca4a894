import itertools
import random

import numpy as np
import pytest

from backend.analysis.spread import expected_distinct


def test_expected_distinct_matches_brute_force_over_all_subsets():
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 8)
        answers = [rng.choice("abcd") for _ in range(n)]
        k = rng.randint(1, n)
        brute = np.mean([len(set(c)) for c in itertools.combinations(answers, k)])
        counts = [answers.count(a) for a in set(answers)]
        assert expected_distinct(counts, k) == pytest.approx(brute)


def test_expected_distinct_rejects_bad_input():
    for counts, k in (([], 1), ([2, 1], 0), ([2, 1], 4), ([-1, 3], 1)):
        with pytest.raises(ValueError):
            expected_distinct(counts, k)
