"""Ray (optional, requirements-scale.txt): an engine in a Ray actor behind the Engine protocol, and the cluster a build
connects to or starts.

``RayEngine`` runs any engine in an actor — on whichever node of the cluster has the CPUs or GPU it asks for — and is
used like a local one: it passes the same contract tests and, wrapping the HF engine, returns the HF engine's samples
(sampling noise depends only on seed and prompt key, never on where a prompt ran). Text <-> ids run on a local copy
of the tokenizer, so strategies that count tokens per sample do not cross the network.
"""
from __future__ import annotations

import os
import queue
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from backend.engines.base import Engine, Generation, ProgressFn, SamplingParams, TokenController
from backend.engines.text import TextCodec

START_ATTEMPTS = 3  # tries at starting a local instance
OBJECT_STORE_MB = 256  # a local instance's shared-memory object store (Ray's default takes 30% of RAM)
ATTRS = ("name", "n_params", "fingerprint", "engine_id", "chat_template", "eos", "eos_ids", "config",
         "token_control", "time_limit", "tok")  # what RayEngine mirrors of the engine in its actor


def _require_ray():
    try:
        import ray
    except ImportError:
        raise ImportError("the ray engine needs Ray: pip install -r requirements-scale.txt") from None
    return ray


@contextmanager
def cluster(address: str | None = None, num_cpus: int | None = None):
    """Connect to the Ray cluster at ``address`` (or $RAY_ADDRESS), or start a local instance on 127.0.0.1 with
    ``num_cpus`` CPUs (default: all), no dashboard and a small object store; stopped on exit if started here. Workers
    import this checkout's ``backend`` and see the same cache folder ($TTC_CACHE)."""
    ray = _require_ray()
    if ray.is_initialized():  # a caller (a test, a notebook) owns the connection
        yield ray
        return
    from backend.paths import cache_dir

    root = Path(__file__).resolve().parents[2]
    env = {"env_vars": {"TTC_CACHE": str(cache_dir()),
                        "PYTHONPATH": os.pathsep.join(x for x in (str(root), os.environ.get("PYTHONPATH")) if x)}}
    address = address or os.environ.get("RAY_ADDRESS")
    if address:  # a real cluster: every node needs this checkout's code and a shared cache path
        ray.init(address=address, runtime_env={**env, "py_modules": [str(root / "backend")]}, log_to_driver=False)
    else:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a local instance reports nothing anywhere
        for attempt in range(START_ATTEMPTS):
            try:
                ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1", runtime_env=env,
                         object_store_memory=OBJECT_STORE_MB << 20, log_to_driver=False, configure_logging=False)
                break
            except Exception as e:  # Ray gives its raylet 30 s to register, which a loaded machine can exceed
                ray.shutdown()
                if "timed out" not in str(e):
                    raise
                if attempt == START_ATTEMPTS - 1:
                    raise RuntimeError(f"a local Ray instance did not start in {START_ATTEMPTS} tries (the machine is "
                                       "busy?); try again later or pass --ray-address") from e
    try:
        yield ray
    finally:
        ray.shutdown()


class EngineHost:
    """The actor's body: one engine, made once by ``factory`` in the actor's process."""

    def __init__(self, factory: Callable[[], Engine], threads: int = 1):
        import torch

        torch.set_num_threads(threads)  # the actor's CPUs, not the node's
        self.engine = factory()

    def describe(self) -> dict:
        return {a: getattr(self.engine, a) for a in ATTRS}

    def rows_per_pass(self, prompt_len: int, max_new_tokens: int) -> int:
        return self.engine.rows_per_pass(prompt_len, max_new_tokens)

    def sample(self, prompts: list[str], params: SamplingParams, kw: dict) -> list[list[Generation]]:
        return self.engine.sample(prompts, params, **kw)

    def sample_reporting(self, prompts: list[str], params: SamplingParams, kw: dict):
        """Yield (rows done, rows total, tokens) as the engine reports them, then the generations."""
        q: queue.Queue = queue.Queue()

        def work():
            try:
                q.put(("done", self.engine.sample(prompts, params, progress=lambda *a: q.put(("progress", a)), **kw)))
            except BaseException as e:  # re-raised in the actor's own thread below, so the caller sees it
                q.put(("error", e))

        threading.Thread(target=work, daemon=True).start()
        while True:
            kind, item = q.get()
            if kind == "error":
                raise item
            yield item
            if kind == "done":
                return

    def stream(self, prompt: str, params: SamplingParams, kw: dict):
        yield from self.engine.stream(prompt, params, **kw)


class RayEngine(TextCodec):
    """An engine made by ``factory`` inside a Ray actor with ``num_cpus`` / ``num_gpus``; needs a connected Ray
    (see ``cluster``). A TokenController is sent to the actor by value, so it must be stateless between tokens of
    different calls (budget forcing's is)."""

    def __init__(self, factory: Callable[[], Engine], *, num_cpus: float = 1, num_gpus: float = 0):
        ray = _require_ray()
        host = ray.remote(EngineHost).options(num_cpus=num_cpus, num_gpus=num_gpus)
        self.actor = host.remote(factory, max(1, int(num_cpus)))
        info = _get(self.actor.describe.remote())
        self.name, self.n_params, self.fingerprint = info["name"], info["n_params"], info["fingerprint"]
        self.engine_id, self.chat_template, self.config = info["engine_id"], info["chat_template"], info["config"]
        self.eos, self.eos_ids, self.tok = info["eos"], info["eos_ids"], info["tok"]
        self.token_control, self.time_limit = info["token_control"], info["time_limit"]

    def rows_per_pass(self, prompt_len: int, max_new_tokens: int) -> int:
        return _get(self.actor.rows_per_pass.remote(prompt_len, max_new_tokens))

    def sample(self, prompts: list[str], params: SamplingParams, *, keys: list[str] | None = None,
               stop_ids: tuple[int, ...] = (), max_seconds: float | None = None,
               controller: TokenController | None = None, progress: ProgressFn | None = None,
               stop_strings: tuple[str, ...] = (), max_rows: int | None = None,
               ) -> list[list[Generation]]:
        kw = dict(keys=keys, stop_ids=stop_ids, max_seconds=max_seconds, controller=controller,
                  stop_strings=stop_strings, max_rows=max_rows)
        if progress is None:
            return _get(self.actor.sample.remote(prompts, params, kw))
        for item in self._items(self.actor.sample_reporting, prompts, params, kw):
            if isinstance(item, tuple):
                progress(*item)
            else:
                return item
        raise RuntimeError("the engine actor ended without a result")

    def stream(self, prompt: str, params: SamplingParams, *, key: str | None = None,
               max_seconds: float | None = None, stop_strings: tuple[str, ...] = (),
               ) -> Iterator[tuple[str, float] | Generation]:
        yield from self._items(self.actor.stream, prompt, params,
                               dict(key=key, max_seconds=max_seconds, stop_strings=stop_strings))

    @staticmethod
    def _items(method, *args):
        """The items a generator method of the actor yields, as they come; closing early cancels it."""
        import ray

        refs = method.options(num_returns="streaming").remote(*args)
        try:
            for ref in refs:
                yield _get(ref)
        finally:
            ray.cancel(refs)


def _get(ref):
    """The value of ``ref``; an error raised in the actor is raised here as itself (one clear line), not wrapped."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        if isinstance(e.cause, Exception):
            raise e.cause from None
        raise
