"""Data for Home and the Zoo & cache page: model cards, what the cache holds, and the model order that fixes
each model's colour across pages."""
from __future__ import annotations

import pandas as pd

from backend import models as model_registry
from backend.explore import store
from backend.paths import cache_dir
from backend.zoo import registry


def model_order() -> list[str]:
    """Model families (checkpoints folded into their final model) by parameters: the colour order of the app."""
    cards = registry.list_cards()
    fams = {}
    for c in cards:
        fams.setdefault(c.get("family") or c["name"].split("@")[0], c["params"])
    from backend.explore.derived import points

    if not {m.split("@")[0] for m in points().meta["model"]} <= set(fams):  # imported / registered models
        extra = store().sql("SELECT model, max(model_params) AS p FROM runs GROUP BY model")
        for m, p in zip(extra["model"], extra["p"]):
            fams.setdefault(m.split("@")[0], int(p))
    return sorted(fams, key=lambda m: (fams[m], m))


def cards_table() -> pd.DataFrame:
    """One row per zoo member: size, training compute and held-out greedy accuracy by band."""
    rows = []
    for c in registry.list_cards():
        acc = c.get("heldout_greedy", {})
        rows.append({"model": c["name"], "kind": c["fmt"], "params": c["params"], "layers": c["layers"],
                     "width": c["width"], "heads": c["heads"], "training tokens": c["training_tokens"],
                     "training FLOPs": c["training_flops"], "wall time (s)": c.get("wall_time_s"),
                     "device": c.get("device"), "checkpoint of": c.get("checkpoint_of") or "",
                     **{f"greedy acc · {b}": v for b, v in acc.get("per_band", {}).items()},
                     "greedy acc · all": acc.get("overall")})
    return pd.DataFrame(rows)


def cell_accuracy(name: str) -> pd.DataFrame:
    """Held-out greedy accuracy of one member per (operators, digits) cell, long format for a heatmap."""
    card = registry.read_card(name)
    cells = card.get("heldout_greedy", {}).get("per_cell", {})
    return pd.DataFrame([{"operators": int(k.split(",")[0]), "digits": int(k.split(",")[1]), "accuracy": v}
                         for k, v in cells.items()])


def cache_summary() -> dict:
    """Counts of everything stored, bytes on disk, and the files the reader had to skip."""
    s = store()
    summary = s.summary()
    runs = s.sql("SELECT model, strategy, count(*) AS runs FROM runs GROUP BY ALL ORDER BY model, strategy")
    samples = s.sql("SELECT r.model, count(*) AS samples, sum(s.gen_tokens) AS tokens FROM samples s "
                    "JOIN runs r USING (run_key) GROUP BY ALL ORDER BY r.model")
    zoo_bytes = sum(f.stat().st_size for f in (cache_dir() / "zoo").rglob("*") if f.is_file()) \
        if (cache_dir() / "zoo").exists() else 0
    return {**summary, "runs_by_model": runs, "samples_by_model": samples, "zoo_bytes": zoo_bytes,
            "registered": model_registry.registered_models()}


def cards_view(cards: pd.DataFrame) -> pd.DataFrame:
    """cards_table to read: parameters, tokens and FLOPs formatted (3.2M, 36M, 1.7×10¹⁴), accuracies as percentages,
    "—" where a card has no value."""
    from backend.explore import fmt

    out = cards.copy()
    out["params"] = [fmt.count(x) for x in cards["params"]]
    out["training tokens"] = [fmt.count(x) for x in cards["training tokens"]]
    out["training FLOPs"] = [fmt.flops(x) for x in cards["training FLOPs"]]
    out["wall time (s)"] = [fmt.MISSING if fmt.missing(x) else f"{float(x):,.0f}" for x in cards["wall time (s)"]]
    for col in [c for c in cards.columns if c.startswith("greedy acc")]:
        out[col] = [fmt.pct(x) for x in cards[col]]
    for col in ("layers", "width", "heads"):
        out[col] = [fmt.MISSING if fmt.missing(x) else str(int(x)) for x in cards[col]]
    for col in ("device", "checkpoint of", "kind"):
        out[col] = [x if isinstance(x, str) and x else fmt.MISSING for x in cards[col]]
    return out.rename(columns={"params": "parameters"})


def holdings_view(summary: dict, describe=str) -> pd.DataFrame:
    """Runs per model and strategy (``describe`` names a strategy for display) with the model's samples and
    generated tokens, formatted."""
    from backend.explore import fmt

    t = summary["runs_by_model"].merge(summary["samples_by_model"], on="model", how="left")
    return pd.DataFrame({"model": t["model"], "strategy": [describe(x) for x in t["strategy"]], "runs": t["runs"].astype(int).astype(str),
                         "samples of the model": [fmt.count(x, 3) for x in t["samples"]],
                         "tokens of the model": [fmt.count(x, 3) for x in t["tokens"]]})
