import random

import pytest
from transformers import AutoTokenizer

from backend.tasks import arith
from backend.zoo.tokenizer import ALPHABET, build_tokenizer, check_text, unreadable_chars


def test_round_trip_exact_and_one_token_per_char(tmp_path):
    tok = build_tokenizer()
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    rng = random.Random(0)
    for _ in range(500):
        p = arith.generate(rng.randint(1, 6), rng.randint(1, 3), rng)
        text = p.prompt + arith.cot_text(p, rng, 0.5, 0.5)
        for t in (tok, loaded):
            ids = t(text, add_special_tokens=False)["input_ids"]
            assert len(ids) == len(text)
            assert t.decode(ids) == text
    assert loaded.eos_token_id == tok.eos_token_id and loaded.pad_token_id == tok.pad_token_id
    whitespace = "  \n\n :;"
    assert loaded.decode(loaded(whitespace, add_special_tokens=False)["input_ids"]) == whitespace


def test_unknown_characters_are_named_not_silently_unk():
    tok = build_tokenizer()
    assert unreadable_chars(tok, ALPHABET) == []
    with pytest.raises(ValueError, match=r"'x'.*'é'"):
        check_text(tok, "Q:1+x\né")
