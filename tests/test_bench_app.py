"""`python -m backend bench app --after-run / --scale N --json` on the micro app cache: the printed JSON has the
contract's shape, the figures are saved under runs/bench/, and the real cache folder is left exactly as it was (the
benchmark writes only to its scratch copy, which it removes)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder`` (links not followed): relative path -> (size, mtime in ns)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(folder))] = (st.st_size if not p.is_dir() else 0, st.st_mtime_ns)
    return out


def _bench(args: list[str], cache: Path, tmp: Path) -> tuple[dict, str]:
    scratch_parent = tmp / "scratch"
    scratch_parent.mkdir(exist_ok=True)
    env = {**os.environ, "TTC_CACHE": str(cache), "TTC_RUNS": str(tmp / "runs"), "TMPDIR": str(scratch_parent),
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "backend", "bench", "app", *args, "--json", "--no-browser"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list(scratch_parent.iterdir()), "the scratch cache was not removed"
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout  # --json: the one JSON line, progress on stderr
    return json.loads(lines[0]), proc.stderr


def _check_shape(out: dict) -> None:
    assert set(out) == {"pages", "cold_start_s", "cold_start_floor_s", "rss_mib"}
    assert out["cold_start_s"] is None and out["cold_start_floor_s"] is None  # --no-browser
    assert out["rss_mib"] > 0
    assert {"Home", "Budget curves", "Traces", "Claims", "Real models"} <= set(out["pages"])
    for name, figures in out["pages"].items():
        assert set(figures) == {"p50_ms", "p95_ms"}, name
        assert 0 <= figures["p50_ms"] <= figures["p95_ms"], (name, figures)


@pytest.mark.parametrize("args,saved", [(["--after-run"], "app-after-run.json"), (["--scale", "2"], "app-scale2.json")])
def test_bench_app_options_leave_the_cache_alone(app_cache, tmp_path, args, saved):
    before = _tree(app_cache)
    out, log = _bench(args, app_cache, tmp_path)
    _check_shape(out)
    assert _tree(app_cache) == before, "the benchmark wrote into the real cache"
    full = json.loads((tmp_path / "runs" / "bench" / saved).read_text())
    assert full["summary"] == out
    if args == ["--after-run"]:
        assert full["live_run"]["gen_tokens"] > 0 and full["live_run"]["seconds"] > 0
        assert full["import"]["samples"] == 4
        assert "live greedy run, one prompt, warm:" in log and "end to end" in log
    else:
        assert full["synthetic"]["scale"] == 2 and full["synthetic"]["rows"]["runs"] > 0


@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="bench load drives Debian's Chromium; not installed")
def test_bench_load_runs_sessions_and_stops_by_itself(app_cache, tmp_path):
    """`bench load` on the micro cache: two sessions in one browser load and switch pages with no error, report the
    figures' shape (full loads and sidebar switches apart, the CPU split), and end within their time bound."""
    env = {**os.environ, "TTC_CACHE": str(app_cache), "TTC_RUNS": str(tmp_path / "runs"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "backend", "bench", "load", "--sessions", "2", "--seconds", "15",
                           "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["errors"] == 0, out["error_kinds"]
    assert out["loads"] == 2 and out["switches"] >= 1 and out["page_loads"] == out["loads"] + out["switches"]
    assert 0 < out["switch_p50_s"] <= out["switch_p95_s"] and out["cores_server"] > 0 and out["cores_chromium"] > 0
    assert (tmp_path / "runs" / "bench" / "load.json").exists()
