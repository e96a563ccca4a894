"""The other levers set against test-time compute at matched compute: DPO from a teacher, proxy tuning, and every
training-side route (CoT training vs direct, training checkpoints, fine-tunes, the learned router) priced in total
compute = training FLOPs + queries × inference FLOPs per query (compute.lifetime_flops).

Accuracies are prompt means on the prompts both sides answered, with 95% percentile-bootstrap CIs over prompts
(paired for differences). Sentences are computed here from the numbers they state.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from backend.analysis import compute
from backend.analysis import estimators as E
from backend.analysis.curves import best_within, summarise
from backend.analysis.points import Points
from backend.analysis.selection import MAIN_TEMPERATURE, series

__all__ = ["LEVER_STRATEGIES", "plain_points", "dpo_summary", "proxy_summary", "route_table", "lifetime_routes",
           "cheapest_route"]

LEVER_STRATEGIES = ("learned_route", "proxy")  # runs that are a lever themselves, not plain test-time compute


def _ci(values) -> tuple[float, float, float]:
    v = np.asarray(values, dtype=float)
    return E.bootstrap_ci(v[~np.isnan(v)])


def _paired(a, b) -> tuple[float, float, float]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = ~np.isnan(a) & ~np.isnan(b)
    if not ok.any():
        raise ValueError("the two policies share no answered prompt.")
    return E.paired_bootstrap_ci(a[ok], b[ok])


def _verdict(d: tuple[float, float, float]) -> str:
    return "higher" if d[1] > 0 else "lower" if d[2] < 0 else "not distinguishable"


def plain_points(points: Points, models: pd.DataFrame) -> Points:
    """Deployable points of plain zoo models (no fine-tuned member, no router) under plain test-time strategies.
    models: data.model_table."""
    lever_models = set(models.loc[models["fine_tune_of"].notna() | (models["fmt"] == "router"), "name"])
    keep = points.meta["deployable"] & ~points.meta["strategy"].isin(LEVER_STRATEGIES) \
        & ~points.meta["model"].isin(lever_models)
    return points.rows(keep.to_numpy())


def _greedy_row(points: Points, model: str) -> int:
    rows = np.flatnonzero(((points.meta["model"] == model) & (points.meta["strategy"] == "greedy")).to_numpy())
    if not len(rows):
        raise ValueError(f"no greedy run of {model!r} in the cache.")
    return int(rows[0])


def dpo_summary(points: Points, card: dict) -> dict:
    """Greedy and maj@k of a DPO member vs its base (paired over prompts), and what the fine-tune cost."""
    tuned, base = card["name"], card["fine_tune_of"]
    ft = card["fine_tune"]
    rows = []
    g = {m: points.acc[_greedy_row(points, m)] for m in (base, tuned)}
    d = _paired(g[tuned], g[base])
    rows.append({"strategy": "greedy", "k": 1, "base": np.nanmean(g[base]), "tuned": np.nanmean(g[tuned]),
                 "diff": d[0], "lo": d[1], "hi": d[2]})
    try:
        sb, st = (series(points.meta, m, "maj@k", temperature=MAIN_TEMPERATURE) for m in (base, tuned))
        for k in sorted(set(sb["k"]) & set(st["k"])):
            a, b = points.acc[st.index[st["k"] == k][0]], points.acc[sb.index[sb["k"] == k][0]]
            d = _paired(a, b)
            rows.append({"strategy": "maj@k", "k": int(k), "base": np.nanmean(b), "tuned": np.nanmean(a),
                         "diff": d[0], "lo": d[1], "hi": d[2]})
    except ValueError:
        pass  # no pools yet: greedy only
    table = pd.DataFrame(rows)
    share = ft["flops"] / (card["training_flops"] - ft["flops"])
    first = table.iloc[0]
    sentence = (f"DPO on {ft['pairs']:,} pairs from {ft['teacher']} cost {ft['flops']:.3g} FLOPs "
                f"({share:.1%} of {base}'s pretraining; the teacher's own training not counted) and moved greedy "
                f"accuracy from {first['base']:.3f} to {first['tuned']:.3f}: {_verdict(tuple(first[['diff', 'lo', 'hi']]))}"
                f" (difference {first['diff']:+.3f}, 95% CI [{first['lo']:+.3f}, {first['hi']:+.3f}]).")
    if len(table) > 1:
        last = table.iloc[-1]
        sentence += (f" With majority vote over {int(last['k'])} samples: {last['base']:.3f} → {last['tuned']:.3f} "
                     f"({last['diff']:+.3f} [{last['lo']:+.3f}, {last['hi']:+.3f}]).")
    return {"table": table, "fine_tune_flops": ft["flops"], "share_of_pretraining": share, "sentence": sentence}


def proxy_summary(points: Points, models: pd.DataFrame) -> pd.DataFrame:
    """Each proxy-tuned run against its base's greedy, the fully trained member of the base's family (the "tuned"
    target whose gap proxy tuning tries to close), and the best plain deployable test-time point of any zoo model at
    no more FLOPs per query; per row: accuracy with CI, FLOPs, paired differences and the share of the base →
    target gap closed. Read from the runs' budget points (one per setting: a repeated run adds nothing)."""
    plain = plain_points(points, models)
    s = summarise(plain, ci=False)  # only ranks points to find the best plain one; its CI is paired below
    cards = models.set_index("name")
    m = points.meta
    out = []
    for i in np.flatnonzero((m["strategy"] == "proxy").to_numpy()):
        run = m.iloc[i]
        acc = points.acc[i]
        if np.all(np.isnan(acc)):
            continue
        a, lo, hi = _ci(acc)
        f = float(np.nanmean(np.where(np.isnan(acc), np.nan, points.flops[i])))
        base = run["model"]
        target = cards["checkpoint_of"].get(base) if base in cards.index else None
        target = target if isinstance(target, str) else base
        row = {"base": base, "expert": run["expert"], "anti_expert": run["anti_expert"], "alpha": float(run["alpha"]),
               "temperature": float(run["temperature"]), "run_key": run["run_key"], "acc": a, "lo": lo, "hi": hi,
               "flops": f}
        b = points.acc[_greedy_row(points, base)]
        row.update(zip(("vs_base", "vs_base_lo", "vs_base_hi"), _paired(acc, b)))
        t = points.acc[_greedy_row(points, target)]
        gap = np.nanmean(t) - np.nanmean(b)
        row.update({"target": target, "target_acc": float(np.nanmean(t)),
                    "gap_closed": (a - np.nanmean(b)) / gap if abs(gap) > 1e-12 else np.nan})
        best = best_within(s, f).head(1)
        if len(best):
            r = int(best["row"].iloc[0])
            row.update({"best_plain": f"{plain.meta.loc[r, 'model']} {plain.meta.loc[r, 'strategy']} "
                                      f"k={int(plain.meta.loc[r, 'k'])}", "best_plain_acc": float(best["acc"].iloc[0]),
                        "best_plain_flops": float(best["flops"].iloc[0])})
            row.update(zip(("vs_plain", "vs_plain_lo", "vs_plain_hi"), _paired(acc, plain.acc[r])))
        out.append(row)
    return pd.DataFrame(out)


def route_table(points: Points, models: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Every route to an accuracy, with its training FLOPs (card; proxy tuning: its three members') and mean
    inference FLOPs per query: greedy of every zoo member, majority vote at each k of every member's main pool,
    the learned router's own choice and each proxy-tuned run. Columns: route, lever, model, strategy, k,
    training_flops, flops, acc, lo, hi, n_prompts, row."""
    m = points.meta
    candidate = m["strategy"].eq("greedy") | m["strategy"].eq("learned_route") \
        | (m["strategy"].eq("maj@k") & ((m["temperature"] - MAIN_TEMPERATURE).abs() < 1e-9))
    s = summarise(points, n_boot, seed, only=candidate.to_numpy())  # bootstrap only the routes' points
    cards = models.set_index("name")
    train = cards["training_flops"]
    rows = []
    for r in s.itertuples(index=False):
        if r.model not in train.index or pd.isna(train.get(r.model)) or not r.deployable:
            continue
        card = cards.loc[r.model]
        if r.strategy == "learned_route" and not (r.mode == "choose" and card["fmt"] == "router"):
            continue  # `candidate` kept only greedy, main-temperature maj@k and learned routes
        lever = ("learned router" if card["fmt"] == "router" else
                 "DPO fine-tune" if isinstance(card.get("fine_tune_of"), str) else
                 "training checkpoint" if isinstance(card.get("checkpoint_of"), str) else
                 "direct training" if card["fmt"] == "direct" else "CoT training")
        if r.strategy == "maj@k" and r.k > 1:
            lever = "test-time compute"
        rows.append({"route": f"{r.model} {r.strategy}" + (f" k={r.k}" if r.strategy == "maj@k" else ""),
                     "lever": lever, "model": r.model, "strategy": r.strategy, "k": int(r.k),
                     "training_flops": float(train[r.model]), "flops": r.flops, "acc": r.acc, "lo": r.lo, "hi": r.hi,
                     "n_prompts": r.n_prompts, "row": r.row})
    return pd.DataFrame(rows)


def proxy_routes(proxy: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """proxy_summary rows as routes (training = the three members' training FLOPs)."""
    train = models.set_index("name")["training_flops"]
    rows = []
    for p in proxy.itertuples(index=False):
        members = (p.base, p.expert, p.anti_expert)
        if any(m not in train.index or pd.isna(train[m]) for m in members):
            continue
        rows.append({"route": f"proxy {p.base} + {p.alpha:g}·({p.expert} − {p.anti_expert})", "lever": "proxy tuning",
                     "model": p.base, "strategy": "proxy", "k": 1, "training_flops": float(sum(train[m] for m in members)),
                     "flops": p.flops, "acc": p.acc, "lo": p.lo, "hi": p.hi, "n_prompts": np.nan, "row": -1})
    return pd.DataFrame(rows)


def lifetime_routes(routes: pd.DataFrame, queries: float) -> pd.DataFrame:
    """routes with total_flops = training + queries × inference per query (compute.lifetime_flops)."""
    total = [compute.lifetime_flops(t, float(queries), f) for t, f in zip(routes["training_flops"], routes["flops"])]
    return routes.assign(queries=float(queries), total_flops=total)


def cheapest_route(routes: pd.DataFrame, queries: float, target: float) -> dict | None:
    """The route with the least total compute at ``queries`` whose accuracy's point estimate reaches ``target``,
    and the cheapest one whose whole 95% CI clears it (None where nothing reaches it)."""
    life = lifetime_routes(routes, queries).sort_values("total_flops")
    reach = life[life["acc"] >= target]
    if reach.empty:
        return None
    sure = life[life["lo"] >= target]
    return {"route": reach.iloc[0].to_dict(), "sure": sure.iloc[0].to_dict() if len(sure) else None}
