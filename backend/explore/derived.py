"""Derived data the pages share, computed once per cache state: every budget point the cache holds and the claims
report. Kept in memory and on disk (``cache/derived/<signature>/``) keyed by the set of committed batches, so the
app's first page load reads them instead of re-running the estimators; a new batch makes a new signature."""
from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from backend.analysis.frontier import Points, collect_points
from backend.explore import store
from backend.paths import cache_dir
from backend.store.reader import visible_batches
from backend.store.writer import store_dir

_lock = threading.Lock()
_memo: dict[tuple[str, str], object] = {}


def signature() -> str:
    """Identity of the cache state: a hash of the committed batch names (from the folder listing, so a page that
    only reads derived data never waits for the store to load)."""
    dirs, _ = visible_batches(store_dir())
    return hashlib.blake2b("\n".join(sorted(d.name for d in dirs)).encode(), digest_size=8).hexdigest()


def _dir(sig: str) -> Path:
    return cache_dir() / "derived" / sig


def points() -> Points:
    """All budget points of the cache (pools at every k, strategy runs as measured)."""
    sig = signature()
    with _lock:
        if (sig, "points") in _memo:
            return _memo[(sig, "points")]
        d = _dir(sig)
        try:
            arrays = np.load(d / "points.npz", allow_pickle=False)
            meta = pd.read_parquet(d / "meta.parquet")
            pts = Points(meta, arrays["prompt_keys"].astype(object), arrays["acc"], arrays["samples"],
                         arrays["tokens"], arrays["flops"])
        except (OSError, KeyError, ValueError):
            pts = collect_points(store())
            _save_points(d, pts)
        _memo[(sig, "points")] = pts
        return pts


def _save_points(d: Path, pts: Points) -> None:
    tmp = d.with_name(d.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.savez_compressed(tmp / "points.npz", prompt_keys=pts.prompt_keys.astype(str), acc=pts.acc,
                        samples=pts.samples, tokens=pts.tokens, flops=pts.flops)
    pts.meta.to_parquet(tmp / "meta.parquet")
    for old in d.parent.glob("*"):  # only the current state is worth keeping
        if old != tmp:
            shutil.rmtree(old, ignore_errors=True)
    tmp.rename(d)


def claims() -> list[dict]:
    """The claims report of the current cache (see backend.analysis.claims)."""
    from backend.analysis.claims import report

    points()  # makes sure the folder of this cache state exists
    sig = signature()
    with _lock:
        if (sig, "claims") in _memo:
            return _memo[(sig, "claims")]
        path = _dir(sig) / "claims.json"
        try:
            out = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            out = report(store())
            path.write_text(json.dumps(out, default=_plain))
        _memo[(sig, "claims")] = out
        return out


def _plain(o):
    return o.tolist() if hasattr(o, "tolist") else str(o)


def saved_table(name: str) -> pd.DataFrame | None:
    """A table precomputed for this cache state, or None when it was not (then pages compute what they show)."""
    sig = signature()
    with _lock:
        if (sig, name) in _memo:
            return _memo[(sig, name)]
    try:
        df = pd.read_parquet(_dir(sig) / f"{name}.parquet")
    except (OSError, ValueError):
        return None
    with _lock:
        _memo[(sig, name)] = df
    return df


def _save_table(name: str, df: pd.DataFrame) -> None:
    path = _dir(signature()) / f"{name}.parquet"
    tmp = path.with_name(path.name + ".tmp")
    df.to_parquet(tmp)
    tmp.replace(path)  # atomic: a reader sees the old table or the new one


def precompute() -> dict:
    """Compute and save everything derived (called at the end of build-cache and compact)."""
    from backend.explore import spread

    pts = points()
    curves = spread.all_curves()
    _save_table("spread", curves)
    return {"signature": signature(), "points": len(pts.meta), "claims": len(claims()), "spread_rows": len(curves)}


def memo(fn):
    """Remember a page-data function's results per cache state and arguments (in memory, thread-safe)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        key = (signature(), fn.__module__ + "." + fn.__qualname__, repr(args), repr(sorted(kwargs.items())))
        with _lock:
            if key in _memo:
                return _memo[key]
        value = fn(*args, **kwargs)
        with _lock:
            _memo[key] = value
        return value

    return wrapper
