"""GSM8K task and readers on the real public files in shared/data/gsm8k-real (read in place, never copied)."""
from collections import Counter
from pathlib import Path

import pytest

from backend.tasks import gsm8k as g
from backend.tasks import gsm8k_sources as src

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k-real"
if not DATA.is_dir():
    pytest.skip(f"real GSM8K files not found at {DATA} (see README: where to get them)", allow_module_level=True)

GPT3 = DATA / "gsm8k_gpt3_6b_175b_verifier_solutions.jsonl"
POT = DATA / "llama2-13b_gsm8k_pot1_400x24.json"
SFT = DATA / "llama2-7b-sft_gsm8k_10x500.jsonl"
# the labels come from the authors' graders reading the same final line we read ("A: N", "The answer is N"); a
# sound extractor may differ only on malformed endings, which their graders mark "[invalid]": at most 1 in 1000
MIN_AGREEMENT = 0.999


@pytest.fixture(scope="module")
def test_set():
    return g.load_jsonl(DATA / "gsm8k_test.jsonl")


@pytest.fixture(scope="module")
def imported(test_set):
    """file name -> (sets, matched pairs, unmatched)."""
    out = {}
    for path in (GPT3, POT, SFT):
        sets = src.read_generations(path)
        out[path.name] = (sets, *src.match_to_test(sets, test_set))
    return out


def _agreement(pairs):
    """(labelled samples, agreements, disagreements) of our correctness vs the file's label."""
    n, agree, dis = 0, 0, []
    for s, p in pairs:
        for x in s.samples:
            if x.label_from_file is not None:
                n += 1
                if g.answers_equal(x.answer, p.gold) == x.label_from_file:
                    agree += 1
                else:
                    dis.append((p.key, p.gold, x.answer, x.answer_from_file, x.extra, (x.text or "")[-120:]))
    return n, agree, dis


def test_test_set_and_gold_annotations(test_set):
    assert len(test_set) == 1319 and len({p.key for p in test_set}) == 1319
    assert all(g.answers_equal(g.extract_answer(p.solution), p.gold) for p in test_set)
    verdicts = [ok for p in test_set for ok in g.check_annotations(p.solution)]
    rate = sum(verdicts) / len(verdicts)
    print(f"gold annotations: {sum(verdicts)}/{len(verdicts)} pass ({rate:.4f})")
    assert len(verdicts) == 4282 and rate == 1.0  # including the one fraction-valued "<<3/4=3/4>>"
    assert all(all(g.step_labels(p.solution)) for p in test_set)


def test_formats_are_detected():
    assert [src.detect_format(p) for p in (DATA / "gsm8k_test.jsonl", GPT3, POT, SFT)] == list(src.FORMATS)


def test_every_set_matches_a_test_question(imported):
    for name, (sets, matched, unmatched) in imported.items():
        print(f"{name}: {len(sets)} sets, {len(matched)} matched, {len(unmatched)} unmatched")
        assert not unmatched and len(matched) == len(sets)
        assert all(g.answers_equal(s.gold_from_file, p.gold) for s, p in matched)


def test_gpt3_counts_and_label_agreement(imported):
    sets, matched, _ = imported[GPT3.name]
    by_source = Counter(s.source_label for s in sets)
    assert by_source == {label: 1319 for label in src.GPT3_SOURCES.values()}
    assert all(len(s.samples) == 1 for s in sets)
    for label in src.GPT3_SOURCES.values():
        n, agree, dis = _agreement([(s, p) for s, p in matched if s.source_label == label])
        print(f"{label}: agreement {agree}/{n} ({agree / n:.4f}); disagreements {dis[:3]}")
        assert n == 1319 and agree / n >= MIN_AGREEMENT


def test_pot_counts_and_majority(imported):
    sets, matched, _ = imported[POT.name]
    samples = [x for s in sets for x in s.samples]
    assert len(sets) == 400 and len(samples) == 400 * 24
    assert sum(x.answer_from_file is not None for x in samples) == 8641  # executed programs; 959 failed
    assert sum(x.extra.get("failed", False) for x in samples) == 959
    assert sum(x.text is not None for x in samples) == 244 * 24  # only sets with no failure pair text and answer
    assert all(x.label_from_file is None for x in samples)  # this file has no per-sample labels
    # no labels to agree with: check instead that our answers reproduce the file's majority vote exactly
    for s in sets:
        votes = Counter(x.answer for x in s.samples if x.answer is not None)
        mine = votes.most_common(1)[0][0] if votes else None
        assert (mine is None and s.extra["prediction_from_file"] is None) or g.answers_equal(
            mine, s.extra["prediction_from_file"]
        )
    correct = sum(g.answers_equal(x.answer, p.gold) for s, p in matched for x in s.samples)
    print(f"pot: {correct}/{len(samples)} samples correct (failed programs count wrong)")
    assert correct == 2613


def test_sft_counts_and_label_agreement(imported):
    sets, matched, _ = imported[SFT.name]
    assert len(sets) == 10 and all(len(s.samples) == 500 for s in sets)
    invalid = [x for s in sets for x in s.samples if "raw_label" in x.extra]
    assert len(invalid) == 61 and all(x.answer_from_file == "[invalid]" for x in invalid)
    n, agree, dis = _agreement(matched)
    print(f"sft: agreement {agree}/{n} ({agree / n:.4f}); disagreements {dis}")
    assert n == 5000 and agree / n >= MIN_AGREEMENT
    # every disagreement is a sample the file's grader could not parse, never one it graded
    assert all("raw_label" in d[4] for d in dis)
