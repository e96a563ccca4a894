"""Bring your own model: a tiny random Llama with a word-level tokenizer and a tiny GSM8K file, through
register-model and build-cache (the CLI), the runner and the store; and the gsm8k task adapter."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from backend.analysis.compute import sample_flops
from backend.cli import main
from backend.engines.base import SamplingParams
from backend.engines.hf import HFEngine
from backend.store import Store
from backend.tasks import get_task, gsm8k_prompts
from backend.models import model_fingerprint
from backend.zoo.tokenizer import build_tokenizer

PROBLEMS = [
    ("Tom has 3 apples and buys 4 more . How many apples does he have ?", "3 + 4 = <<3+4=7>>7\n#### 7"),
    ("A box holds 6 eggs . How many eggs are in 2 boxes ?", "6 * 2 = <<6*2=12>>12\n#### 12"),
    ("Sam had 10 cards and gave away 4 . How many are left ?", "10 - 4 = <<10-4=6>>6\n#### 6"),
    ("Tom has 3 apples and buys 4 more . How many apples does he have ?", "3 + 4 = <<3+4=7>>7\n#### 7"),  # repeat
]
CHAT = ("{% for m in messages %}<|user|> {{ m['content'] }} {% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}")
N, LIMIT, MAX_NEW = 4, 3, 12


def write_data(folder: Path) -> Path:
    path = folder / "mini.jsonl"
    path.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in PROBLEMS))
    return path


def tiny_model(folder: Path, chat: bool = False, seed: int = 0) -> Path:
    """A random 2-layer Llama over the words of PROBLEMS and the prompt format, with a BOS post-processor."""
    pre = pre_tokenizers.WhitespaceSplit()
    words = {w for q, a in PROBLEMS for text in (q, a) for w, _ in pre.pre_tokenize_str(text)}
    words |= {"Question:", "Answer:", "The", "answer", "is", *map(str, range(100))}
    specials = ["<pad>", "<eos>", "<unk>", "<s>"] + (["<|user|>", "<|assistant|>"] if chat else [])
    vocab = {w: i for i, w in enumerate(specials + sorted(words))}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre
    tk.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", vocab["<s>"])])
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>",
                                  bos_token="<s>", additional_special_tokens=specials[4:])
    if chat:
        tok.chat_template = CHAT
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, pad_token_id=0, eos_token_id=1, bos_token_id=3)
    folder.mkdir(parents=True, exist_ok=True)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TTC_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def weight_count(folder: Path) -> int:
    return sum(t.numel() for f in folder.glob("*.safetensors") for t in load_file(f).values())


def rows(sql: str, params=None):
    return Store().sql(sql, params)


def test_register_and_build_cache_end_to_end(tmp_path, cache, capsys):
    folder, data = tiny_model(tmp_path / "tiny"), write_data(tmp_path)
    assert main(["register-model", "tiny", str(folder)]) == 0
    entry = json.loads((cache / "models.json").read_text())["tiny"]
    assert entry["params"] == weight_count(folder) == sum(p.numel() for p in LlamaForCausalLM.from_pretrained(folder).parameters())
    assert entry["fingerprint"] == model_fingerprint(folder) and entry["task"] == "gsm8k" and entry["chat_template"] is False
    assert not list(cache.glob("*.tmp")) and not list(cache.glob(".*.tmp"))  # written by rename

    argv = ["build-cache", "--model", "tiny", "--task", "gsm8k", "--data", str(data), "--n", str(N),
            "--temperature", "1.0", "--limit", str(LIMIT), "--max-new-tokens", str(MAX_NEW)]
    assert main(argv) == 0
    assert "tiny sample n=4 T=1.0" in capsys.readouterr().out
    runs = rows("SELECT * FROM runs ORDER BY strategy")
    assert list(runs["strategy"]) == ["greedy", "sample"] and set(runs["model_params"]) == {entry["params"]}
    assert set(runs["task"]) == {"gsm8k"} and set(runs["model_fingerprint"]) == {entry["fingerprint"]}
    prompts = rows("SELECT * FROM prompts ORDER BY prompt_key")
    expected = gsm8k_prompts(data, LIMIT)
    assert sorted(prompts["prompt_key"]) == sorted(p.key for p in expected) and len(prompts) == LIMIT
    assert set(prompts["gold"]) == {"7", "12", "6"} and set(prompts["n_ops"]) == {1}

    samples = rows("SELECT s.*, r.strategy, p.text AS prompt_text, p.gold FROM samples s JOIN runs r USING (run_key) "
                   "JOIN prompts p USING (prompt_key)")
    per_prompt = samples.groupby(["strategy", "prompt_key"]).size()
    assert set(per_prompt["greedy"]) == {1} and set(per_prompt["sample"]) == {N} and len(per_prompt) == 2 * LIMIT
    tok, task = AutoTokenizer.from_pretrained(folder), get_task("gsm8k")
    config = {**json.loads((folder / "config.json").read_text()), "n_params": entry["params"]}
    for s in samples.itertuples():
        assert s.prompt_tokens == len(tok(s.prompt_text)["input_ids"])  # the BOS counts: the model reads it
        # DESIGN §5, per row: 2·N per token plus causal attention, from the model's own config
        assert s.flops == pytest.approx(sample_flops(config, s.prompt_tokens, s.gen_tokens), rel=1e-12)
        assert 1 <= s.gen_tokens <= MAX_NEW and s.answer == task.extract(s.text)
        assert s.correct == (s.answer is not None and s.answer == s.gold)
    assert len(set(samples[samples.strategy == "sample"]["text"])) > 1  # a real pool, not N copies

    before = sorted(p.name for p in (cache / "store" / "batches").iterdir())
    assert main(argv) == 0  # resumed: everything is stored, nothing is added
    assert sorted(p.name for p in (cache / "store" / "batches").iterdir()) == before


def test_a_folder_is_registered_under_its_name_and_chat_templates_apply(tmp_path, cache):
    plain, chat, data = tiny_model(tmp_path / "plain"), tiny_model(tmp_path / "chatty", chat=True), write_data(tmp_path)
    for folder in (plain, chat):
        assert main(["build-cache", "--model", str(folder), "--data", str(data), "--n", "2", "--limit", "1",
                     "--max-new-tokens", "4"]) == 0
    reg = json.loads((cache / "models.json").read_text())
    assert reg["plain"]["chat_template"] is False and reg["chatty"]["chat_template"] is True
    runs = rows("SELECT model, run_key, notes FROM runs")
    assert set(runs["model"]) == {"plain", "chatty"} and runs["run_key"].is_unique
    assert all("chat template applied" in n for n in runs[runs.model == "chatty"]["notes"])
    s = rows("SELECT s.prompt_tokens, p.text FROM samples s JOIN runs r USING (run_key) JOIN prompts p "
             "USING (prompt_key) WHERE r.model = 'chatty'")
    tok = AutoTokenizer.from_pretrained(chat)
    rendered = tok.apply_chat_template([{"role": "user", "content": s.text[0]}], add_generation_prompt=True,
                                       tokenize=False)
    assert rendered.startswith("<|user|> Question:") and rendered.endswith("<|assistant|>")
    assert set(s.prompt_tokens) == {len(tok(rendered, add_special_tokens=False)["input_ids"])}
    # registered again with the template off: the same model, another run key
    assert main(["register-model", "chatty", str(chat), "--chat-template", "off"]) == 0
    assert main(["build-cache", "--model", "chatty", "--data", str(data), "--n", "2", "--limit", "1",
                 "--max-new-tokens", "4"]) == 0
    assert len(rows("SELECT * FROM runs WHERE model = 'chatty'")) == 4


@pytest.mark.parametrize("argv, message", [
    (["register-model", "x", "{tmp}/missing"], "no model folder at"),
    (["register-model", "x", "{tmp}/empty"], "no *.safetensors weights"),
    (["register-model", "bad/name", "{tmp}/tiny"], "model name"),
    (["register-model", "x", "{tmp}/tiny", "--chat-template", "on"], "has no chat template"),
    (["build-cache", "--model", "{tmp}/missing", "--data", "{tmp}/mini.jsonl"], "no model folder at"),
    (["build-cache", "--model", "{tmp}/tiny", "--data", "{tmp}/broken.jsonl"], "broken.jsonl:2: malformed"),
    (["build-cache", "--model", "{tmp}/tiny", "--data", "{tmp}/nothere.jsonl"], "nothere.jsonl"),
    (["build-cache", "--model", "{tmp}/tiny"], "needs --data"),
    (["build-cache", "--data", "{tmp}/mini.jsonl"], "--data needs --model"),
    (["build-cache", "--model", "{tmp}/tiny", "--task", "gsm8kk"], "did you mean 'gsm8k'"),
])
def test_errors_are_one_clear_line(tmp_path, cache, capsys, argv, message):
    tiny_model(tmp_path / "tiny")
    (tmp_path / "empty").mkdir()
    write_data(tmp_path)
    (tmp_path / "broken.jsonl").write_text(json.dumps({"question": "q", "answer": "#### 1"}) + "\nnot json\n")
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_engine_stops_at_a_stop_string():
    """A random char-level model: every sample ends at its first "1" (kept), else at EOS or the length cap."""
    tok = build_tokenizer()
    torch.manual_seed(1)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, pad_token_id=0, eos_token_id=1)
    eng = HFEngine(LlamaForCausalLM(cfg), tok, "chars")
    gens = eng.sample(["Q:2+3", "Q:4*5"], SamplingParams(n=16, temperature=1.0, max_new_tokens=30), stop_strings=("1",))
    gens = [g for row in gens for g in row]
    assert {g.finish_reason for g in gens} >= {"stop"}
    for g in gens:
        assert (g.finish_reason == "stop") == g.text.endswith("1") and "1" not in g.text[:-1]


def test_gsm8k_task_adapter(tmp_path):
    task = get_task("gsm8k")
    assert task.extract("so 3+4=<<3+4=7>>7\n#### 7") == "7" and task.extract("The answer is $1,000.50.") == "1000.5"
    assert task.extract("18.0 eggs") == "18" and task.extract("nothing") is None
    text = "She has 16-3=<<16-3=13>>13 eggs\nand 13*2=<<13*2=25>>25 dollars\nThe answer is 25"
    assert task.step_texts(text) == text.splitlines() and task.step_labels(None, text) == [True, False, True]
    assert task.step_labels(None, "40/3=<<40/3=13.33>>13.33") == [True]  # a rounded calculator result is fine
    assert text[task.answer_start(text):] == "The answer is 25"
    assert task.answer_start("x\n#### 4\nThe answer is 5") == 2 and task.answer_start("so 4") == -1
    prompts = gsm8k_prompts(write_data(tmp_path))
    assert len(prompts) == 3 and all(p.key.startswith("gsm8k:") and p.task == "gsm8k" for p in prompts)  # deduped
    assert prompts[0].text == f"Question: {PROBLEMS[0][0]}\nAnswer:" and prompts[0].gold == "7"
    two = gsm8k_prompts(tmp_path / "mini.jsonl", limit=1, shots=2)
    assert len(two) == 1 and two[0].text.count("Question:") == 3 and "#### 12" in two[0].text
    assert PROBLEMS[0][1] not in two[0].text  # a question never sees its own solution
    with pytest.raises(ValueError, match="limit"):
        gsm8k_prompts(tmp_path / "mini.jsonl", limit=0)
    (tmp_path / "latin1.jsonl").write_bytes(b'{"question": "caf\xe9", "answer": "#### 1"}\n')
    with pytest.raises(ValueError, match="not UTF-8"):
        gsm8k_prompts(tmp_path / "latin1.jsonl")


def _refit(folder: Path, **config) -> Path:
    """Overwrite the config of a saved model with other values, weights untouched."""
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, **config}))
    return folder


def test_registration_refuses_token_ids_beyond_the_embeddings(tmp_path, cache):
    from backend.models import register_model
    from tests.helpers import random_word_model

    wide, narrow = random_word_model(tmp_path / "wide", vocab=80), random_word_model(tmp_path / "narrow", vocab=40)
    for name in ("config.json", "model.safetensors"):
        (wide / name).write_bytes((narrow / name).read_bytes())
    with pytest.raises(ValueError, match=r"token ids up to 79 but the model has embeddings for 40"):
        register_model("wide", wide)
    assert not (cache / "models.json").exists()
    register_model("narrow", narrow)  # its own tokenizer fits


@pytest.mark.parametrize("change, message", [
    ({"hidden_size": 64}, r"disagree on \d+ parameter\(s\), e\.g\. model\.embed_tokens\.weight is \(\d+, 64\)"),
    ({"num_hidden_layers": 3}, r"lack 9 parameter\(s\) that config\.json builds, e\.g\. model\.layers\.2\."),
    ({"vocab_size": 500}, r"model\.embed_tokens\.weight is \(500, 32\) in the config but \(\d+, 32\)"),
    ({"model_type": "no-such-arch"}, r"config\.json: transformers cannot build a causal LM"),
])
def test_registration_refuses_a_config_its_weights_do_not_match(tmp_path, cache, change, message):
    from backend.models import register_model

    folder = _refit(tiny_model(tmp_path / "m"), **change)
    with pytest.raises(ValueError, match=message):
        register_model("m", folder)
    assert not (cache / "models.json").exists()


def test_tied_embeddings_register(tmp_path, cache):
    """A checkpoint that stores a tied output layer once is complete, not missing a parameter."""
    from backend.models import register_model

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=60, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=2, tie_word_embeddings=True)
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "tied")
    keys = load_file(tmp_path / "tied" / "model.safetensors").keys()
    assert "lm_head.weight" not in keys  # stored once
    from tests.helpers import random_word_model

    random_word_model(tmp_path / "tok", vocab=60)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "tied" / f).write_bytes((tmp_path / "tok" / f).read_bytes())
    assert register_model("tied", tmp_path / "tied")["params"] == sum(
        p.numel() for p in LlamaForCausalLM(cfg).parameters())


def test_a_10b_config_over_tiny_weights_is_refused_without_allocating(tmp_path):
    """Under a 6 GiB address-space limit (a 10B float32 model needs 40 GB): refused from the headers, small RSS."""
    import subprocess
    import sys

    folder = _refit(tiny_model(tmp_path / "huge"), hidden_size=8192, intermediate_size=28672, num_hidden_layers=16,
                    num_attention_heads=64, num_key_value_heads=8)
    code = ("import resource, sys\nresource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))\n"
            "from backend.cli import main\nrc = main(['register-model', 'huge', sys.argv[1]])\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\nsys.exit(rc)\n")
    out = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[1],
                         env={**__import__("os").environ, "TTC_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"})
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.startswith("error: ") and "disagree" in out.stderr and "(143, 8192)" in out.stderr, out.stderr
    assert int(out.stdout.split()[-1]) < 1500  # MiB: the 10B model was never materialised
    assert not (tmp_path / "cache" / "models.json").exists()


def _swap_two_words(folder: Path) -> None:
    """The same vocabulary with the ids of two words exchanged: every prompt still reads, as other tokens."""
    spec = json.loads((folder / "tokenizer.json").read_text())
    vocab = spec["model"]["vocab"]
    vocab["apples"], vocab["eggs"] = vocab["eggs"], vocab["apples"]
    (folder / "tokenizer.json").write_text(json.dumps(spec))


def test_fingerprint_covers_config_and_tokenizer_of_registered_models(tmp_path, cache):
    """Variants of one set of weights that differ in tokenizer, chat template, generation or model config are
    different models; the zoo's weights-only fingerprint is untouched by the same changes (shipped run keys stay)."""
    import shutil

    from backend.models import model_fingerprint
    from backend.zoo.registry import fingerprint

    base = tiny_model(tmp_path / "base")
    variants = {"base": base}
    for name, edit in {
        "chat": lambda f: (f / "tokenizer_config.json").write_text(json.dumps(
            {**json.loads((f / "tokenizer_config.json").read_text()), "chat_template": CHAT})),
        "tokenizer": _swap_two_words,
        "generation": lambda f: (f / "generation_config.json").write_text(json.dumps({"eos_token_id": [1, 2]})),
        "config": lambda f: _refit(f, rope_theta=1234.0),
    }.items():
        shutil.copytree(base, tmp_path / name)
        edit(tmp_path / name)
        variants[name] = tmp_path / name
    prints = {name: model_fingerprint(f) for name, f in variants.items()}
    assert len(set(prints.values())) == len(variants), prints
    assert len({fingerprint(f) for f in variants.values()}) == 1  # weights-only: what the zoo's run keys use

    # one registered name whose tokenizer is replaced is a new model: the next build runs it again
    data, live = write_data(tmp_path), tmp_path / "live"
    shutil.copytree(base, live)
    argv = ["build-cache", "--model", str(live), "--data", str(data), "--n", "2", "--limit", "1",
            "--max-new-tokens", "4"]
    assert main(argv) == 0
    shutil.copy(variants["tokenizer"] / "tokenizer.json", live / "tokenizer.json")
    assert main(argv) == 0
    runs = rows("SELECT run_key, model_fingerprint FROM runs WHERE model = 'live'")
    assert len(runs) == 4 and runs["model_fingerprint"].nunique() == 2
