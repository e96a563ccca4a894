"""Data for the error-profile chart on Real models: how each pool's errors behave under sampling
(backend.analysis.error_profile), for the zoo's final CoT models of each reasoning-path variant ("single", "multi";
extra training seeds beside them) and for the imported real pools, and which zoo variant's profile lies closer to a
real model's.

"Closer" is defined once, here (``closeness``): the Euclidean distance between two pools' profiles in three shares,
(maj@K − pass@1, error agreement, majority wrong but some sample right), K the largest of error_profile.KS that
every compared pool holds; each zoo variant is scored by its mean distance to the reference real pool over the model
sizes every variant has, so no variant is helped by having other sizes. The reference is one imported pool, by
default the one over the most problems (e.g. Llama-2-13B × 24 on 400). The difference of two variants' distances
gets a 95% bootstrap CI (prompts resampled within each pool) and the claims' verdict."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from backend.analysis import data, selection
from backend.analysis.claims import INF, verdict
from backend.analysis.error_profile import KS, features, per_prompt, summarise
from backend.explore import fmt, store
from backend.explore.derived import memo, saved_table

FEATURES = ("gain", "error_agreement", "majority_wrong_some_right")  # "gain" is maj@K − pass@1 at the compared K
FEATURE_WORDS = {"gain": "maj@{k} − pass@1", "error_agreement": "error agreement",
                 "majority_wrong_some_right": "majority wrong but some sample right"}
VARIANT_WORDS = {"single": "single-path zoo", "multi": "multi-path zoo", "real": "real model"}
N_BOOT = 1000


@memo
def profile_pools() -> pd.DataFrame:
    """The pools the chart compares, one row each: run_key, model, source ("zoo" / "import"), variant (the zoo
    member's reasoning-path variant, "real" for an imported pool), role ("final" / "seed": another training seed of
    a final model), params and n. Zoo: each final CoT model's and seed replicate's biggest pool at the main
    temperature; imports: every pool of at least min(KS) samples per problem (their temperature is not recorded)."""
    st = store()
    runs = data.load_runs(st, "sample")
    runs = runs[runs["n"] >= min(KS)]  # fewer samples than the smallest k give no voting gain to compare
    zoo = runs[(runs["source"] != "import") & np.isclose(runs["temperature"], selection.MAIN_TEMPERATURE)]
    models = data.model_table(st)
    rows = []
    for paths in sorted(set(models["paths"].dropna())):
        for final in selection.final_models(models, "cot", have=set(zoo["model"]), paths=paths):
            for name in selection.seed_replicates(models, final):
                key = selection.main_pool(zoo, name)
                if key is not None:
                    r = zoo[zoo["run_key"] == key].iloc[0]
                    rows.append({"run_key": key, "model": name, "source": "zoo", "variant": paths,
                                 "role": "final" if name == final else "seed", "params": int(r["model_params"]),
                                 "n": int(r["n"])})
    for r in runs[runs["source"] == "import"].itertuples():
        rows.append({"run_key": r.run_key, "model": r.model, "source": "import", "variant": "real", "role": "final",
                     "params": int(r.model_params), "n": int(r.n)})
    cols = ["run_key", "model", "source", "variant", "role", "params", "n"]
    return pd.DataFrame(rows, columns=cols).drop_duplicates("run_key").reset_index(drop=True)


def _compute_rows(run_key: str) -> pd.DataFrame:
    pool = data.load_pool(store(), run_key)
    return per_prompt(pool.answers, pool.gold, [k for k in KS if k <= pool.n])


def all_rows() -> pd.DataFrame:
    """Every profiled pool's per-prompt rows, tagged with its run_key (saved with the derived data by precompute)."""
    parts = [_compute_rows(k).assign(run_key=k) for k in profile_pools()["run_key"]]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["run_key"])


@memo
def prompt_rows(run_key: str) -> pd.DataFrame:
    """error_profile.per_prompt of one stored pool (the costly part: exact majority over k-subsets), read from the
    derived data when precompute saved it for the pool's current version."""
    saved = saved_table("profile_rows")
    if saved is not None and "run_key" in saved.columns:
        hit = saved[saved["run_key"] == run_key]
        if len(hit):
            n = int(profile_pools().set_index("run_key").loc[run_key, "n"]) if run_key in set(
                profile_pools()["run_key"]) else max(KS)
            drop = ["run_key"] + [f"maj@{k}" for k in KS if k > n and f"maj@{k}" in hit.columns]
            return hit.drop(columns=drop).reset_index(drop=True)
    return _compute_rows(run_key)


@memo
def profiles() -> pd.DataFrame:
    """profile_pools() with each pool's error profile (error_profile.summarise: every metric's mean and 95% CI,
    NaN for a k beyond the pool) and ``prompts``."""
    pools = profile_pools()
    rows = []
    for r in pools.itertuples(index=False):
        df = prompt_rows(r.run_key)
        if len(df):
            rows.append({**r._asdict(), **summarise(df, r.n, ks=[k for k in KS if k <= r.n], n_boot=N_BOOT)})
    out = pd.DataFrame(rows)
    for k in KS:  # a pool smaller than k has no value there; the column exists for every k
        for s in ("", "_lo", "_hi"):
            if len(out) and f"maj{k}_gain{s}" not in out:
                out[f"maj{k}_gain{s}"] = np.nan
    return out


def gain_ks(table: pd.DataFrame) -> list[int]:
    """The k of KS at which some pool of the table has a voting gain."""
    return [k for k in KS if len(table) and f"maj{k}_gain" in table and table[f"maj{k}_gain"].notna().any()]


def _feature_means(rows: dict[str, np.ndarray], k: int, idx: np.ndarray | None = None) -> np.ndarray:
    """(gain at k, error agreement, majority wrong some right) means of one pool's per-prompt features, one row per
    resample when idx ([draws, prompts] indices) is given."""
    cols = [rows[f"maj{k}_gain"], rows["error_agreement"], rows["majority_wrong_some_right"]]
    if idx is None:
        return np.array([np.nanmean(c) for c in cols])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample with no agreement value is NaN, not an error
        return np.stack([np.nanmean(c[idx], axis=1) for c in cols], axis=1)


def real_pools(table: pd.DataFrame) -> list[str]:
    """Run keys of the imported pools, the default reference first: most problems (the profile's precision is over
    problems), then most samples per problem."""
    real = table[table["variant"] == "real"] if len(table) else table
    return real.sort_values(["prompts", "n", "model"], ascending=[False, False, True])["run_key"].tolist()


def closeness(table: pd.DataFrame, per_prompt_rows: dict[str, dict[str, np.ndarray]], reference: str | None = None,
              *, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Which zoo variant's error profile lies closer to a real pool, ``reference`` (a run key; default the first of
    real_pools), in the sense of the module docstring. table: profiles() rows (run_key, model, variant, role,
    params, n, prompts); per_prompt_rows: run_key → its per-prompt features (error_profile.features). Returns
    reference (run_key, model, n), variants, pairs (per size: params, k, distance per variant), mean (variant → mean
    distance), closer, and with two variants diff = (mean distance of the farther − of the closer, lo, hi) and its
    verdict (claims' rule, region above 0); or ``missing``, a sentence."""
    real = real_pools(table)
    if not real:
        return {"missing": "No imported real pool of at least 8 samples per problem to compare the zoo with."}
    ref = table[table["run_key"] == (reference if reference in real else real[0])].iloc[0]
    finals = table[(table["variant"] != "real") & (table["role"] == "final")]
    variants = sorted(set(finals["variant"]))
    if len(variants) < 2:
        only = f"only the {VARIANT_WORDS.get(variants[0], variants[0])}" if variants else "no zoo variant"
        return {"missing": f"This cache holds pools of {only}, so there is no second zoo variant to set beside "
                           f"{ref['model']}'s profile."}
    by_size = finals.groupby("params")
    pairs = []
    for params, g in by_size:
        if set(g["variant"]) != set(variants):
            continue  # a size that some variant lacks would favour the variants that have it
        n = min(int(ref["n"]), int(g["n"].min()))
        ks = [k for k in KS if k <= n]
        if not ks:
            continue
        pairs.append({"params": int(params), "k": ks[-1],
                      "keys": {v: g.loc[g["variant"] == v, "run_key"].iloc[0] for v in variants}})
    if not pairs:
        return {"missing": "No model size has a pool of every zoo variant with at least 8 samples per problem."}
    rng = np.random.default_rng(seed)
    ref_rows = per_prompt_rows[ref["run_key"]]
    draw = lambda rows: rng.integers(0, len(rows["pass1"]), (n_boot, len(rows["pass1"])))
    ref_idx = draw(ref_rows)
    dist, boot = {v: [] for v in variants}, {v: np.zeros(n_boot) for v in variants}
    for p in pairs:
        r0, rb = _feature_means(ref_rows, p["k"]), _feature_means(ref_rows, p["k"], ref_idx)
        p["distance"] = {}
        for v in variants:
            rows = per_prompt_rows[p["keys"][v]]
            d = float(np.linalg.norm(_feature_means(rows, p["k"]) - r0))
            p["distance"][v] = d
            dist[v].append(d)
            boot[v] += np.linalg.norm(_feature_means(rows, p["k"], draw(rows)) - rb, axis=1) / len(pairs)
    mean = {v: float(np.mean(d)) for v, d in dist.items()}
    order = sorted(variants, key=lambda v: (mean[v], v))
    out = {"reference": {"run_key": ref["run_key"], "model": ref["model"], "n": int(ref["n"])}, "variants": variants,
           "pairs": pairs, "mean": mean, "closer": order[0], "farther": order[-1]}
    if len(variants) == 2:
        b = boot[order[-1]] - boot[order[0]]
        lo, hi = (float(x) for x in np.nanpercentile(b, [2.5, 97.5]))
        out["diff"] = (mean[order[-1]] - mean[order[0]], lo, hi)
        out["verdict"] = verdict(lo, hi, 0, INF)
    return out


@memo
def comparison(reference: str | None = None) -> dict:
    """closeness() on the cache's profiles, against the real pool ``reference`` (default: real_pools' first)."""
    table = profiles()
    if table.empty:
        return {"missing": "The cache holds no pool of at least 8 samples per problem."}
    return closeness(table, {k: features(prompt_rows(k), [x for x in KS if x <= n])
                             for k, n in zip(table["run_key"], table["n"])}, reference)


def closeness_sentence(c: dict) -> str:
    """One sentence stating which zoo variant's profile is closer to the reference real pool, what was compared and
    how sure it is, computed from closeness()."""
    if c.get("missing"):
        return c["missing"]
    ref, mean = c["reference"], c["mean"]
    ks = sorted({p["k"] for p in c["pairs"]})
    sizes = ", ".join(fmt.count(p["params"]) for p in c["pairs"])
    what = (f"the distance in ({FEATURE_WORDS['gain'].format(k='K')}, error agreement, majority wrong but some "
            f"sample right), K = {' / '.join(map(str, ks))} (the largest k every compared pool holds)")
    dists = " against ".join(f"{VARIANT_WORDS.get(v, v)} {mean[v]:.3f}" for v in sorted(mean, key=mean.get))
    head = (f"Compared with **{ref['model']}**'s pool ({ref['n']} samples per problem) by {what}, averaged over the "
            f"model sizes every variant has ({sizes} parameters): {dists} — the "
            f"**{VARIANT_WORDS.get(c['closer'], c['closer'])}**'s profile is closer")
    if "diff" not in c:
        return head + "."
    e, lo, hi = c["diff"]
    sure = {"supported": "its 95% CI lies above 0", "not supported": "its 95% CI does not lie above 0",
            "inconclusive": "its 95% CI touches 0, so by the claims' rule which is closer is inconclusive"}
    return head + (f", by {e:.3f} (95% CI {lo:.3f} to {hi:.3f}; prompts resampled within each pool): "
                   f"{sure.get(c['verdict'], 'the cache cannot decide it')}.")


def _ci(a, lo, hi, share: bool) -> str:
    if fmt.missing(a):
        return fmt.MISSING
    return f"{fmt.pct(a)} ({fmt.pct(lo)} to {fmt.pct(hi)})" if share else fmt.ci_points(a, lo, hi)


def profile_view(table: pd.DataFrame) -> pd.DataFrame:
    """profiles() to read: words for columns and variants, shares as percentages with their CI, gains in points."""
    if table.empty:
        return pd.DataFrame()
    out = pd.DataFrame({
        "pool": [f"{m} · {n} samples" for m, n in zip(table["model"], table["n"])],
        "kind": [VARIANT_WORDS.get(v, v) + (", another seed" if r == "seed" else "")
                 for v, r in zip(table["variant"], table["role"])],
        "parameters": [fmt.count(p) for p in table["params"]],
        "problems": table["prompts"].astype(int).astype(str),
        "pass@1 (95% CI)": [_ci(*x, True) for x in zip(table["pass1"], table["pass1_lo"], table["pass1_hi"])]})
    for k in KS:
        out[f"maj@{k} − pass@1"] = [_ci(*x, False) for x in zip(table[f"maj{k}_gain"], table[f"maj{k}_gain_lo"],
                                                                 table[f"maj{k}_gain_hi"])]
    for col, words in (("majority_wrong_some_right", "majority wrong, some sample right"),
                       ("error_agreement", "error agreement")):
        out[f"{words} (95% CI)"] = [_ci(*x, True) for x in zip(table[col], table[f"{col}_lo"], table[f"{col}_hi"])]
    return out
