"""One contract for every engine (backend.engines.base.Engine): the HF engine, the HF engine in a Ray actor, and vLLM
where vllm and a CUDA GPU exist. Each is checked against the model's own forward pass and, where it shares the HF
engine's engine_id, against the HF engine's samples."""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import time

import pytest
import torch

from backend.analysis.compute import model_shape
from backend.engines.base import Engine, SamplingParams
from backend.engines.hf import HFEngine
from backend.tasks import arith, get_task
from backend.zoo.registry import member_dir

PROMPTS = [p.prompt for p in arith.eval_split(2)[::3]]
SEP = get_task("arith").step_sep


@contextlib.contextmanager
def ray_or_skip(cm):
    """``cm``, skipping when Ray cannot start its local instance on a machine too loaded to start it in time (seen
    here at load averages near 15 on 2 cores); any other failure stays a failure."""
    try:
        with cm:
            yield
    except RuntimeError as e:
        if "did not start" not in str(e):
            raise
        pytest.skip(str(e))


def texts(gens):
    return [[g.text for g in row] for row in gens]


@pytest.fixture(scope="module")
def model_dir(micro_cache):
    return member_dir("micro-cot-a", micro_cache / "zoo")


@pytest.fixture(scope="module")
def reference(model_dir):
    return HFEngine.from_path(model_dir)


@pytest.fixture(scope="module", params=["hf", "ray", "vllm"])
def engine(request, model_dir, reference):
    if request.param == "hf":
        yield reference
    elif request.param == "ray":
        if importlib.util.find_spec("ray") is None:
            pytest.skip("needs ray (pip install -r requirements-scale.txt)")
        from backend.engines.ray import RayEngine, cluster

        with ray_or_skip(cluster(num_cpus=2)):  # a local instance on 127.0.0.1, stopped after this module's tests
            yield RayEngine(functools.partial(HFEngine.from_path, model_dir))
    else:
        if importlib.util.find_spec("vllm") is None or not torch.cuda.is_available():
            pytest.skip("needs vllm and a CUDA GPU")
        from backend.engines.vllm import VLLMEngine

        yield VLLMEngine.from_path(model_dir, dtype="float32", gpu_memory_utilization=0.3)


def test_engine_has_every_member_of_the_protocol(engine, reference):
    assert isinstance(engine, Engine)
    assert (engine.name, engine.n_params, engine.fingerprint) == (reference.name, reference.n_params,
                                                                  reference.fingerprint)
    assert engine.eos == reference.eos and engine.eos in engine.eos_ids
    assert model_shape(engine) == model_shape(reference)  # FLOPs are charged alike whatever ran the model
    assert engine.prompt_ids(PROMPTS[0]) == reference.prompt_ids(PROMPTS[0])
    assert engine.token_id(SEP) == reference.token_id(SEP)
    assert 1 <= engine.rows_per_pass(10, 50) and isinstance(engine.rows_per_pass(10, 50), int)


def test_samples_depend_only_on_seed_and_prompt_key(engine):
    sp = SamplingParams(n=6, temperature=1.0, max_new_tokens=40, seed=5)
    keys = [f"k{i}" for i in range(len(PROMPTS))]
    a = engine.sample(PROMPTS, sp, keys=keys)
    assert texts(engine.sample(PROMPTS, sp, keys=keys)) == texts(a)
    # another batch, another order, one prompt alone: each prompt keeps its samples (sharding changes nothing)
    rev = engine.sample(PROMPTS[::-1], sp, keys=keys[::-1])
    assert texts(rev[::-1]) == texts(a)
    assert texts(engine.sample(PROMPTS[3:4], sp, keys=keys[3:4])) == texts(a[3:4])
    other = engine.sample(PROMPTS, SamplingParams(n=6, temperature=1.0, max_new_tokens=40, seed=6), keys=keys)
    assert texts(other) != texts(a)
    assert len({g.text for g in a[0]}) > 1  # the n samples of a prompt are not one sample repeated


def test_same_engine_id_means_the_same_samples(engine, reference):
    if engine is reference:
        pytest.skip("the HF engine is the reference")
    if engine.engine_id != reference.engine_id:
        pytest.skip(f"{engine.engine_id} draws its own noise: its samples differ from the HF engine's")
    sp = SamplingParams(n=4, temperature=1.2, top_p=0.9, max_new_tokens=40, seed=9)
    ours, ref = engine.sample(PROMPTS, sp), reference.sample(PROMPTS, sp)
    assert [[(g.token_ids, g.finish_reason, g.prompt_tokens) for g in r] for r in ours] == \
        [[(g.token_ids, g.finish_reason, g.prompt_tokens) for g in r] for r in ref]
    assert [g.sum_logprob for r in ours for g in r] == pytest.approx([g.sum_logprob for r in ref for g in r], abs=1e-5)


def test_token_ids_text_and_raw_logprobs_agree_with_the_model(engine, reference):
    tol = 1e-4 if engine.engine_id == reference.engine_id else 2e-2  # per token; a GPU kernel rounds otherwise
    gens = engine.sample(PROMPTS[:4], SamplingParams(n=3, temperature=1.3, max_new_tokens=50, seed=1))
    for prompt, row in zip(PROMPTS[:4], gens):
        ids = engine.prompt_ids(prompt)
        for g in row:
            assert engine.decode(g.token_ids) == g.text
            assert g.prompt_tokens == len(ids) and len(g.logprobs) == g.gen_tokens == len(g.forced)
            with torch.no_grad():  # raw log-probs: log-softmax of the model's logits at temperature 1
                lp = torch.log_softmax(reference.model(torch.tensor([ids + g.token_ids])).logits[0].float(), -1)
            want = [float(lp[len(ids) - 1 + i, t]) for i, t in enumerate(g.token_ids)]
            assert g.logprobs == pytest.approx(want, abs=tol)


def test_greedy_takes_the_models_argmax(engine, reference):
    for prompt, (g,) in zip(PROMPTS, engine.sample(PROMPTS, SamplingParams(temperature=0, max_new_tokens=30))):
        ids = engine.prompt_ids(prompt)
        with torch.no_grad():
            logits = reference.model(torch.tensor([ids + g.token_ids])).logits[0].float()
        for i, t in enumerate(g.token_ids):
            row = logits[len(ids) - 1 + i]
            assert row[t] >= row.max() - 1e-4  # the chosen token is the top one (up to an exact tie)


def test_stops_at_eos_a_stop_token_a_stop_string_or_the_length_cap(engine):
    for row in engine.sample(PROMPTS, SamplingParams(n=4, temperature=1.0, max_new_tokens=7, seed=0)):
        for g in row:
            assert g.gen_tokens <= 7 and g.finish_reason in ("eos", "length")
            assert (g.finish_reason == "eos") == (g.token_ids[-1] in engine.eos_ids)
            assert (g.finish_reason == "length") == (g.gen_tokens == 7 and g.token_ids[-1] not in engine.eos_ids)
    sep = engine.token_id(SEP)
    steps = [g for r in engine.sample(PROMPTS, SamplingParams(n=4, temperature=1.0, max_new_tokens=60, seed=2),
                                      stop_ids=(sep,)) for g in r]
    assert any(g.finish_reason == "stop" for g in steps)
    for g in steps:  # a step ends at its separator, which is kept, and holds no other
        assert (g.finish_reason == "stop") == (g.token_ids[-1] == sep)
        assert sep not in g.token_ids[:-1]
    eq = [g for r in engine.sample(PROMPTS, SamplingParams(n=4, temperature=1.0, max_new_tokens=60, seed=2),
                                   stop_strings=("=",)) for g in r]
    assert any(g.finish_reason == "stop" for g in eq)
    for g in eq:
        assert (g.finish_reason == "stop") == g.text.endswith("=")
        assert "=" not in g.text[:-1]


def test_stream_yields_the_sample_that_sample_returns(engine):
    sp = SamplingParams(n=1, temperature=0.9, max_new_tokens=60, seed=2)
    *streamed, final = list(engine.stream(PROMPTS[2], sp, key="k"))
    (batch,), = engine.sample([PROMPTS[2]], sp, keys=["k"])
    assert "".join(t for t, _ in streamed) == batch.text == final.text
    assert (final.token_ids, final.finish_reason) == (batch.token_ids, batch.finish_reason)
    assert [lp for _, lp in streamed] == pytest.approx(batch.logprobs, abs=1e-5)
    stream = engine.stream(PROMPTS[2], sp, key="k")
    next(stream)
    stream.close()  # a closed stream releases the engine: the next call works
    assert texts(engine.sample([PROMPTS[2]], sp, keys=["k"])) == [[batch.text]]


def test_progress_reports_rows_and_tokens_and_max_rows_changes_nothing(engine):
    sp = SamplingParams(n=4, temperature=1.0, max_new_tokens=30, seed=4)
    seen = []
    gens = engine.sample(PROMPTS[:5], sp, progress=lambda *a: seen.append(a), max_rows=4)
    assert seen and seen[-1] == (20, 20, sum(g.gen_tokens for r in gens for g in r))
    assert [done for done, _, _ in seen] == sorted(done for done, _, _ in seen)
    assert texts(gens) == texts(engine.sample(PROMPTS[:5], sp))


class ForceTwoSeven:
    """Replaces the first generated token by '7', '7' (both marked forced); stateless, so it can travel to an actor."""

    def __init__(self, engine):
        self.seven = engine.token_id("7")

    def on_token(self, row, token, generated):
        return [self.seven, self.seven] if not generated else None


def test_a_token_controller_is_honoured_or_refused(engine):
    sp = SamplingParams(n=2, temperature=1.0, max_new_tokens=12, seed=0)
    if not engine.token_control:
        with pytest.raises(ValueError, match="controller"):
            engine.sample(PROMPTS[:2], sp, controller=ForceTwoSeven(engine))
        return
    for row in engine.sample(PROMPTS[:2], sp, controller=ForceTwoSeven(engine)):
        for g in row:
            assert g.text.startswith("77") and g.forced[:2] == [True, True] and not any(g.forced[2:])


def test_a_time_limit_is_honoured_or_refused(engine):
    sp = SamplingParams(n=64, temperature=2.0, max_new_tokens=4000)
    if not engine.time_limit:
        with pytest.raises(ValueError, match="time"):
            engine.sample(PROMPTS, sp, max_seconds=0.5)
        return
    t0 = time.monotonic()
    slow = engine.sample(PROMPTS * 5, sp, max_seconds=0.5)
    assert time.monotonic() - t0 < 30  # 3,840 rows of up to 4,000 tokens would take hours
    assert any(g.finish_reason == "time" for r in slow for g in r)


def test_unreadable_prompt_is_a_clear_error(engine):
    with pytest.raises(ValueError, match="'x'"):
        engine.sample(["Q:1+x\n"], SamplingParams(temperature=0))


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_the_vllm_engine_and_ray_options_say_what_they_need(use_cache, capsys):
    from backend.cli import main

    base = ["build-cache", "--models", "micro-cot-a", "--quick", "--per-cell", "1", "--kinds", "greedy", "--no-derive"]
    assert main(base + ["--engine", "vllm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the vllm engine needs vLLM and a CUDA GPU") and "requirements-vllm.txt" in err
    assert "\n" not in err
    assert main(base + ["--workers", "2"]) == 2
    assert capsys.readouterr().err.strip() == "error: --ray-address and --workers need --engine ray"
