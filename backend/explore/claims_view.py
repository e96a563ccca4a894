"""The claims report's tables as people read them on the Claims page: words for columns, effects in percentage points
with their CI, "—" where a number does not exist."""
from __future__ import annotations

import pandas as pd

from backend.explore import fmt


def parts(rows: list[dict]) -> pd.DataFrame:
    """A multi-part claim's parts: name, effect (95% CI) and verdict."""
    return pd.DataFrame({"part": [r.get("name", fmt.MISSING) for r in rows],
                         "effect (95% CI)": [_effect(r) for r in rows],
                         "verdict": [r.get("verdict", fmt.MISSING) for r in rows]})


def per_band(bands: dict) -> pd.DataFrame:
    """The effect per difficulty band: band, effect (95% CI), verdict, prompts."""
    return pd.DataFrame({"band": list(bands),
                         "effect (95% CI)": [fmt.ci_points(b.get("effect"), b.get("lo"), b.get("hi"))
                                             for b in bands.values()],
                         "verdict": [b.get("verdict", fmt.MISSING) for b in bands.values()],
                         "prompts": [str(int(b.get("n_prompts") or 0)) for b in bands.values()]})


def _effect(r: dict) -> str:
    """Accuracy effects in points; an entropy effect (claim 5) in nats."""
    if "entropy" in str(r.get("name", "")) and not fmt.missing(r.get("effect")):
        return f"{r['effect']:+.2f} nats (95% CI {r['lo']:+.2f} to {r['hi']:+.2f})"
    return fmt.ci_points(r.get("effect"), r.get("lo"), r.get("hi"))
