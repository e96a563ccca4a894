"""Summary tables for the README and the closing notes: the zoo, the "wait" ablation, and search strategies against
best-of-N from the pools at the same budget — all computed from the cache and the model cards."""
from __future__ import annotations

import numpy as np
import pandas as pd

from backend.analysis import estimators as E
from backend.analysis import frontier as F
from backend.zoo import registry


def zoo_table() -> pd.DataFrame:
    """One row per zoo member: size, training tokens / FLOPs / wall time, held-out greedy accuracy per band."""
    rows = []
    for c in registry.list_cards():
        acc = c.get("heldout_greedy", {})
        rows.append({"model": c["name"], "fmt": c["fmt"], "params": c["params"], "tokens": c["training_tokens"],
                     "train_flops": c["training_flops"], "wall_s": c.get("wall_time_s"), "device": c.get("device"),
                     **{b: acc.get("per_band", {}).get(b) for b in ("easy", "medium", "hard")},
                     "all": acc.get("overall")})
    return pd.DataFrame(rows)


def greedy_pair(points: F.Points, a: str, b: str) -> dict:
    """Greedy accuracy of model a minus model b on the prompts both answered, with a paired bootstrap CI."""
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


def search_table(points: F.Points, models: list[str], budgets=(4, 16, 64)) -> pd.DataFrame:
    """Beam search and DVTS per verifier and budget N, next to best-of-N (learned verifier) and majority vote over
    N samples from the main pool: accuracy with 95% CI and mean FLOPs per prompt."""
    curves = F.budget_curves(points.rows(points.meta["model"].isin(models).to_numpy()))
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
            for strategy, label in (("best-of-k", "best-of-N/learned"), ("maj@k", "maj@N")):
                hit = c[(c["strategy"] == strategy) & (c["k"] == b) & F.at_main_temperature(c)]
                if strategy == "best-of-k":
                    hit = hit[hit["verifier"] == "learned"]
                if len(hit):
                    h = hit.sort_values("n_prompts").iloc[-1]
                    row[label] = f"{h.acc:.3f} [{h.lo:.3f}, {h.hi:.3f}]"
            rows.append(row)
    return pd.DataFrame(rows)


def verifier_table(store=None, verifier: str = "learned", temperature: float = 0.8, min_n: int = 256) -> pd.DataFrame:
    """How a verifier ranks each model's main pool (T = 0.8, n >= 256): pooled AUROC (across prompts), mean AUROC
    within a prompt (what best-of-N uses), and the correlation of its score with the trace length."""
    from backend.analysis.data import load_pool, load_runs
    from backend.analysis.metrics import auroc, within_group_auroc

    runs = load_runs(store, "sample")
    rows = []
    for _, r in runs[(runs["temperature"] == temperature) & (runs["n"] >= min_n)].iterrows():
        pool = load_pool(store, r["run_key"])
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
