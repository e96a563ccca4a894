"""Background cache builds started from the app: a detached ``python -m backend build-cache`` process that writes
its progress to a JSON file, so the job survives page reloads and its state is read back from disk."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from backend.paths import ROOT, cache_dir


def jobs_dir() -> Path:
    d = cache_dir() / ".jobs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def write_progress(path: Path, **fields) -> None:
    """Atomically replace the progress file (a reader never sees half of it)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**fields, "updated": time.time()}))
    os.replace(tmp, path)


def start_build(models: list[str], per_cell: int = 16) -> str:
    """Start a background build of the default plan for ``models``; returns the job id."""
    from backend.zoo import registry

    known = {c["name"] for c in registry.list_cards()}
    unknown = [m for m in models if m not in known]
    if not models or unknown:
        raise ValueError(f"choose zoo models to build for (unknown: {unknown})" if unknown else "choose at least one model")
    if not 1 <= per_cell <= 100:
        raise ValueError("prompts per cell must be in 1..100")
    job = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    progress = jobs_dir() / f"{job}.json"
    cmd = [sys.executable, "-m", "backend", "build-cache", "--models", *models, "--per-cell", str(per_cell),
           "--progress-file", str(progress)]
    write_progress(progress, status="starting", done=0, total=0, models=models, per_cell=per_cell)
    log = open(jobs_dir() / f"{job}.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    (jobs_dir() / f"{job}.pid").write_text(str(proc.pid))
    return job


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a finished child that nobody waited for is a zombie: not running
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return True


def list_jobs() -> list[dict]:
    """Every job with its last progress; a job whose process is gone without finishing is "stopped"."""
    out = []
    for f in sorted(jobs_dir().glob("*.json"), reverse=True):
        try:
            info = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        pid_file = f.with_suffix(".pid")
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        if info.get("status") in ("starting", "running") and (pid is None or not _alive(pid)):
            info["status"] = "stopped"
        out.append({"job": f.stem, "pid": pid, **info})
    return out
