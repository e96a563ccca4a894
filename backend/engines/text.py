"""Text <-> token ids for one model, shared by every engine that runs a transformers checkpoint (HF, vLLM, and the
Ray wrapper's local copy): the same tokenizer, chat template and BOS rule give every engine the same prompt ids."""
from __future__ import annotations


def end_ids(tokenizer, generation_config=None) -> frozenset[int]:
    """Tokens that end a sample: the tokenizer's EOS plus the end-of-turn tokens a chat model's generation config
    lists (<|eot_id|>, <|im_end|>)."""
    gen_eos = getattr(generation_config, "eos_token_id", None)
    gen_eos = gen_eos if isinstance(gen_eos, (list, tuple)) else [gen_eos]
    return frozenset(int(t) for t in [tokenizer.eos_token_id, *gen_eos] if t is not None)


class TextCodec:
    """Mixin over ``self.tok`` (a transformers tokenizer), ``self.name`` and ``self.chat_template``."""

    tok: object
    name: str
    chat_template: bool

    def encode(self, text: str, special_tokens: bool = False) -> list[int]:
        """Token ids of ``text`` (with the tokenizer's own BOS etc. when ``special_tokens``); ValueError naming
        the characters the tokenizer cannot read."""
        ids = self.tok(text, add_special_tokens=special_tokens)["input_ids"]
        unk = self.tok.unk_token_id
        if unk is not None and unk in ids:
            bad = sorted({c for c in text if unk in self.tok(c, add_special_tokens=False)["input_ids"]})
            raise ValueError(f"model {self.name} cannot read these characters: {', '.join(map(repr, bad))}")
        if not ids or not text:
            raise ValueError("empty prompt")
        return ids

    def render(self, prompt: str) -> str:
        """The text the model reads for ``prompt``: itself, or one user turn of the chat template."""
        if not self.chat_template:
            return prompt
        return self.tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                            tokenize=False)

    def prompt_ids(self, prompt: str) -> list[int]:
        """Token ids the model reads for ``prompt``: a chat template writes its own BOS, plain text gets the
        tokenizer's (a Llama base model expects one; the zoo tokenizer adds none)."""
        return self.encode(self.render(prompt), special_tokens=not self.chat_template)

    def token_id(self, text: str) -> int:
        ids = self.encode(text)
        if len(ids) != 1:
            raise ValueError(f"{text!r} is not a single token for model {self.name}")
        return ids[0]

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=True)
