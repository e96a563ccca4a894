"""Build-plan entries of the other levers: the learned router's runs and proxy tuning across zoo members.

- every router member (card fmt "router"): greedy learned_route runs in its own mode choice and with each mode
  forced (the forced runs give its plain policies and threshold front);
- proxy tuning between the smallest and the largest final CoT members: the large one's earliest checkpoint steered
  by the small one's final vs earliest checkpoint (weak-to-strong, as in the paper), and the reverse (the small
  one's earliest checkpoint steered by the large one's final vs earliest); a member without checkpoints stands for
  its own early version. Greedy, at each alpha.
"""
from __future__ import annotations

from backend.engines.base import SamplingParams

PROXY_ALPHAS = (0.5, 1.0, 2.0)
ROUTER_MODES = ("choose", "think", "short")
COT_TOKENS = 200


def _earliest(cards: list[dict], name: str) -> str:
    ckpts = [c for c in cards if c.get("checkpoint_of") == name]
    return min(ckpts, key=lambda c: c["training_tokens"])["name"] if ckpts else name


def proxy_setups(cards: list[dict]) -> list[tuple[str, str, str]]:
    """(base, expert, anti_expert) triples: weak-to-strong and its reverse between the smallest and largest finals."""
    from backend.analysis import data, selection

    plain = [c for c in cards if not c.get("fine_tune_of") and c.get("fmt") != "router"]  # levers are no members
    finals = selection.final_models(data.model_table(cards=plain), "cot")
    if len(finals) < 2:
        return []
    small, large = finals[0], finals[-1]
    out = [(_earliest(cards, large), small, _earliest(cards, small)),
           (_earliest(cards, small), large, _earliest(cards, large))]
    return [t for t in out if t[1] != t[2]]  # an expert equal to its anti-expert steers nothing


def lever_runs(cards: list[dict], prompts: tuple, quick: bool = False) -> list:
    """The PlannedRuns of the learned router and proxy tuning for these members."""
    from backend.build import PlannedRun
    from backend.runner import RunSpec
    from backend.strategies.proxy import proxy_params

    greedy = SamplingParams(temperature=0, max_new_tokens=COT_TOKENS)
    specs = []
    for c in cards:
        if c.get("fmt") == "router":
            specs += [RunSpec.make(c["name"], "learned_route", greedy, {"mode": m}) for m in ROUTER_MODES]
    for base, expert, anti in proxy_setups(cards):
        for alpha in PROXY_ALPHAS[1:2] if quick else PROXY_ALPHAS:
            specs.append(RunSpec.make(base, "proxy", greedy, proxy_params(expert, anti, alpha)))
    return [PlannedRun(s, prompts) for s in specs]
