"""Import speed per format: ``python -m backend.importers.bench [--problems 500] [--n 16] [--real DIR]``.

Writes a file of each format at a realistic size (``--problems`` × ``--n`` samples of ~300-token step-by-step
completions, MATH-style boxed answers in several equivalent forms, PRM step scores), imports each into a fresh
temporary store, and prints samples imported per second (reading, checking every answer, planning and the one
commit). ``--real DIR`` also times the published GSM8K files found there (shared/data/gsm8k-real).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import tempfile
import time
from pathlib import Path

from backend.importers import import_file
from backend.store import Store

# gold answer -> an equivalent form (what checking by value, not by string, has to recognise)
FORMS = [("\\frac{{{a}}}{{{b}}}", "\\dfrac{{{a}}}{{{b}}}"), ("{a}\\sqrt{{{b}}}", "{a}\\sqrt{{{b}}}"),
         ("{a}", "{a}.0"), ("({a}, {b})", "\\left( {a}, {b} \\right)"), ("[{a}, {b})", "[{a},{b})"),
         ("{a}^\\circ", "{a}")]
STEP = ("## Step {i}: Work out the next quantity\nWe have {x} + {y} = {z}, and multiplying by the factor from the "
        "previous step gives the expression we need for the rest of the problem.")


def _problem(rng: random.Random, i: int, n: int) -> dict:
    gold_t, alt_t = FORMS[i % len(FORMS)]
    a, b = rng.randint(2, 40), rng.randint(41, 97)
    gold, alt = gold_t.format(a=a, b=b), alt_t.format(a=a, b=b)
    wrong = [gold_t.format(a=a + d, b=b) for d in (1, 2, 3)]
    completions, scores, tokens = [], [], []
    for _ in range(n):
        r = rng.random()
        ans = gold if r < 0.45 else alt if r < 0.6 else rng.choice(wrong)
        k = rng.randint(3, 8)
        steps = [STEP.format(i=j + 1, x=rng.randint(1, 99), y=rng.randint(1, 99), z=rng.randint(1, 199))
                 for j in range(k)]
        text = "\n\n".join(steps) + f"\n\nTherefore, the final answer is: $\\boxed{{{ans}}}$. I hope it is correct."
        completions.append(text)
        scores.append([round(rng.random(), 4) for _ in range(k + 1)])
        tokens.append(len(text) // 4)
    return {"problem": f"Problem {i}: find the value asked for, given {a} and {b}.", "answer": gold,
            "level": i % 5 + 1, "unique_id": f"test/bench/{i}.json", "completions": completions, "scores": scores,
            "completion_tokens": tokens, "agg_scores": [s[-1] for s in scores]}


def write_files(d: Path, problems: int, n: int, seed: int = 0) -> dict[str, tuple[Path, dict]]:
    """One file per format (and the import options it needs), all with problems × n samples."""
    rng = random.Random(seed)
    rows = [_problem(rng, i, n) for i in range(problems)]
    sal = d / "best_of_n_completions.jsonl"
    sal.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lm = d / "samples_gsm8k_cot_self_consistency.jsonl"
    with open(lm, "w") as f:
        for i in range(problems):
            gold = rng.randint(2, 999)
            doc = {"question": f"Question {i}: a shop sells {gold} pens a day. How many pens does it sell?",
                   "answer": f"It sells {gold}.\n#### {gold}"}
            resps = [f"It sells {gold if rng.random() < 0.6 else gold + 1} pens. The answer is "
                     f"{gold if rng.random() < 0.6 else gold + 1}." for _ in range(n)]
            for flt in ("score-first", f"maj@{n}", "maj@8"):
                f.write(json.dumps({"doc_id": i, "doc": doc, "target": str(gold), "resps": [resps],
                                    "filtered_resps": ["x"], "filter": flt, "metrics": ["exact_match"],
                                    "exact_match": float(rng.random() < 0.5),
                                    "arguments": {"gen_args_0": {"arg_0": f"Q: {doc['question']}\nA:",
                                                                 "arg_1": {"temperature": 0.2}}}}) + "\n")
    gen = d / "generic.jsonl"
    with open(gen, "w") as f:
        for i, r in enumerate(rows):
            for j, (text, steps, tok) in enumerate(zip(r["completions"], r["scores"], r["completion_tokens"])):
                f.write(json.dumps({"prompt_id": i, "question": r["problem"], "gold": r["answer"], "sample_idx": j,
                                    "text": text, "tokens": tok, "step_scores": steps,
                                    "difficulty": r["level"]}) + "\n")
    return {"search-and-learn": (sal, {"prm": "prm", "prm_params": 8_000_000_000}), "lm-eval": (lm, {}),
            "generic": (gen, {"prm": "prm", "task": "math"}),
            "inspect": (write_inspect(d, rows, n), {"task": "math"})}


def write_inspect(d: Path, rows: list[dict], n: int) -> Path:
    """An Inspect log written by Inspect itself: a solver replays the completions, epochs = n."""
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelOutput, ModelUsage
    from inspect_ai.scorer import match
    from inspect_ai.solver import solver

    texts = {(str(i), e + 1): (c, t) for i, r in enumerate(rows)
             for e, (c, t) in enumerate(zip(r["completions"], r["completion_tokens"]))}

    @solver
    def replay():
        async def solve(state, generate):
            text, tokens = texts[(str(state.sample_id), state.epoch)]
            state.output = ModelOutput.from_content("mockllm/model", text)
            state.output.usage = ModelUsage(input_tokens=40, output_tokens=tokens, total_tokens=40 + tokens)
            state.messages.append(state.output.message)
            return state
        return solve

    data = [Sample(id=str(i), input=r["problem"], target=r["answer"]) for i, r in enumerate(rows)]
    (log,) = inspect_eval(Task(dataset=data, solver=[replay()], scorer=match(), epochs=n), model="mockllm/model",
                          log_dir=str(d / "logs"), display="none", log_samples=True)
    return Path(log.location)


def time_import(path: Path, **options) -> dict:
    with tempfile.TemporaryDirectory() as t:
        store = Store(Path(t) / "store")
        start = time.perf_counter()
        report = import_file(path, store, models=options.pop("models", [("bench-model", 1_000_000_000)]),
                             **options)
        seconds = time.perf_counter() - start
        rows = sum(int(store.sql(f"SELECT count(*) AS n FROM {t}")["n"][0]) for t in ("samples", "scores", "results"))
    return {"format": report.format, "file": path.name, "MB": path.stat().st_size / 1e6, "samples": report.samples,
            "rows": rows, "seconds": seconds, "samples_per_s": report.samples / seconds}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m backend.importers.bench", description=__doc__)
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--n", type=int, default=16, help="samples per problem")
    ap.add_argument("--real", type=Path, default=None, help="folder of the published GSM8K files")
    ap.add_argument("--only", nargs="+", default=None, help="only these formats")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as t:
        jobs = [(path, options) for fmt, (path, options) in write_files(Path(t), args.problems, args.n).items()
                if args.only is None or fmt in args.only]
        if args.real:
            test = args.real / "gsm8k_test.jsonl"
            for name, models in (("gsm8k_gpt3_6b_175b_verifier_solutions.jsonl", []),
                                 ("llama2-13b_gsm8k_pot1_400x24.json", [("llama2-13b", 13_000_000_000)]),
                                 ("llama2-7b-sft_gsm8k_10x500.jsonl", [("llama2-7b-sft", 7_000_000_000)])):
                if (args.real / name).exists():
                    jobs.append((args.real / name, {"test": test, "models": models}))
        # each import in a fresh interpreter: answer-check caches of one format must not speed up the next
        with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
            out = [pool.apply(time_import, (path,), options) for path, options in jobs]
    for r in out:
        print(f"{r['format']:17s} {r['file'][:45]:45s} {r['MB']:7.1f} MB {r['samples']:6d} samples "
              f"{r['rows']:6d} rows written {r['seconds']:7.2f} s  {r['samples_per_s']:8.0f} samples/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
