"""Training one tiny Llama from scratch, stopping at checkpoint steps, with exact save/restore for resuming.

Everything random comes from the run seed: ``torch.manual_seed(seed)`` before the weights are initialised, and a
``numpy`` generator seeded with ``seed`` for the order of training windows. No dropout is used, so a run restored
from a checkpoint state continues bitwise identically on CPU (same thread count).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from neuneu.collect.config import CollectConfig, ModelSize
from neuneu.collect.errors import CollectError
from neuneu.collect.files import atomic_path, write_json_atomic
from neuneu.collect.scoring import autocast_for

__all__ = ["Trainer", "build_model", "count_params", "load_weights", "lr_at", "make_optimizer", "save_weights",
           "window_order", "write_json_atomic"]

TIED = "lm_head.weight"  # tied to the input embedding: never stored, re-tied on load


def build_model(size: ModelSize, vocab_size: int, seq_len: int, seed: int):
    """A freshly initialised ``LlamaForCausalLM`` (tied embeddings) of the given shape, seeded by ``seed``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        intermediate_size=size.intermediate,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.heads,
        max_position_embeddings=seq_len,
        tie_word_embeddings=True,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def count_params(model) -> int:
    """Number of distinct parameters (a tied embedding counts once): the N of ``flops = 6 N D``."""
    return sum(p.numel() for p in model.parameters())


def window_order(n_windows: int, total_steps: int, batch_size: int, seed: int) -> np.ndarray:
    """(total_steps, batch_size) window indices: one fresh permutation per epoch, all drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    need = total_steps * batch_size
    chunks, have = [], 0
    while have < need:
        chunks.append(rng.permutation(n_windows))
        have += n_windows
    return np.concatenate(chunks)[:need].reshape(total_steps, batch_size)


def lr_at(step: int, total_steps: int, peak: float, cfg: CollectConfig) -> float:
    """Linear warm-up to ``peak`` then cosine decay to ``final_lr_frac * peak`` at the last step (0-based step)."""
    warmup = max(1, round(cfg.warmup_frac * total_steps))
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    floor = cfg.final_lr_frac
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def make_optimizer(model, size: ModelSize, cfg: CollectConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on norms)."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=size.lr, betas=(0.9, 0.95), eps=1e-8)


class Trainer:
    """Advances one run through its steps; ``state`` files let a killed collection resume exactly."""

    def __init__(self, model, optimizer, stream: np.ndarray, order: np.ndarray, size: ModelSize,
                 cfg: CollectConfig) -> None:
        self.model = model
        self.optimizer = optimizer
        self.cfg = cfg
        self.size = size
        self.order = order
        self.total_steps = order.shape[0]
        self.step = 0
        seq = cfg.seq_len
        n_windows = (len(stream) - 1) // seq
        self.windows = torch.from_numpy(stream[: n_windows * seq].astype(np.int64)).view(n_windows, seq)
        self.device = next(model.parameters()).device

    def advance_to(self, target: int, progress_bar=None) -> None:
        """Train steps ``self.step … target-1`` so that ``target`` optimizer updates are done."""
        self.model.train()
        while self.step < target:
            batch = self.windows[torch.from_numpy(self.order[self.step])].to(self.device)
            for group in self.optimizer.param_groups:
                group["lr"] = lr_at(self.step, self.total_steps, self.size.lr, self.cfg)
            with autocast_for(self.device):
                loss = self.model(input_ids=batch, labels=batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            if progress_bar is not None:
                progress_bar.update(1)
                progress_bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        self.model.eval()

    def save(self, path: Path) -> None:
        """Model weights and AdamW moments as one safetensors file, written atomically, plus the step count."""
        tensors = {f"model.{k}": v for k, v in _weight_tensors(self.model).items()}
        for i, state in self.optimizer.state_dict()["state"].items():
            for k, v in state.items():
                tensors[f"opt.{i}.{k}"] = torch.as_tensor(v).detach().cpu().contiguous()
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"step": str(self.step)})

    def load(self, path: Path) -> None:
        """Restore what :meth:`save` wrote (weights, optimizer moments, step)."""
        model_sd, opt_state = {}, {}
        with safe_open(str(path), framework="pt") as fh:
            self.step = int(fh.metadata()["step"])
            for key in fh.keys():
                kind, rest = key.split(".", 1)
                if kind == "model":
                    model_sd[rest] = fh.get_tensor(key)
                else:
                    i, name = rest.split(".", 1)
                    # load_state_dict moves moments to the parameters' device and keeps "step" where AdamW wants it
                    opt_state.setdefault(int(i), {})[name] = fh.get_tensor(key)
        self.model.load_state_dict(model_sd, strict=False)
        self.model.tie_weights()
        sd = self.optimizer.state_dict()
        sd["state"] = opt_state
        self.optimizer.load_state_dict(sd)


def _weight_tensors(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if k != TIED}


def save_weights(model, path: Path, metadata: dict[str, str] | None = None) -> None:
    """The model's weights alone (no optimizer state) as safetensors, atomically: a checkpoint handed from the
    training stage to a scoring shard. ``metadata`` (string values) travels with it."""
    with atomic_path(path) as tmp:
        save_file(_weight_tensors(model), str(tmp), metadata=metadata or {})


def load_weights(model, path: Path) -> dict[str, str]:
    """Load what :func:`save_weights` wrote into ``model`` (same shape) and return the metadata.

    Exactly the tied output head may be absent from the file; any other missing or extra tensor is a
    :class:`CollectError` (a file from another model shape)."""
    with safe_open(str(path), framework="pt") as fh:
        metadata = dict(fh.metadata() or {})
        state = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118 - safe_open is not a dict
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if k != TIED]
    if missing or result.unexpected_keys:
        raise CollectError(f"{path} does not fit this model: missing {missing}, unexpected {result.unexpected_keys}")
    model.tie_weights()
    return metadata
