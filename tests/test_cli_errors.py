"""Every CLI command that fails on bad input, a bad model, a bad file or an unwritable cache ends in exactly one
line on stderr ("error: ...") and a non-zero exit, in a real subprocess; --debug prints the traceback instead."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import random_word_model

ROOT = Path(__file__).resolve().parents[1]


def cli(args: list[str], cache: Path, debug: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "TTC_CACHE": str(cache), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    argv = [sys.executable, "-m", "backend", *(["--debug"] if debug else []), *args]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def assert_one_error_line(out: subprocess.CompletedProcess, *fragments: str) -> str:
    err = out.stderr
    assert out.returncode != 0, (out.returncode, err)
    assert "Traceback" not in err and err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("error: "), err
    for f in fragments:
        assert f in err, (f, err)
    return err


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """A good model, one with corrupt weights, one whose tokenizer has ids beyond its embeddings, a data file."""
    tmp = tmp_path_factory.mktemp("cli")
    good = random_word_model(tmp / "good", vocab=50)
    corrupt = random_word_model(tmp / "corrupt", vocab=50)
    (corrupt / "model.safetensors").write_bytes(os.urandom(4096))
    wide = random_word_model(tmp / "wide", vocab=80)  # tokenizer of 80 ids ...
    narrow = random_word_model(tmp / "narrow", vocab=40)  # ... over the config and weights of a 40-row embedding
    for name in ("config.json", "model.safetensors"):
        shutil.copy(narrow / name, wide / name)
    data = tmp / "mini.jsonl"
    data.write_text(json.dumps({"question": "w1 w2", "answer": "#### 3"}) + "\n")
    return {"good": good, "corrupt": corrupt, "wide": wide, "data": data, "tmp": tmp}


@pytest.mark.parametrize("case", ["missing file", "a folder as the file", "unknown model", "corrupt safetensors",
                                  "tokenizer beyond embeddings", "registered model changed on disk"])
def test_failing_commands_print_one_line(folders, tmp_path, case):
    cache, tmp = tmp_path / "cache", folders["tmp"]
    if case == "missing file":
        out = cli(["build-cache", "--model", str(folders["good"]), "--data", str(tmp / "nope.jsonl")], cache)
        assert_one_error_line(out, "nope.jsonl")
    elif case == "a folder as the file":
        out = cli(["build-cache", "--model", str(folders["good"]), "--data", str(tmp)], cache)
        assert_one_error_line(out, str(tmp))
    elif case == "unknown model":
        out = cli(["build-cache", "--model", "no-such-model", "--data", str(folders["data"])], cache)
        assert_one_error_line(out, "no-such-model")
    elif case == "corrupt safetensors":
        out = cli(["register-model", "bad", str(folders["corrupt"])], cache)
        assert_one_error_line(out, "model.safetensors")
        assert not (cache / "models.json").exists()
    elif case == "tokenizer beyond embeddings":
        out = cli(["register-model", "wide", str(folders["wide"])], cache)
        assert_one_error_line(out, "token ids up to 79", "40")
        assert not (cache / "models.json").exists()
    else:  # registered fine, then its config is edited to shapes the weights do not have
        folder = tmp_path / "edited"
        shutil.copytree(folders["good"], folder)
        assert cli(["register-model", "edited", str(folder)], cache).returncode == 0
        cfg = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**cfg, "hidden_size": 64}))
        out = cli(["build-cache", "--model", "edited", "--data", str(folders["data"]), "--n", "1", "--limit", "1"],
                  cache)
        assert_one_error_line(out, "model.embed_tokens.weight")
        assert not (cache / "store").exists() or not any((cache / "store").rglob("*.parquet"))


def read_only_dir(path: Path):
    """A folder nothing can be written to: chmod for a normal user; root ignores modes, so a read-only tmpfs."""
    path.mkdir(parents=True)
    if os.geteuid() != 0:
        path.chmod(0o555)
        return lambda: path.chmod(0o755)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"running as root without permission to mount a read-only tmpfs: {done.stderr.decode().strip()}")
    return lambda: subprocess.run(["umount", str(path)], check=True)


def test_a_read_only_cache_is_one_line(folders, tmp_path):
    cache = tmp_path / "ro"
    undo = read_only_dir(cache)
    try:
        out = cli(["register-model", "good", str(folders["good"])], cache)
    finally:
        undo()
    assert_one_error_line(out, str(cache / "models.json"))


def test_debug_prints_the_traceback(folders, tmp_path):
    out = cli(["register-model", "bad", str(folders["corrupt"])], tmp_path / "cache", debug=True)
    assert out.returncode != 0 and "Traceback" in out.stderr and "model.safetensors" in out.stderr
    late = cli(["register-model", "bad", str(folders["corrupt"]), "--debug"], tmp_path / "cache")
    assert late.returncode != 0 and "Traceback" in late.stderr  # after the command's own options too
