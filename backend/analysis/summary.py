"""Summary tables for the README and the closing notes: the zoo with 95% CIs, training-seed spread, the "wait"
ablation on the held-out split, and search strategies against best-of-N from the pools at the same budget — all
computed from the cache, the model cards and (for the ablation) fresh greedy answers of the zoo models."""
from __future__ import annotations

import numpy as np
import pandas as pd

from backend.analysis import data, selection
from backend.analysis import estimators as E
from backend.analysis.curves import budget_curves
from backend.analysis.points import Points
from backend.tasks import arith
from backend.zoo import registry

BANDS = ("easy", "medium", "hard")


def _band_counts(card: dict) -> dict:
    """(correct, prompts) per band and overall from a card's per-cell held-out accuracy (n_per_cell each)."""
    acc = card.get("heldout_greedy", {})
    n = int(acc.get("n_per_cell") or 0)
    out = {b: [0, 0] for b in (*BANDS, "all")}
    for cell, a in acc.get("per_cell", {}).items():
        ops = int(cell.split(",")[0])
        band = next(b for b, o in {"easy": (1, 2), "medium": (3, 4), "hard": (5, 6)}.items() if ops in o)
        for b in (band, "all"):
            out[b][0] += int(round(a * n))
            out[b][1] += n
    return out


def zoo_table(cards: list[dict] | None = None) -> pd.DataFrame:
    """One row per zoo member: size, training tokens / FLOPs / wall time, held-out greedy accuracy per band and
    overall with Wilson 95% CIs (n_per_cell prompts per (operators, digits) cell: 600 per band, 1,800 in all)."""
    rows = []
    for c in registry.list_cards() if cards is None else cards:
        row = {"model": c["name"], "fmt": c["fmt"], "params": c["params"], "tokens": c["training_tokens"],
               "train_flops": c["training_flops"], "wall_s": c.get("wall_time_s"), "device": c.get("device"),
               "seed": c.get("seed")}
        for b, (x, n) in _band_counts(c).items():
            row[b] = x / n if n else None
            row[f"{b}_lo"], row[f"{b}_hi"] = E.wilson_ci(x, n) if n else (None, None)
            row[f"{b}_n"] = n
        rows.append(row)
    return pd.DataFrame(rows)


def seed_spread(models: pd.DataFrame, cards: list[dict] | None = None) -> pd.DataFrame:
    """Held-out greedy accuracy (all 1,800 prompts) of every model that has seed replicates (selection.seed_replicates),
    with the replicates' mean and standard deviation; empty while each recipe has one seed."""
    table = zoo_table(cards).set_index("model")
    rows = []
    for name in selection.all_final_models(models):
        reps = [r for r in selection.seed_replicates(models, name) if r in table.index]
        if len(reps) > 1:  # final_models holds only main-seed models: each family once
            acc = table.loc[reps, "all"].astype(float)
            rows.append({"model": name, "seeds": len(reps), "mean": float(acc.mean()), "sd": float(acc.std(ddof=1)),
                         "members": ", ".join(reps)})
    return pd.DataFrame(rows, columns=["model", "seeds", "mean", "sd", "members"])


def heldout_correct(name: str, per_cell: int = arith.EVAL_PER_CELL) -> pd.DataFrame:
    """Per held-out prompt (the split the cards' accuracy is measured on), whether the model's greedy answer is right:
    expr, n_ops, digits, correct. Runs the model (CPU, a few minutes for 1,800 prompts at one thread)."""
    from backend.zoo.evaluate import greedy_texts, max_new_tokens_for

    model, tok = registry.load_model(registry.member_dir(name))
    problems = arith.eval_split(per_cell)
    texts = greedy_texts(model, tok, [p.prompt for p in problems], max_new_tokens_for(registry.read_card(name)["fmt"]))
    return pd.DataFrame({"expr": [p.expr for p in problems], "n_ops": [p.n_ops for p in problems],
                         "digits": [p.digits for p in problems],
                         "correct": [arith.check_answer(p.expr, arith.parse(t).answer) for p, t in zip(problems, texts)]})


def paired_difference(a: pd.DataFrame, b: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> dict:
    """Greedy accuracy of a minus b on the same held-out prompts (heldout_correct frames), with a paired bootstrap CI
    overall and per band."""
    m = a.merge(b, on=["expr", "n_ops", "digits"], suffixes=("_a", "_b"))
    if m.empty:
        raise ValueError("the two evaluations share no prompts")
    ca, cb = m["correct_a"].to_numpy(float), m["correct_b"].to_numpy(float)
    out = {"n_prompts": len(m), "acc_a": float(ca.mean()), "acc_b": float(cb.mean()),
           "diff": E.paired_bootstrap_ci(ca, cb, n_boot=n_boot, seed=seed)}
    band = m["n_ops"].map(lambda o: "easy" if o <= 2 else "medium" if o <= 4 else "hard").to_numpy()
    out["per_band"] = {x: E.paired_bootstrap_ci(ca[band == x], cb[band == x], n_boot=n_boot, seed=seed)
                       for x in BANDS if np.any(band == x)}
    return out


def greedy_pair(points: Points, a: str, b: str) -> dict:
    """Greedy accuracy of model a minus model b on the cache's prompts both answered, with a paired bootstrap CI."""
    m = points.meta
    rows = []
    for name in (a, b):
        sel = m.index[(m["model"] == name) & (m["strategy"] == "greedy")]
        if len(sel) == 0:
            raise ValueError(f"no greedy run of {name} in the cache")
        rows.append(points.acc[sel[0]])
    both = ~np.isnan(rows[0]) & ~np.isnan(rows[1])
    d, lo, hi = E.paired_bootstrap_ci(rows[0][both], rows[1][both])
    return {"a": a, "b": b, "acc_a": float(rows[0][both].mean()), "acc_b": float(rows[1][both].mean()),
            "diff": d, "lo": lo, "hi": hi, "n_prompts": int(both.sum())}


def search_table(points: Points, models: list[str], budgets=(4, 16, 64)) -> pd.DataFrame:
    """Beam search and DVTS per verifier and budget N, next to best-of-N (learned verifier) and majority vote over
    N samples from the main-temperature pool: accuracy with 95% CI and mean FLOPs per prompt. Search with the exact
    step checker is an upper bound (it reads the gold answer)."""
    curves = budget_curves(points.rows(points.meta["model"].isin(models).to_numpy()))
    rows = []
    for model in models:
        c = curves[curves["model"] == model]
        for b in budgets:
            row = {"model": model, "N": b}
            for strategy in ("beam", "dvts"):
                for verifier in ("learned", "steps"):
                    hit = c[(c["strategy"] == strategy) & (c["verifier"] == verifier) & (c["k"] == b)]
                    if len(hit):
                        h = hit.iloc[0]
                        row[f"{strategy}/{verifier}"] = f"{h.acc:.3f} [{h.lo:.3f}, {h.hi:.3f}]"
            for strategy, verifier, label in (("best-of-k", "learned", "best-of-N/learned"), ("maj@k", "", "maj@N")):
                hit = c[(c["strategy"] == strategy) & (c["k"] == b) & (c["verifier"] == verifier)
                        & selection.at_main_temperature(c)]
                if len(hit):
                    h = hit.sort_values("n_prompts").iloc[-1]
                    row[label] = f"{h.acc:.3f} [{h.lo:.3f}, {h.hi:.3f}]"
            rows.append(row)
    return pd.DataFrame(rows)


def verifier_table(store, verifier: str = "learned", temperature: float = selection.MAIN_TEMPERATURE,
                   min_n: int = 256) -> pd.DataFrame:
    """How a verifier ranks each model's main pool (n >= min_n): pooled AUROC (across prompts), mean AUROC within a
    prompt (what best-of-N uses), and the correlation of its score with the trace length."""
    from backend.analysis.metrics import auroc, within_group_auroc

    runs = data.load_runs(store, "sample")
    rows = []
    for _, r in runs[np.isclose(runs["temperature"], temperature) & (runs["n"] >= min_n)].iterrows():
        pool = data.load_pool(store, r["run_key"])
        s = pool.scores.get(verifier)
        if s is None or not len(pool.prompt_keys):
            continue
        ok = ~np.isnan(s)
        y, sc = pool.correct[ok], s[ok]
        groups = np.broadcast_to(np.arange(len(pool.prompt_keys))[:, None], s.shape)[ok]
        mixed = 0 < y.sum() < len(y)  # a pool all right or all wrong has no ranking to judge
        try:
            within, n_groups = within_group_auroc(y, sc, groups)
        except ValueError:  # no prompt with both right and wrong samples
            within, n_groups = np.nan, 0
        rows.append({"model": pool.model, "verifier": verifier, "prompts": len(pool.prompt_keys),
                     "pooled_auroc": auroc(y, sc) if mixed else np.nan, "within_prompt_auroc": within,
                     "prompts_mixed": n_groups,
                     "corr_score_tokens": float(np.corrcoef(sc, pool.gen_tokens[ok])[0, 1])})
    return pd.DataFrame(rows)
