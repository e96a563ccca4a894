"""Data for Other levers: test-time compute against the training-side routes in total compute, width vs depth with
latency, the learned router on the routing front, DPO from a teacher and proxy tuning — every number and sentence
computed from the cache (backend.analysis.levers / learned_routing / latency)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from backend.analysis import latency as L
from backend.analysis import data, learned_routing, levers
from backend.explore import fmt, store
from backend.explore.derived import kept_frame, memo, points


def _cards() -> list[dict]:
    from backend.zoo.registry import list_cards

    return list_cards()


def models() -> pd.DataFrame:
    """Every zoo card with its runs' data (a copy: a page run asks several times, so it is read once per cache state)."""
    return _models().copy()


@memo
def _models() -> pd.DataFrame:
    return data.model_table(store(), _cards())


def latency_table() -> L.LatencyTable | None:
    """The measured per-step times (None when none were measured: python -m backend measure-latency)."""
    from backend.engines.timing import table_path

    try:
        return L.LatencyTable.load(table_path()).extend_to(_cards())
    except FileNotFoundError:
        return None


def latency_models() -> list[str]:
    """Final CoT models (every path variant; no checkpoints, ablations, seeds or fine-tunes) with measured step times
    and runs in the cache, smallest first: each has at least its main pool to spend wider."""
    from backend.explore.common import all_final_models

    table = latency_table()
    if table is None:
        return []
    m = models().set_index("name")
    finals = [n for n in all_final_models("cot") if n in table.models]
    return sorted(finals, key=lambda n: (m.loc[n, "params"], n))


@memo
def width_depth(model: str) -> pd.DataFrame:
    """Accuracy vs latency at matched FLOPs for one model (latency.width_vs_depth); empty without a table. Kept with
    the derived data while the model's runs and the step-time table are unchanged (it reads a dozen pools)."""
    import hashlib

    from backend.engines.timing import table_path
    from backend.explore.common import all_runs

    table = latency_table()
    if table is None:
        return pd.DataFrame()
    times = hashlib.blake2b(table_path().read_bytes(), digest_size=6).hexdigest()
    r = all_runs()
    reads = r[(r["model"] == model) & r["strategy"].isin(["sample", "budget_forcing", "beam", "dvts"])]  # not greedy
    return kept_frame(f"width-depth-{model}-{times}", reads["run_key"],
                      lambda: L.width_vs_depth(store(), points(), table, model, n_boot=1000))


def keep_all() -> int:
    """The slow first computations of this page, kept with the derived data (derived.precompute)."""
    models = latency_models()
    for m in models:
        width_depth(m)
    return len(models)


def width_depth_sentence(wd: pd.DataFrame) -> str:
    """At the largest budget both families reach: the wider and the deeper choice's accuracy and latency."""
    if wd.empty:
        return ""
    both = wd.pivot_table(index="budget", columns="family", values="acc", aggfunc="first").dropna()
    if "wider" not in both.columns or both.shape[1] < 2:
        return "Only one family has runs at these budgets; nothing to set side by side."
    b = both.index.max()
    at = wd[wd["budget"] == b].set_index("family")
    deeper = [f for f in at.index if f != "wider"]
    parts = [f"{f} {at.loc[f, 'acc']:.3f} [{at.loc[f, 'lo']:.3f}, {at.loc[f, 'hi']:.3f}] in "
             f"{at.loc[f, 'latency_s'] * 1e3:.0f} ms" for f in ["wider", *deeper]]
    w = at.loc["wider"]
    quick = min(deeper, key=lambda f: at.loc[f, "latency_s"])
    ratio = at.loc[quick, "latency_s"] / w["latency_s"]
    return (f"Within {fmt.flops(b)} FLOPs per query: " + "; ".join(parts) + f". The deeper choice that waits least "
            f"({quick}) takes {ratio:.1f}× the wider one's latency.")


@memo
def latency_curves(model: str) -> pd.DataFrame:
    """Every budget point of ``model`` with its mean latency per query next to its FLOPs (seconds; NaN where the
    latency model leaves the strategy out)."""
    from backend.analysis.curves import summarise

    table = latency_table()
    pts = points()
    sel = pts.rows((pts.meta["model"] == model).to_numpy())
    s = summarise(sel, n_boot=500)
    if table is None or s.empty:
        return s.assign(latency_s=np.nan)
    lat = L.latency_points(sel, store(), table)
    with np.errstate(invalid="ignore"):
        s["latency_s"] = np.nanmean(lat, axis=1)[s["row"].to_numpy()]
    return s


def routers() -> list[tuple[str, str, str]]:
    """(router, its reference direct model, its base CoT model) for every router member with runs."""
    have = set(points().meta["model"])
    return [(c["name"], c["fine_tune"]["reference"], c["fine_tune_of"]) for c in _cards()
            if c.get("fmt") == "router" and c["name"] in have]


@memo
def router(name: str) -> dict:
    r = next((x for x in routers() if x[0] == name), None)
    if r is None:
        raise ValueError(f"no router {name!r} with runs in the cache.")
    return learned_routing.compare_router(store(), *r, n_boot=1000)


def dpo_members() -> list[str]:
    have = set(points().meta["model"])
    return [c["name"] for c in _cards() if (c.get("fine_tune") or {}).get("method") == "dpo" and c["name"] in have]


@memo
def dpo(name: str) -> dict:
    card = next(c for c in _cards() if c["name"] == name)
    return levers.dpo_summary(points(), card)


@memo
def proxy() -> pd.DataFrame:
    return levers.proxy_summary(points(), models())


def proxy_sentence(p: pd.DataFrame) -> str:
    if p.empty:
        return ""
    best = p.sort_values("acc", ascending=False).iloc[0]
    s = (f"Best proxy-tuned run: {best['base']} + {best['alpha']:g}·({best['expert']} − {best['anti_expert']}) answers "
         f"{best['acc']:.3f} [{best['lo']:.3f}, {best['hi']:.3f}] at {fmt.flops(best['flops'])} FLOPs per query, "
         f"{best['vs_base']:+.3f} [{best['vs_base_lo']:+.3f}, {best['vs_base_hi']:+.3f}] over its base's greedy answer")
    if best["target"] != best["base"] and np.isfinite(best["gap_closed"]):
        s += f", closing {best['gap_closed']:.0%} of the gap to {best['target']} ({best['target_acc']:.3f})"
    if isinstance(best.get("best_plain"), str):
        s += (f"; the best plain test-time point within its FLOPs ({best['best_plain']}) answers "
              f"{best['best_plain_acc']:.3f}: difference {best['vs_plain']:+.3f} [{best['vs_plain_lo']:+.3f}, "
              f"{best['vs_plain_hi']:+.3f}]")
    return s + "."


def proxy_view(p: pd.DataFrame) -> pd.DataFrame:
    """The proxy-tuning table as read: accuracies and differences to 3 decimals, FLOPs as powers of ten, a share of
    the gap as a percentage, "—" where a value does not exist (no larger member to close a gap to)."""
    num = lambda v, f: fmt.MISSING if fmt.missing(v) else f(v)
    view = pd.DataFrame({"base": p["base"], "expert": p["expert"], "anti-expert": p["anti_expert"],
                         "α": [num(v, lambda x: f"{x:g}") for v in p["alpha"]],
                         "accuracy": [num(v, lambda x: f"{x:.3f}") for v in p["acc"]],
                         "95% CI": [fmt.MISSING if fmt.missing(a) or fmt.missing(b) else f"{a:.3f} to {b:.3f}"
                                    for a, b in zip(p["lo"], p["hi"])],
                         "FLOPs per query": [num(v, fmt.flops) for v in p["flops"]],
                         "vs base": [num(v, lambda x: f"{x:+.3f}") for v in p["vs_base"]],
                         "gap closed": [num(v, lambda x: fmt.pct(x, 0)) for v in p["gap_closed"]]})
    return view


@memo
def routes() -> pd.DataFrame:
    """Every route with training FLOPs, inference FLOPs per query and accuracy (CI), proxy runs included."""
    m = models()
    table = levers.route_table(points(), m, n_boot=1000)
    p = proxy()
    return pd.concat([table, levers.proxy_routes(p, m)], ignore_index=True) if len(p) else table


def route_targets() -> list[str]:
    """Routes whose accuracy can be the target (greedy answers of the final CoT models), largest first; among equal
    sizes the default path variant's first."""
    from backend.explore.common import all_final_models

    r = routes()
    m = models().set_index("name")
    greedy = set(r.loc[r["strategy"] == "greedy", "model"])
    finals = [n for n in all_final_models("cot") if n in greedy]  # default variant first; sorted() keeps that order
    return sorted(finals, key=lambda n: -m.loc[n, "params"])


def lifetime(queries: float) -> pd.DataFrame:
    return levers.lifetime_routes(routes(), queries)


def cheapest_sentence(queries: float, target_model: str) -> str:
    """Which route reaches ``target_model``'s greedy accuracy with the least total compute at this query volume."""
    r = routes()
    t = r[(r["model"] == target_model) & (r["strategy"] == "greedy")].iloc[0]
    best = levers.cheapest_route(r, queries, float(t["acc"]))
    head = f"At {fmt.count(queries)} queries, reaching {target_model}'s greedy accuracy ({t['acc']:.3f}) "
    if best is None:
        return head + "is out of reach of every route in the cache."
    c = best["route"]
    s = (head + f"costs least as {c['route']} ({c['lever']}): {fmt.flops(c['total_flops'])} FLOPs in total "
         f"({fmt.flops(c['training_flops'])} training + {fmt.count(c['queries'])} × {fmt.flops(c['flops'])} per "
         f"query), accuracy "
         f"{c['acc']:.3f} [{c['lo']:.3f}, {c['hi']:.3f}]")
    sure = best["sure"]
    if sure is None:
        s += "; no route's whole 95% CI clears the target."
    elif sure["route"] != c["route"]:
        s += f"; the cheapest whose 95% CI clears it is {sure['route']} ({fmt.flops(sure['total_flops'])} FLOPs)."
    else:
        s += "; its 95% CI clears the target."
    return s


def report_text() -> str:
    """Every lever's numbers as printed text (python -m backend report-levers)."""
    out = []
    for name, _, _ in routers():
        r = router(name)
        out += [f"== learned router {name}", r["table"].to_string(index=False), r["sentence"], ""]
    for name in dpo_members():
        d = dpo(name)
        out += [f"== DPO {name}", d["table"].to_string(index=False), d["sentence"], ""]
    p = proxy()
    if len(p):
        cols = ["base", "expert", "anti_expert", "alpha", "acc", "lo", "hi", "flops", "vs_base", "vs_base_lo",
                "vs_base_hi", "target", "target_acc", "gap_closed", "best_plain", "best_plain_acc", "vs_plain",
                "vs_plain_lo", "vs_plain_hi"]
        out += ["== proxy tuning", p[[c for c in cols if c in p.columns]].to_string(index=False), proxy_sentence(p), ""]
    for model in latency_models():
        wd = width_depth(model)
        out += [f"== width vs depth, {model}", wd.drop(columns=["run_key"]).to_string(index=False),
                width_depth_sentence(wd), ""]
    targets = route_targets()
    if targets:
        for q in (1e3, 1e6, 1e9):
            out.append(cheapest_sentence(q, targets[0]))
    return "\n".join(out)
