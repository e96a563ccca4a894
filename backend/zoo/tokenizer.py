"""Character-level tokenizer for the zoo, built with `tokenizers` and saved as a `PreTrainedTokenizerFast`.

One token per character (so token counts are character counts), a ``Fuse`` decoder for an exact round trip, and
an explicit alphabet: text with a character outside it is rejected by :func:`check_text` with the characters named,
never silently mapped to ``<unk>``.
"""
from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

ALPHABET = "0123456789+-*=;: \nQTAwait"
PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"


def build_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {PAD: 0, EOS: 1, UNK: 2}
    for ch in ALPHABET:
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, eos_token=EOS, unk_token=UNK, clean_up_tokenization_spaces=False
    )


def unreadable_chars(tokenizer, text: str) -> list[str]:
    """Characters of ``text`` that the tokenizer has no token for (in order of first appearance)."""
    vocab = tokenizer.get_vocab()
    out: list[str] = []
    for ch in text:
        if ch not in vocab and ch not in out:
            out.append(ch)
    return out


def check_text(tokenizer, text: str) -> None:
    """Raise ValueError naming every character the model cannot read (character-level tokenizers only)."""
    bad = unreadable_chars(tokenizer, text)
    if bad:
        shown = ", ".join(repr(c) for c in bad[:10])
        raise ValueError(f"the model cannot read these characters: {shown}; use only {ALPHABET!r}")
