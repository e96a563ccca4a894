"""Engines turn (prompts, sampling parameters) into generations; the transformers engine is the default.

Every engine implements ``backend.engines.base.Engine``. ``hf`` runs in this process; ``vllm`` is vLLM's offline
engine on a CUDA GPU (requirements-vllm.txt); ``ray`` (requirements-scale.txt) is not a model runner but the
distributed build: HF engines in Ray actors (backend.build_ray), or any engine in one actor (engines.ray.RayEngine).
"""
from __future__ import annotations

ENGINES = ("hf", "ray", "vllm")  # what build-cache --engine accepts


def load(model: str, kind: str = "hf"):
    """The in-process engine of kind ``kind`` ("hf" or "vllm") for a zoo or registered model, with the identity
    (fingerprint, chat template) that models.load_engine gives it."""
    from backend import models

    if kind == "hf":
        return models.load_engine(model)
    if kind == "vllm":
        from backend.engines.vllm import VLLMEngine

        fingerprint, chat = models.model_identity(model)
        return VLLMEngine.from_path(models.model_path(model), name=model, chat_template=chat, fingerprint=fingerprint)
    raise ValueError(f"no in-process engine {kind!r}; choose hf or vllm")
