"""The zoo: a micro training run learns (loss drops), saves a complete card, resumes, and the saved member loads
through AutoModelForCausalLM / AutoTokenizer (safetensors, no remote code) and writes a parseable answer."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from backend.paths import ROOT
from backend.tasks import arith
from backend.zoo import registry
from backend.zoo.configs import QUICK
from backend.zoo.tokenizer import build_tokenizer
from backend.zoo.train import build_model, pool_batches, train_member

SHIPPED = ROOT / "cache" / "zoo"


def _loss(model, batches) -> float:
    model.eval()
    with torch.no_grad():
        return sum(float(model(**b).loss) for b in batches) / len(batches)


def test_micro_training_lowers_the_loss(use_cache):
    spec = QUICK[0]
    tok = build_tokenizer()
    fresh = build_model(spec, len(tok)).float()
    held = pool_batches(spec, tok, 10_000)[:4]  # a pool the micro run never reached
    trained = AutoModelForCausalLM.from_pretrained(registry.member_dir(spec.name, use_cache / "zoo"),
                                                   trust_remote_code=False, dtype=torch.float32)
    before, after = _loss(fresh, held), _loss(trained, held)
    assert after < 0.5 * before, (before, after)


def test_shipped_member_loads_with_auto_classes_and_answers_parseably():
    folder = registry.member_dir("cot-0.1m", SHIPPED)  # the smallest shipped member; the micro zoo barely parses
    assert (folder / "model.safetensors").exists()
    model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=False, use_safetensors=True)
    tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    parsed = 0
    for problem in arith.eval_split(1)[:6]:
        ids = tok(problem.prompt, return_tensors="pt", add_special_tokens=False)
        out = model.generate(**ids, do_sample=False, max_new_tokens=120, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id)
        text = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
        parsed += arith.parse(text).answer is not None
    assert parsed >= 5, parsed


def test_card_holds_the_measured_facts(use_cache):
    card = registry.read_card("micro-cot-a", use_cache / "zoo")
    folder = registry.member_dir("micro-cot-a", use_cache / "zoo")
    assert card["params"] == registry.count_params(folder)
    assert card["training_flops"] == pytest.approx(6 * card["params"] * card["training_tokens"])
    for field in ("layers", "width", "heads", "wall_time_s", "device", "seed", "data_recipe", "heldout_greedy"):
        assert field in card, field
    assert card["training_tokens"] >= QUICK[0].train_tokens
    ckpt = registry.read_card("micro-cot-a@0.4M", use_cache / "zoo")
    assert ckpt["checkpoint_of"] == "micro-cot-a" and ckpt["training_tokens"] < card["training_tokens"]


def test_training_resumes_where_it_stopped(tmp_path):
    spec = dataclasses.replace(QUICK[2], train_tokens=60_000, checkpoints=())
    first = train_member(spec, device="cpu", root=tmp_path / "zoo", state_dir=tmp_path / "state", evaluate=False,
                         quiet=True)
    longer = dataclasses.replace(spec, train_tokens=120_000)
    second = train_member(longer, device="cpu", root=tmp_path / "zoo", state_dir=tmp_path / "state",
                          evaluate=False, quiet=True)
    assert second["steps"] > first["steps"]
    assert second["training_tokens"] - first["training_tokens"] < 0.6 * second["training_tokens"]


def test_seed_spread_reports_every_family_with_seeds_in_every_variant():
    """cot-0.1m-s2 (seed 2) sorts before cot-0.1m (seed 1234): the family is still reported, once, with all its
    seeds; and the multi-path variant's family is reported too (not only the default variant's)."""
    from backend.analysis import data, summary

    cards = registry.list_cards(ROOT / "cache" / "zoo")
    names = {c["name"] for c in cards}
    if "cot-0.1m-s2" not in names:
        pytest.skip("the shipped zoo holds no second training seed")
    spread = summary.seed_spread(data.model_table(cards=cards), cards)
    table = summary.zoo_table(cards).set_index("model")
    for family in ("cot-0.1m", "cot-0.1m-multi"):
        seeds = sorted(n for n in names if n == family or n.startswith(f"{family}-s"))
        if len(seeds) < 2:
            continue
        row = spread[spread["model"] == family]
        acc = table.loc[seeds, "all"].astype(float)
        assert len(row) == 1 and int(row["seeds"].iloc[0]) == len(seeds), (family, spread)
        assert row["mean"].iloc[0] == pytest.approx(acc.mean()) and row["sd"].iloc[0] == pytest.approx(acc.std(ddof=1))
