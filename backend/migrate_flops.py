"""Migrate a store's FLOPs to the count with attention (compute.sample_flops), from what the rows already hold: a
sample's prompt and generated tokens and its model's shape (its zoo card), a verifier
score's tokens read and the verifier's shape. No regeneration; the store is rewritten as one compacted batch.

Exact for one-sequence runs — greedy (sample and results row), sampling pools — and for learned-verifier scores.
Runs whose spend is a sum over a search tree, forced continuations or two models (beam, DVTS, budget forcing,
adaptive, routing, …) are not recomputed: the migration stops and names them, or drops them when asked.
"""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from backend.analysis.compute import ModelShape, model_shape, sample_flops, segment_flops
from backend.store import Store
from backend.store.compact import compact

EXACT = ("greedy", "sample")  # strategies whose every sample row is one generated sequence


def _model_shapes(models: list[str]) -> dict[str, ModelShape]:
    """Shapes of the zoo members among ``models`` (from their cards); other models are left out."""
    from backend.zoo import registry

    out = {}
    for m in models:
        try:
            out[m] = model_shape(registry.read_card(m))
        except (FileNotFoundError, ValueError):
            pass  # a registered or imported model: no card to read its layers from
    return out


def _verifier_shapes(names: list[str]) -> dict[str, ModelShape]:
    from backend.verifiers.learned import verifier_dir

    out = {}
    for v in names:
        folder = verifier_dir(v)
        if (folder / "config.json").exists():
            cfg = json.loads((folder / "config.json").read_text())
            card = json.loads((folder / "card.json").read_text())
            out[v] = ModelShape(int(card["params"]), int(cfg["num_hidden_layers"]),
                                int(cfg["num_attention_heads"]) * int(cfg.get("head_dim") or
                                                                      cfg["hidden_size"] // cfg["num_attention_heads"]))
    return out


def plan(store: Store) -> dict:
    """What a migration would do: runs recomputed, runs it cannot recompute, models without a known shape."""
    runs = store.sql("SELECT run_key, model, strategy, source FROM runs")
    shapes = _model_shapes(sorted(set(runs["model"])))
    exact = runs[runs["strategy"].isin(EXACT) & runs["model"].isin(shapes)]
    other = runs[~runs["run_key"].isin(exact["run_key"])]
    return {"recompute": exact["run_key"].tolist(), "cannot": other, "shapes": shapes}


def migrate(store: Store, drop_unmigratable: bool = False) -> dict:
    """Recompute the stored FLOPs with attention (see the module doc); ValueError naming the runs it cannot redo
    unless ``drop_unmigratable``, which leaves them out. Returns what changed."""
    p = plan(store)
    cannot = p["cannot"]
    imported = cannot[cannot["source"] == "import"]  # imported runs have no layer shape: their FLOPs stay 2·N·T
    cannot = cannot[cannot["source"] != "import"]
    if len(cannot) and not drop_unmigratable:
        kinds = ", ".join(f"{s} ×{n}" for s, n in cannot.groupby("strategy").size().items())
        raise ValueError(f"{len(cannot)} runs cannot have their FLOPs recomputed from stored rows ({kinds}); "
                         f"rebuild them, or pass --drop-unmigratable to leave them out")
    run_model = dict(zip(store.sql("SELECT run_key, model FROM runs")["run_key"],
                         store.sql("SELECT run_key, model FROM runs")["model"]))
    redo = set(p["recompute"])
    vshapes = _verifier_shapes(sorted(set(store.sql("SELECT DISTINCT verifier FROM scores")["verifier"])))
    before = {"samples": float(store.sql("SELECT sum(flops) f FROM samples")["f"][0] or 0.0)}
    changed = {"samples": 0, "results": 0, "scores": 0}

    def transform(name: str, table: pa.Table) -> pa.Table:
        if name == "samples" and table.num_rows:
            runs = table.column("run_key").to_numpy(zero_copy_only=False)
            flops = table.column("flops").to_numpy(zero_copy_only=False).astype(float)
            pt = table.column("prompt_tokens").to_numpy(zero_copy_only=False).astype(float)
            gt = table.column("gen_tokens").to_numpy(zero_copy_only=False).astype(float)
            for key in redo & set(np.unique(runs)):
                m = runs == key
                flops[m] = sample_flops(p["shapes"][run_model[key]], pt[m], gt[m])
                changed["samples"] += int(m.sum())
            return table.set_column(table.schema.get_field_index("flops"), "flops", pa.array(flops))
        if name == "results" and table.num_rows:
            # a greedy run's result spends exactly its one sample
            samples = store.sql("SELECT s.run_key, s.prompt_key, s.prompt_tokens, s.gen_tokens FROM samples s JOIN runs r "
                                "USING (run_key) WHERE r.strategy = 'greedy'")
            idx = {(r, q): (a, b) for r, q, a, b in samples.itertuples(index=False)}
            runs = table.column("run_key").to_pylist()
            prompts = table.column("prompt_key").to_pylist()
            flops = table.column("gen_flops").to_numpy(zero_copy_only=False).astype(float)
            for i, (r, q) in enumerate(zip(runs, prompts)):
                if r in redo and (r, q) in idx:
                    flops[i] = sample_flops(p["shapes"][run_model[r]], *idx[(r, q)])
                    changed["results"] += 1
            return table.set_column(table.schema.get_field_index("gen_flops"), "gen_flops", pa.array(flops))
        if name == "scores" and table.num_rows:
            verifiers = table.column("verifier").to_numpy(zero_copy_only=False)
            tokens = table.column("tokens").to_numpy(zero_copy_only=False).astype(float)
            flops = table.column("flops").to_numpy(zero_copy_only=False).astype(float)
            for v, shape in vshapes.items():
                m = verifiers == v
                flops[m] = segment_flops(shape, 0, tokens[m])
                changed["scores"] += int(m.sum())
            return table.set_column(table.schema.get_field_index("flops"), "flops", pa.array(flops))
        return table

    drop = set(cannot["run_key"]) if drop_unmigratable else set()
    out = compact(store, drop_runs=drop, transform=transform)
    after = float(store.sql("SELECT sum(flops) f FROM samples")["f"][0] or 0.0)
    return {**out, "recomputed": changed, "runs_recomputed": len(redo), "runs_dropped": len(drop),
            "imported_runs_kept": len(imported), "sample_flops_before": before["samples"], "sample_flops_after": after}
