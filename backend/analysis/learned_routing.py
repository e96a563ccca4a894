"""The learned router on the routing front: its own choice, its threshold front, the confidence-threshold router and
the FLOPs-matched mixture of the plain policies — per prompt on the prompts every run answered, with paired CIs.

The learned router's runs (strategy learned_route, greedy): ``choose`` (its own mode token), ``think`` and ``short``
(the mode token forced, its raw log-prob stored as the trace's first token log-prob). P(short) = exp(first log-prob
of the short run), P(think) likewise; sweeping a threshold on P(short) / (P(short) + P(think)) recombines the two
forced runs into the router's front (at the router's own argmax the recombination is its ``choose`` run). The
baselines (backend.analysis.routing): the confidence-threshold cascade over the plain direct and CoT models, and
the best random mixture of those two plain policies at the router's FLOPs (routing.mixture_at).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from backend.analysis import estimators as E
from backend.analysis import routing

__all__ = ["router_runs", "load_router", "router_front", "compare_router"]


def router_runs(runs: pd.DataFrame, router: str) -> dict[str, str]:
    """mode → run key of the router's greedy learned_route runs (runs: data.load_runs)."""
    mine = runs[(runs["model"] == router) & (runs["strategy"] == "learned_route") & (runs["temperature"] == 0)]
    return {p.get("mode", "choose"): k for p, k in zip(mine["params"], mine["run_key"])}


def load_router(store, router: str) -> pd.DataFrame:
    """Per prompt: correct, FLOPs and chosen mode of each of the router's three runs, and the two mode log-probs."""
    from backend.analysis import data
    from backend.zoo.modes import mode_of

    keys = router_runs(data.load_runs(store, "learned_route"), router)
    missing = {"choose", "think", "short"} - set(keys)
    if missing:
        raise ValueError(f"router {router!r} lacks its {sorted(missing)} runs; build them (build-cache --kinds "
                         f"router --models {router}).")
    out = None
    for mode in ("choose", "think", "short"):
        df = store.sql("SELECT r.prompt_key, r.correct, r.gen_flops + r.verifier_flops AS flops, s.text, s.lp0 "
                       "FROM results r JOIN (SELECT prompt_key, text, token_logprobs[1] AS lp0 FROM samples "
                       "WHERE run_key = ? AND sample_idx = 0) s USING (prompt_key) WHERE r.run_key = ?",
                       [keys[mode], keys[mode]])  # the run key filters both scans: only its row groups are read
        df = df.drop_duplicates("prompt_key").set_index("prompt_key")
        part = pd.DataFrame({f"{mode}_correct": df["correct"].astype(float), f"{mode}_flops": df["flops"]})
        if mode == "choose":
            part["mode"] = [mode_of(t) for t in df["text"]]
        else:
            part[f"lp_{mode}"] = df["lp0"].astype(float)
        out = part if out is None else out.join(part, how="inner")
    return out.reset_index()


def router_front(df: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """The learned router's Pareto front from its forced runs, thresholding the normalised P(short)."""
    p_short = np.exp(df["lp_short"]) / (np.exp(df["lp_short"]) + np.exp(df["lp_think"]))
    return routing.routing_front(df["short_correct"], df["short_flops"], df["think_correct"], df["think_flops"],
                                 p_short, mode="route", n_boot=n_boot, seed=seed)


def _verdict(diff: tuple[float, float, float]) -> str:
    return "better" if diff[1] > 0 else "worse" if diff[2] < 0 else "not distinguishable"


def compare_router(store, router: str, direct: str, cot: str, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """The learned router's own choice against the FLOPs-matched mixture of the plain policies (``direct``, ``cot``
    greedy) and the confidence cascade's best point within its FLOPs, on the prompts all runs answered. Returns
    the per-policy table (acc, lo, hi, flops, share_short), the fronts, paired differences and a sentence."""
    from backend.analysis import data

    r = load_router(store, router)
    plain = data.load_routing(store, direct, cot)
    m = r.merge(plain, on="prompt_key")
    if m.empty:
        raise ValueError(f"router {router!r} and models {direct!r}, {cot!r} share no answered prompt.")
    own, own_flops = m["choose_correct"].to_numpy(), float(m["choose_flops"].mean())
    mix, q = routing.mixture_at(own_flops, m["direct_correct"], m["direct_flops"], m["cot_correct"], m["cot_flops"])
    t = routing.routing_table(m["direct_correct"], m["direct_flops"], m["cot_correct"], m["cot_flops"],
                              m["confidence"], mode="cascade")
    fl, ac = t["flops"].mean(axis=1), t["acc"].mean(axis=1)
    fit = np.flatnonzero(fl <= own_flops * (1 + 1e-9))
    conf = t["acc"][fit[np.argmax(ac[fit])]] if len(fit) else None
    rows = []
    for name, acc, flops, share in [
            (f"learned router {router}", own, own_flops, float((m["mode"] == "short").mean())),
            (f"{router} forced think", m["think_correct"], float(m["think_flops"].mean()), 0.0),
            (f"{router} forced short", m["short_correct"], float(m["short_flops"].mean()), 1.0),
            (f"mix of {direct} / {cot} at the router's FLOPs", mix, float((1 - q) * m["direct_flops"].mean()
                                                                          + q * m["cot_flops"].mean()), 1 - q),
            (f"{direct} greedy", m["direct_correct"], float(m["direct_flops"].mean()), 1.0),
            (f"{cot} greedy", m["cot_correct"], float(m["cot_flops"].mean()), 0.0)]:
        a, lo, hi = E.bootstrap_ci(np.asarray(acc, dtype=float), n_boot=n_boot, seed=seed)
        rows.append({"policy": name, "acc": a, "lo": lo, "hi": hi, "flops": flops, "share_short": share})
    vs_mix = E.paired_bootstrap_ci(own, mix, n_boot=n_boot, seed=seed)
    vs_conf = E.paired_bootstrap_ci(own, conf, n_boot=n_boot, seed=seed) if conf is not None else None
    sentence = (f"On {len(m)} prompts the learned router {router} answers {own.mean():.3f} at {own_flops:.3g} FLOPs "
                f"per query, choosing the short mode on {(m['mode'] == 'short').mean():.0%} of them; the mix of "
                f"{direct} and {cot} at the same FLOPs answers {mix.mean():.3f}: the router is {_verdict(vs_mix)} "
                f"(difference {vs_mix[0]:+.3f}, 95% CI [{vs_mix[1]:+.3f}, {vs_mix[2]:+.3f}]).")
    if vs_conf is not None:
        sentence += (f" Against the confidence cascade's best point within those FLOPs it is {_verdict(vs_conf)} "
                     f"({vs_conf[0]:+.3f} [{vs_conf[1]:+.3f}, {vs_conf[2]:+.3f}]).")
    else:
        sentence += " The confidence cascade has no point within those FLOPs (it always pays for the direct answer)."
    return {"table": pd.DataFrame(rows), "learned_front": router_front(m, n_boot=n_boot, seed=seed),
            "confidence_front": routing.routing_front(m["direct_correct"], m["direct_flops"], m["cot_correct"],
                                                      m["cot_flops"], m["confidence"], n_boot=n_boot, seed=seed),
            "vs_mixture": vs_mix, "vs_confidence": vs_conf, "n_prompts": len(m), "sentence": sentence}
