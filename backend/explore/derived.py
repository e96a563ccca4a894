"""Derived data the pages share — every run's budget points, the spread curves and the claims report — keyed by the
versions of the runs they read (``Store.run_versions``: which batches hold a run's rows).

A live run or an import therefore computes only its own points; everything else, and the shipped files, stay as they
are. Files live under ``cache/derived/``: a bundle per kind written by ``precompute`` (build-cache, compact), plus one
small file per run added later. Every file is written to a temporary name and renamed; when the cache cannot be
written (read-only, disk full) the data is kept in memory and :func:`note` says so once."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from backend.analysis.frontier import Points, collect_points, concat_points
from backend.explore import store as _shared_store
from backend.paths import cache_dir

_lock = threading.RLock()
_memo: dict[tuple, object] = {}
_notes: list[str] = []
BUNDLE = "points-bundle"  # every run's points at the last precompute, with the run versions they were computed for


def derived_dir() -> Path:
    return cache_dir() / "derived"


def note() -> str | None:
    """One sentence when derived data could not be saved (then it lives in memory only), else None."""
    return _notes[0] if _notes else None


def _write(path: Path, write) -> bool:
    """``write(tmp_path)`` then rename onto ``path``; on OSError (read-only, disk full) clean up, remember a note and
    return False: the caller keeps its data in memory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
        return True
    except OSError as e:
        tmp.unlink(missing_ok=True)
        msg = (f"derived data is kept in memory only: {derived_dir()} cannot be written "
               f"({e.strerror or type(e).__name__}); pages recompute it after a restart")
        if msg not in _notes:
            _notes.append(msg)
        return False


def _store(store=None):
    return store if store is not None else _shared_store()


_sig: list = [None, ""]  # (the run_versions dict it was computed from, the signature)


def signature(store=None) -> str:
    """Identity of the cache state: a hash of every run's version (recomputed only when the versions change)."""
    versions = _store(store).run_versions()
    with _lock:
        if _sig[0] is versions:
            return _sig[1]
    text = "\n".join(f"{k} {v}" for k, v in sorted(versions.items()))
    sig = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
    with _lock:
        _sig[:] = [versions, sig]
    return sig


MEMO_LIMIT = 4096  # remembered results; the oldest go first (a long-running server sees many cache states)
_inflight: dict[tuple, threading.Event] = {}


def _once(key: tuple, compute):
    """``compute()`` remembered under ``key``; concurrent callers of one key wait for a single computation (ten
    sessions opening the same selection compute it once). A failure is not remembered: each caller raises."""
    with _lock:
        if key in _memo:
            return _memo[key]
        event = _inflight.get(key)
        owner = event is None
        if owner:
            event = _inflight[key] = threading.Event()
    if not owner:
        event.wait()
        with _lock:
            if key in _memo:
                return _memo[key]
        return compute()  # the first caller failed: try (and report) here
    try:
        value = compute()
        with _lock:
            _memo[key] = value
            while len(_memo) > MEMO_LIMIT:
                del _memo[next(iter(_memo))]
        return value
    finally:
        with _lock:
            _inflight.pop(key, None)
        event.set()


# ---------------------------------------------------------------------------------------------------- points
def _save_points(stem: Path, pts: Points, versions: dict[str, str]) -> bool:
    def arrays(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would add ".npz" to the temporary name
            np.savez_compressed(f, prompt_keys=pts.prompt_keys.astype(str), acc=pts.acc, samples=pts.samples,
                                tokens=pts.tokens, flops=pts.flops)

    ok = _write(stem.with_suffix(".npz"), arrays)
    meta = pts.meta.assign(run_version=[versions.get(k, "") for k in pts.meta["run_key"]])
    return ok and _write(stem.with_suffix(".parquet"), lambda t: meta.to_parquet(t))


def _load_points(stem: Path) -> tuple[Points, pd.Series] | None:
    """Points saved under ``stem`` and each point's run version, or None when missing or unreadable."""
    try:
        arrays = np.load(stem.with_suffix(".npz"), allow_pickle=False)
        meta = pd.read_parquet(stem.with_suffix(".parquet"))
        version = meta.pop("run_version")
        pts = Points(meta, arrays["prompt_keys"].astype(object), arrays["acc"], arrays["samples"],
                     arrays["tokens"], arrays["flops"])
        return pts, version.reset_index(drop=True)
    except (OSError, KeyError, ValueError):
        return None


def _run_points(store, run_key: str, version: str) -> Points | None:
    """One run's points: from its own file, else computed (and saved). None for a run with no points."""
    key = ("run-points", run_key, version)
    with _lock:
        if key in _memo:
            return _memo[key]
    stem = derived_dir() / "runs" / f"{run_key}-{version}"
    hit = _load_points(stem)
    if hit is not None:
        pts = hit[0]
    else:
        try:
            pts = collect_points(store, run_keys=[run_key])
        except ValueError:  # a run with no complete prompt yet, or no results rows
            pts = None
        if pts is not None:
            _save_points(stem, pts, {run_key: version})
    with _lock:
        _memo[key] = pts
    return pts


def _bundle() -> tuple[Points, pd.Series, dict[str, str]] | None:
    """The bundle's points, each point's run version, and every run (key -> version) it covers — a run none of
    whose points survived concat_points (duplicates of another run's) is covered too, so it is not recomputed."""
    key = ("bundle", str(derived_dir()))
    with _lock:
        if key in _memo:
            return _memo[key]
    hit = _load_points(derived_dir() / BUNDLE)
    if hit is not None:
        try:
            covered = json.loads((derived_dir() / f"{BUNDLE}.runs.json").read_text())
        except (OSError, json.JSONDecodeError):  # a bundle from before the list: its points' runs
            covered = dict(zip(hit[0].meta["run_key"], hit[1]))
        hit = (*hit, covered)
    with _lock:
        _memo[key] = hit
    return hit


def forget() -> None:
    """Drop everything remembered in memory (tests point TTC_CACHE elsewhere between runs)."""
    with _lock:
        _memo.clear()
        _notes.clear()
        _sig[:] = [None, ""]


def points(store=None) -> Points:
    """All budget points of the cache (pools at every k, strategy runs as measured), combined from per-run points:
    runs whose version matches the bundle come from it, the others from their own files or computed now."""
    store = _store(store)
    versions = store.run_versions()
    sig = signature(store)

    def compute() -> Points:
        parts = []
        bundle = _bundle()
        fresh: set[str] = set()
        if bundle is not None:
            pts, ver, covered = bundle
            fresh = {k for k, v in covered.items() if versions.get(k) == v}
            ok = (pts.meta["run_key"].isin(fresh) & (pts.meta["run_key"].map(versions).fillna("~") == ver)).to_numpy()
            if ok.all():
                parts.append(pts)
            elif ok.any():
                parts.append(pts.rows(ok))
        for run_key in sorted(set(versions) - fresh):
            p = _run_points(store, run_key, versions[run_key])
            if p is not None:
                parts.append(p)
        if not parts:
            raise ValueError("the cache holds no runs yet; build it first (python -m backend build-cache).")
        out = parts[0] if len(parts) == 1 else concat_points(parts)
        with _lock:  # one cache state's points in memory: an older state's go
            for k in [k for k in _memo if isinstance(k, tuple) and k[0] == "points" and k[1] != sig]:
                del _memo[k]
        return out

    return _once(("points", sig), compute)


# ---------------------------------------------------------------------------------------------------- kept points
_kept_used: set[str] = set()  # stems asked for since the last precompute began (the others are stale)


def _kept_stem(name: str, run_keys) -> Path:
    """Where a kept result of ``run_keys``' current versions lives (no dot in the name: with_suffix would cut it)."""
    version = runs_version(list(run_keys), _shared_store().run_versions())
    stem = derived_dir() / "kept" / f"{re.sub(r'[^A-Za-z0-9_@=-]', '_', name)}-{version}"
    with _lock:
        _kept_used.add(stem.name)
    return stem


def kept_points(name: str, run_keys, compute) -> Points:
    """Points a slow computation (seconds: rescoring a pool's texts, Monte-Carlo votes) derives from ``run_keys``,
    saved under derived/kept/ and reused — across restarts, and shipped with the cache — while those runs are
    unchanged (the file name carries their versions); computed once by ``compute()`` otherwise."""
    stem = _kept_stem(name, run_keys)

    def load_or_compute() -> Points:
        hit = _load_points(stem)
        if hit is not None:
            return hit[0]
        pts = compute()
        _save_points(stem, pts, {})
        return pts

    return _once(("kept", stem.name), load_or_compute)


def kept_frame(name: str, run_keys, compute) -> pd.DataFrame:
    """kept_points for a table: ``compute()``'s frame saved under derived/kept/ while ``run_keys`` are unchanged."""
    stem = _kept_stem(name, run_keys)
    path = stem.parent / f"{stem.name}.parquet"

    def load_or_compute() -> pd.DataFrame:
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError):
            df = compute()
            _write(path, lambda t: df.to_parquet(t))
            return df

    return _once(("kept", path.name), load_or_compute)


# ---------------------------------------------------------------------------------------------------- claims
def _claims_files() -> list[Path]:
    return sorted(derived_dir().glob("claims-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)


def claims_status(store=None) -> dict:
    """The newest saved claims report and whether it is stale: {"claims", "stale", "computed", "runs_then",
    "runs_now"}. Stale means runs were added or changed since; :func:`claims` recomputes."""
    store = _store(store)
    sig = signature(store)
    with _lock:
        if ("claims", sig) in _memo:
            return {**_memo[("claims", sig)], "stale": False}
    for path in _claims_files():
        try:
            saved = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        return {"claims": saved["claims"], "stale": saved.get("signature") != sig, "computed": saved.get("computed"),
                "runs_then": saved.get("runs"), "runs_now": len(store.run_versions())}
    return {"claims": [], "stale": True, "computed": None, "runs_then": 0, "runs_now": len(store.run_versions())}


def claims(store=None) -> list[dict]:
    """The claims report of the current cache state (see backend.analysis.claims), computed when none is saved."""
    from backend.analysis.claims import report

    store = _store(store)
    status = claims_status(store)
    if not status["stale"]:
        return status["claims"]
    sig = signature(store)
    out = json.loads(json.dumps(report(store, points=points(store)), default=_plain))
    entry = {"signature": sig, "computed": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             "runs": len(store.run_versions()), "claims": out}
    _write(derived_dir() / f"claims-{sig}.json", lambda t: Path(t).write_text(json.dumps(entry)))
    with _lock:
        _memo[("claims", sig)] = {**entry, "runs_then": entry["runs"], "runs_now": entry["runs"]}
    return out


def _plain(o):
    return o.tolist() if hasattr(o, "tolist") else str(o)


# ---------------------------------------------------------------------------------------------------- tables
def saved_table(name: str) -> pd.DataFrame | None:
    """A table saved by :func:`precompute` whose rows are still current (rows carry the version hash of the runs
    they read, in ``_version``); None when none was saved (then pages compute what they show)."""
    store = _shared_store()
    sig = signature(store)
    with _lock:
        if (name, sig) in _memo:
            return _memo[(name, sig)]
    try:
        df = pd.read_parquet(derived_dir() / f"{name}.parquet")
    except (OSError, ValueError):
        df = None
    if df is not None and "_runs" in df.columns:
        versions = store.run_versions()
        now = {r: runs_version(json.loads(r), versions) for r in df["_runs"].unique()}  # rows share run lists
        current = df["_runs"].map(now) == df["_version"]
        df = df[current].drop(columns=["_runs", "_version"]).reset_index(drop=True)
    with _lock:
        _memo[(name, sig)] = df
    return df


def runs_version(run_keys: list[str], versions: dict[str, str]) -> str:
    """The version of data read from several runs: a hash of their keys and versions."""
    text = "\n".join(f"{k} {versions.get(k, '-')}" for k in sorted(run_keys))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def save_table(name: str, df: pd.DataFrame, runs: pd.Series, store=None) -> bool:
    """Save a derived table whose row i was computed from the runs in ``runs[i]`` (a list of run keys)."""
    versions = _store(store).run_versions()
    out = df.assign(_runs=[json.dumps(sorted(r)) for r in runs],
                    _version=[runs_version(list(r), versions) for r in runs])
    return _write(derived_dir() / f"{name}.parquet", lambda t: out.to_parquet(t))


def precompute(store=None) -> dict:
    """Compute and save everything derived as bundles (called at the end of build-cache and compact); per-run files
    the bundle now covers, and claims of older states, are removed."""
    from backend.explore import spread, verifier_knob

    store = _store(store)
    versions = store.run_versions()
    with _lock:
        _kept_used.clear()
    pts = points(store)
    _save_points(derived_dir() / BUNDLE, pts, versions)
    _write(derived_dir() / f"{BUNDLE}.runs.json", lambda t: Path(t).write_text(json.dumps(dict(sorted(versions.items())))))
    with _lock:
        _memo.pop(("bundle", str(derived_dir())), None)
    covered = {f"{k}-{v}" for k, v in versions.items()}
    for f in (derived_dir() / "runs").glob("*") if (derived_dir() / "runs").exists() else ():
        key = f.stem.rsplit("-", 1)[0]
        if f.stem in covered or key not in versions or f.stem != f"{key}-{versions[key]}":  # covered or stale
            f.unlink(missing_ok=True)
    curves = spread.all_curves()
    save_table("spread", curves, [spread.curve_runs(m, a) for m, a in zip(curves["model"], curves["axis"])], store)
    with _lock:
        for key in [k for k in _memo if isinstance(k, tuple) and k[0] == "spread"]:
            del _memo[key]
    from backend.explore import profile

    rows = profile.all_rows()  # the error profiles' per-prompt rows (exact majority over k-subsets: seconds per pool)
    save_table("profile_rows", rows, rows["run_key"].map(lambda k: [k]), store)
    with _lock:
        for key in [k for k in _memo if isinstance(k, tuple) and k[0] == "profile_rows"]:
            del _memo[key]
    from backend.explore import levers

    kept = verifier_knob.keep_all()  # the verifier-quality chart's rescored pools: seconds per model on first visit
    kept += levers.keep_all()  # wider vs deeper: a dozen pools per model
    from backend.explore import common

    kept += common.keep_all()  # predicted difficulty bins: a pool each
    with _lock:
        used = set(_kept_used)
    for f in (derived_dir() / "kept").glob("*") if (derived_dir() / "kept").exists() else ():
        if f.stem not in used:  # stale: its runs changed or are gone
            f.unlink(missing_ok=True)
    claims(store)
    sig = signature(store)
    for f in _claims_files():
        if f.name != f"claims-{sig}.json":
            f.unlink(missing_ok=True)
    return {"signature": sig, "points": len(pts.meta), "runs": len(versions), "spread_rows": len(curves),
            "kept_points": kept}


def memo(fn):
    """Remember a page-data function's results per cache state and arguments (in memory, thread-safe, shared by
    every session of the app; concurrent first calls compute once)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        key = (signature(), fn.__module__ + "." + fn.__qualname__, repr(args), repr(sorted(kwargs.items())))
        return _once(key, lambda: fn(*args, **kwargs))

    return wrapper
