"""NeuNeu, the neural neural scaling law (Hu et al. 2026, arXiv 2601.19831), in one file you can read top to bottom.

What the model does (paper-spec §4, with the fixes of §9.16 and §9.19):

* A **loss encoder** turns the validation-loss features of the context-end checkpoint into one *soft prompt*
  vector: an MLP for per-checkpoint loss vectors ("mean", "vector", "hist"), a small 1-D CNN over per-token
  values ("sample"), or a learned constant when the model gets no loss input ("none").
* Each observed checkpoint becomes a **context token**: its accuracy, its position on the compute axis relative
  to the context end (log tokens / log FLOPs; or the paper's index gaps as an ablation) and, optionally, its own
  loss features.
* Each target checkpoint gets an explicit **query token** (its compute position; in the ``loss_given`` setting
  also the change of the loss features from the context end to the target, e.g. DiffHist) and its own **BOS**
  readout token. The paper names the target only through the last context token's gap; a query token makes the
  target explicit and lets one forward pass answer many targets.
* A **pre-LN transformer encoder with RoPE** mixes everything. The context (soft prompt + context tokens) attends
  bidirectionally within itself; each (BOS, query) pair attends to the whole context and to itself but not to
  other targets, and the context never attends to the queries. So the context is encoded once per trajectory and
  shared by all its targets: this is what makes prediction cheap, and it makes the answer for one target
  independent of which other targets are asked in the same batch.
* A linear **head on each BOS** gives the quantiles (0.1, 0.25, 0.5, 0.75, 0.9), **monotone by construction**:
  the median plus/minus cumulative softplus steps. By default the median is predicted as a change from the last
  observed accuracy (``residual_to_last``), so an untrained model is the "last value" forecast.

Sequence layout for a batch of B trajectories with up to L context points and up to T targets each::

    [prompt, ctx_0 … ctx_{L-1}, BOS_0, query_0, …, BOS_{T-1}, query_{T-1}]
    RoPE positions: prompt 1, ctx_j 2+j, BOS 0, query 2+m  (m = number of real context points)

With ``separate_bos=False`` each target has a single token (BOS vector + query embedding) instead of a pair:
about 2-3× cheaper per target, the same information.

The inputs are built by :mod:`neuneu.samples`; training lives in :mod:`neuneu.train`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuneu import profiles
from neuneu.contract import QUANTILES
from neuneu.parametric import n_query_features

LOSS_INPUTS: tuple[str, ...] = ("none", "mean", "vector", "hist", "sample", "law")
"""Loss-input variants; except "none", each is also the key of :attr:`neuneu.contract.Series.losses` it reads.
"law" (beyond the paper, see :mod:`neuneu.hybrid`) is the log mean loss and the accuracy the pooled per-task
logistic law assigns to it."""
SETTINGS: tuple[str, ...] = ("forecast", "loss_given")
TIME_AXES: tuple[str, ...] = ("tokens", "flops", "index")
N_VALUE_FEATURES = 2  # a context token's accuracy y and y − y_last
POOLED_KIND = "*"  # feature statistics pooled over every loss kind of the training data


class ConfigError(ValueError):
    """A model configuration that cannot be built (unknown option, inconsistent sizes)."""


@dataclass(frozen=True)
class NeuNeuConfig:
    """Everything needed to rebuild a NeuNeu model and its input normalisation; the constructor takes it as-is.

    ``loss_dim`` and the feature statistics describe the loss features and ``tasks`` the task vocabulary; all are
    filled from the training data by :func:`neuneu.samples.with_feature_stats` and saved with the weights so that
    prediction normalises inputs exactly as training did. Statistics are kept **per loss kind**
    (``feature_kinds[i]`` has centre ``feature_center[i]`` and scale ``feature_scale[i]``), because OLMo's domain
    cross-entropy and LAMBADA log-perplexity are different quantities in different units; the kind
    :data:`POOLED_KIND` holds the statistics pooled over all kinds, used for a kind never seen in training.
    """

    loss_input: str = "none"  # none | mean | vector | hist | sample | law
    setting: str = "forecast"  # forecast: losses only up to the context end; loss_given: also at the target
    time_axis: str = "tokens"  # tokens | flops: log-compute relative to the context end; index: paper's gaps
    loss_on_context: bool = True  # also add each context checkpoint's own loss features to its token
    relative_losses: bool = False  # loss features relative to the context end (see neuneu.samples), not absolute
    residual_to_last: bool = True  # median = last observed accuracy + learned change
    separate_bos: bool = True  # a (BOS, query) token pair per target; False: one token (BOS vector + query)
    task_identity: bool = False  # beyond the paper (spec §9.18): a learned embedding of the task joins the prompt
    parametric: bool = False  # beyond the paper: read the laws' forecasts (neuneu.parametric) and correct the anchor
    tasks: tuple[str, ...] = ()  # the tasks that have an embedding (filled from the training data); others: unknown
    d_model: int = 128
    n_layers: int = 3
    n_heads: int = 4
    d_ff: int = 512
    dropout: float = 0.0
    rope_base: float = 10_000.0
    max_context: int = 48  # longer contexts are thinned (first and last point always kept)
    cnn_channels: tuple[int, ...] = (8, 16, 32, 64)
    cnn_kernel: int = 64
    cnn_stride: int = 16
    cnn_pool: int = 4  # CNN output length after adaptive pooling, so any K works
    quantiles: tuple[float, ...] = QUANTILES
    loss_dim: int = 0  # F: width of the loss feature (K values for "sample"); 0 for "none"
    feature_kinds: tuple[str, ...] = ()  # loss kinds with statistics (POOLED_KIND first)
    feature_center: tuple[tuple[float, ...], ...] = ()  # per kind, per-feature mean (one value for "sample")
    feature_scale: tuple[tuple[float, ...], ...] = ()  # per kind, per-feature std, floored

    def __post_init__(self) -> None:
        _check_choice("loss_input", self.loss_input, LOSS_INPUTS)
        _check_choice("setting", self.setting, SETTINGS)
        _check_choice("time_axis", self.time_axis, TIME_AXES)
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ConfigError(f"d_model {self.d_model} must split into {self.n_heads} heads of even size")
        if 0.5 not in self.quantiles or list(self.quantiles) != sorted(set(self.quantiles)):
            raise ConfigError(f"quantiles {self.quantiles} must be strictly increasing and contain 0.5")
        if self.max_context < 2:
            raise ConfigError(f"max_context must be at least 2, got {self.max_context}")
        if self.parametric and self.time_axis == "index":
            raise ConfigError("parametric inputs need a compute axis (time_axis tokens or flops), not index gaps")
        if not len(self.feature_kinds) == len(self.feature_center) == len(self.feature_scale):
            raise ConfigError("feature_kinds, feature_center and feature_scale must have the same length")

    @property
    def uses_losses(self) -> bool:
        """Whether the model reads any validation-loss feature."""
        return self.loss_input != "none"

    def feature_stats(self, kind: str) -> tuple[tuple[float, ...], tuple[float, ...], bool]:
        """(centre, scale, known) for loss kind ``kind``: its own statistics, or the pooled ones (known=False)."""
        if not self.feature_kinds:
            raise ConfigError("this model has no feature statistics (fill them from the data first)")
        i = self.feature_kinds.index(kind) if kind in self.feature_kinds else self.feature_kinds.index(POOLED_KIND)
        return self.feature_center[i], self.feature_scale[i], kind in self.feature_kinds

    def to_dict(self) -> dict:
        """A JSON-ready dict (tuples become lists)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NeuNeuConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError` so stale files fail loudly."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown NeuNeuConfig field(s): {', '.join(unknown)}")
        return cls(**{k: _tuples(v) for k, v in data.items()})


def _tuples(value):
    """Lists (nested too) as tuples: the frozen config's JSON round trip."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"unknown {what} {value!r}; expected one of: {', '.join(choices)}")


def config_for(profile: str) -> NeuNeuConfig:
    """The model size of a run profile (:data:`neuneu.profiles.PROFILES`; loss input "none": change it with
    :func:`dataclasses.replace`)."""
    return NeuNeuConfig(**profiles.profile(profile).model)


@dataclass
class NeuNeuInputs:
    """One padded batch: B trajectories, up to L context points and up to T targets each (built by samples.py).

    Masks are True on real entries. Padded entries may hold anything: they are zeroed on entry and masked in
    attention, so they cannot change the outputs of real targets.
    """

    ctx_value: Tensor  # (B, L, 2) accuracy y and y − y_last
    ctx_pos: Tensor  # (B, L) position relative to the context end (≤ 0 on log axes; forward gaps for "index")
    ctx_mask: Tensor  # (B, L) bool
    query_pos: Tensor  # (B, T) target position relative to the context end
    query_mask: Tensor  # (B, T) bool
    last_value: Tensor  # (B,) accuracy at the context end
    prompt_loss: Tensor | None = None  # (B, F) standardised loss features at the context end
    ctx_loss: Tensor | None = None  # (B, L, F) at every context point (when loss_on_context)
    query_loss: Tensor | None = None  # (B, T, F) target minus context-end features (loss_given)
    task: Tensor | None = None  # (B,) int64 index into config.tasks plus one; 0 = unknown task
    query_param: Tensor | None = None  # (B, T, P) the laws' forecasts minus the last value, and progress (parametric)
    anchor: Tensor | None = None  # (B, T) the law forecast the median corrects (parametric)
    ctx_param: Tensor | None = None  # (B, L, 1) each context point's residual from the law (parametric)

    def to(self, device: torch.device | str) -> NeuNeuInputs:
        """The same batch on ``device``."""
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return NeuNeuInputs(**{k: None if v is None else v.to(device) for k, v in moved.items()})


# --------------------------------------------------------------------------------------------------------------
# Building blocks


def rotate_with_rope(x: Tensor, positions: Tensor, base: float) -> Tensor:
    """Rotary position embedding (rotate-half convention) of ``x`` (B, H, S, hd) at ``positions`` (B, S)."""
    half = x.shape[-1] // 2
    inv_freq = base ** (-torch.arange(half, device=x.device, dtype=torch.float32) / half)
    angles = positions.float()[:, None, :, None] * inv_freq  # (B, 1, S, half)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class SelfAttention(nn.Module):
    """Multi-head attention with separate Q/K/V/O projections (with bias) and RoPE on Q and K.

    The sequence is ``M`` context tokens (soft prompt + context points) followed by T target groups of ``group``
    tokens each ((BOS, query) pairs, or single merged tokens). Context tokens attend bidirectionally to the real
    context tokens; each group attends to the real context and to itself, never to another group. Computing the two
    parts separately costs O(M² + T·M) instead of O((M + 2T)²) for one dense masked attention.
    """

    def __init__(self, config: NeuNeuConfig) -> None:
        super().__init__()
        d = config.d_model
        self.n_heads, self.rope_base, self.dropout = config.n_heads, config.rope_base, config.dropout
        self.group = 2 if config.separate_bos else 1
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x: Tensor, positions: Tensor, context_real: Tensor) -> Tensor:
        batch, seq, d = x.shape
        n_ctx, head_dim = context_real.shape[1], d // self.n_heads
        split = lambda t: t.view(batch, seq, self.n_heads, head_dim).transpose(1, 2)  # noqa: E731
        q = rotate_with_rope(split(self.q(x)), positions, self.rope_base)
        k = rotate_with_rope(split(self.k(x)), positions, self.rope_base)
        v = split(self.v(x))
        dropout = self.dropout if self.training else 0.0
        key_ok = context_real[:, None, None, :]  # (B, 1, 1, M)
        ctx_out = F.scaled_dot_product_attention(q[:, :, :n_ctx], k[:, :, :n_ctx], v[:, :, :n_ctx],
                                                 attn_mask=key_ok, dropout_p=dropout)
        target_out = self._targets_attend(q, k, v, n_ctx, key_ok, dropout)
        out = torch.cat([ctx_out, target_out], dim=2)
        return self.o(out.transpose(1, 2).reshape(batch, seq, d))

    def _targets_attend(self, q: Tensor, k: Tensor, v: Tensor, n_ctx: int, key_ok: Tensor, dropout: float) -> Tensor:
        """Each target group (g tokens) reads the real context tokens and its own g tokens, never another group."""
        g = self.group
        groups = lambda t: t[:, :, n_ctx:].unflatten(2, (-1, g))  # noqa: E731  (B, H, T, g, hd)
        q_grp, k_grp, v_grp = groups(q), groups(k), groups(v)
        scale = q.shape[-1] ** -0.5
        to_ctx = (q[:, :, n_ctx:] @ k[:, :, :n_ctx].transpose(-1, -2)) * scale  # (B, H, gT, M)
        to_ctx = to_ctx.masked_fill(~key_ok, float("-inf")).unflatten(2, (-1, g))  # (B, H, T, g, M)
        to_self = (q_grp @ k_grp.transpose(-1, -2)) * scale  # (B, H, T, g, g)
        weights = F.dropout(torch.softmax(torch.cat([to_ctx, to_self], dim=-1), dim=-1), dropout)
        from_ctx = weights[..., :n_ctx].flatten(2, 3) @ v[:, :, :n_ctx]  # (B, H, gT, hd)
        from_self = (weights[..., n_ctx:] @ v_grp).flatten(2, 3)
        return from_ctx + from_self


class EncoderBlock(nn.Module):
    """Pre-LN transformer block: x + Attn(LN(x)), then x + FFN(LN(x)) with a GELU FFN."""

    def __init__(self, config: NeuNeuConfig) -> None:
        super().__init__()
        self.norm_attn, self.norm_ffn = nn.LayerNorm(config.d_model), nn.LayerNorm(config.d_model)
        self.attn = SelfAttention(config)
        self.ffn = nn.Sequential(nn.Linear(config.d_model, config.d_ff), nn.GELU(),
                                 nn.Linear(config.d_ff, config.d_model), nn.Dropout(config.dropout))

    def forward(self, x: Tensor, positions: Tensor, context_real: Tensor) -> Tensor:
        x = x + self.attn(self.norm_attn(x), positions, context_real)
        return x + self.ffn(self.norm_ffn(x))


def mlp(d_in: int, d_out: int) -> nn.Sequential:
    """Two-layer GELU MLP: the embedding used for scalars (positions) and loss-feature vectors."""
    return nn.Sequential(nn.Linear(d_in, d_out), nn.GELU(), nn.Linear(d_out, d_out))


class TokenLossCNN(nn.Module):
    """1-D CNN over K per-token values → one d-vector (the paper's CNN soft prompt, §4.1).

    Blocks of Conv1d → GroupNorm → GELU with the configured channels, kernel and stride, then adaptive average
    pooling to ``cnn_pool`` positions (so any K works; the paper's flatten+Linear tied it to K = 256,000), then a
    Linear to d_model.
    """

    def __init__(self, config: NeuNeuConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for c_out in config.cnn_channels:
            layers += [nn.Conv1d(c_in, c_out, config.cnn_kernel, config.cnn_stride, config.cnn_kernel // 2),
                       nn.GroupNorm(min(8, c_out), c_out), nn.GELU()]
            c_in = c_out
        layers.append(nn.AdaptiveAvgPool1d(config.cnn_pool))
        self.convs = nn.Sequential(*layers)
        self.project = nn.Linear(c_in * config.cnn_pool, config.d_model)

    def forward(self, values: Tensor) -> Tensor:
        lead, k = values.shape[:-1], values.shape[-1]
        pooled = self.convs(values.reshape(-1, 1, k)).flatten(1)
        return self.project(pooled).view(*lead, -1)


def make_loss_encoder(config: NeuNeuConfig) -> nn.Module:
    """The soft-prompt generator for ``config.loss_input`` (not called for "none")."""
    if config.loss_input == "sample":
        return TokenLossCNN(config)
    return mlp(config.loss_dim, config.d_model)


# --------------------------------------------------------------------------------------------------------------
# The model


class NeuNeu(nn.Module):
    """Quantile forecaster of downstream accuracy: ``forward(inputs) -> (B, T, n_quantiles)``."""

    def __init__(self, config: NeuNeuConfig) -> None:
        super().__init__()
        if config.uses_losses and config.loss_dim < 1:
            raise ConfigError(f"loss_input {config.loss_input!r} needs loss_dim ≥ 1 (fill it from the data)")
        self.config = config
        d = config.d_model
        self.bos = nn.Parameter(torch.randn(d) * 0.02)
        self.query_type = nn.Parameter(torch.randn(d) * 0.02)
        self.value_embed = nn.Linear(N_VALUE_FEATURES, d)
        self.pos_embed = mlp(1, d)
        if config.uses_losses:
            self.loss_encoder = make_loss_encoder(config)
            if config.setting == "loss_given":  # the target's loss change has its own statistics
                self.query_loss_encoder = make_loss_encoder(config)
        else:
            self.no_loss_prompt = nn.Parameter(torch.randn(d) * 0.02)
        if config.parametric:
            self.param_embed = mlp(n_query_features(config.setting), d)
            self.ctx_param_embed = nn.Linear(1, d)
        if config.task_identity:  # row 0 is the "unknown task" embedding (unseen tasks, task dropout in training)
            self.task_embed = nn.Embedding(len(config.tasks) + 1, d)
            nn.init.normal_(self.task_embed.weight, std=0.02)
        self.blocks = nn.ModuleList(EncoderBlock(config) for _ in range(config.n_layers))
        self.final_norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, len(config.quantiles))
        self._init_weights()

    def _init_weights(self) -> None:
        """Xavier-uniform for the encoder's matrices (as the paper); a zero head whose spreads start at ~0.02,
        so training starts from "median = last value" with a narrow band instead of random noise."""
        for block in self.blocks:
            for name, param in block.named_parameters():
                if param.dim() >= 2:
                    nn.init.xavier_uniform_(param)
                elif name.endswith("bias"):
                    nn.init.zeros_(param)
        nn.init.zeros_(self.head.weight)
        spread_bias = torch.full((len(self.config.quantiles),), math.log(math.expm1(0.02)))
        spread_bias[self.config.quantiles.index(0.5)] = 0.0
        with torch.no_grad():
            self.head.bias.copy_(spread_bias)

    def forward(self, inputs: NeuNeuInputs) -> Tensor:
        memory = self._context_tokens(inputs)  # (B, 1+L, d)
        readout = self._readout_tokens(inputs)  # (B, gT, d)
        x = torch.cat([memory, readout], dim=1)
        positions = self._positions(inputs)
        context_real = F.pad(inputs.ctx_mask, (1, 0), value=True)  # the soft prompt is always real
        for block in self.blocks:
            x = block(x, positions, context_real)
        group = 2 if self.config.separate_bos else 1
        bos_states = self.final_norm(x[:, memory.shape[1]::group])  # (B, T, d): every BOS (or merged token)
        if self.config.parametric:
            base = _required(inputs.anchor, "anchor").float()[..., None]
        else:
            base = inputs.last_value.float()[:, None, None].expand(*bos_states.shape[:2], 1)
        return self._monotone_quantiles(self.head(bos_states).float(), base)

    def _context_tokens(self, inputs: NeuNeuInputs) -> Tensor:
        """[soft prompt, context tokens]; padded context slots are zeroed before embedding."""
        keep = inputs.ctx_mask[..., None]
        values = torch.where(keep, inputs.ctx_value, 0.0)
        positions = torch.where(inputs.ctx_mask, inputs.ctx_pos, 0.0)
        tokens = self.value_embed(values) + self.pos_embed(positions[..., None])
        if self.config.parametric:
            tokens = tokens + self.ctx_param_embed(torch.where(keep, _required(inputs.ctx_param, "ctx_param"), 0.0))
        if not self.config.uses_losses:
            prompt = self.no_loss_prompt.expand(tokens.shape[0], -1)
        else:
            prompt = self.loss_encoder(_required(inputs.prompt_loss, "prompt_loss"))
            if self.config.loss_on_context:
                tokens = tokens + self.loss_encoder(torch.where(keep, _required(inputs.ctx_loss, "ctx_loss"), 0.0))
        if self.config.task_identity:
            prompt = prompt + self.task_embed(_required(inputs.task, "task"))
        return torch.cat([prompt[:, None], tokens], dim=1)

    def _readout_tokens(self, inputs: NeuNeuInputs) -> Tensor:
        """(BOS_t, query_t) pairs interleaved along the sequence, or one BOS + query_t token per target."""
        positions = torch.where(inputs.query_mask, inputs.query_pos, 0.0)
        query = self.pos_embed(positions[..., None]) + self.query_type
        if self.config.parametric:
            param = torch.where(inputs.query_mask[..., None], _required(inputs.query_param, "query_param"), 0.0)
            query = query + self.param_embed(param)
        if self.config.uses_losses and self.config.setting == "loss_given":
            change = torch.where(inputs.query_mask[..., None], _required(inputs.query_loss, "query_loss"), 0.0)
            query = query + self.query_loss_encoder(change)
        if not self.config.separate_bos:
            return query + self.bos
        return torch.stack([self.bos.expand_as(query), query], dim=2).flatten(1, 2)

    def _positions(self, inputs: NeuNeuInputs) -> Tensor:
        """RoPE positions (B, S): prompt 1, context j at 2 + j, every BOS 0 and every query 2 + m (m = real context
        points), as if each target had its own sequence [BOS, prompt, context…, query]. A merged BOS+query token
        sits at 2 + m."""
        batch, n_ctx = inputs.ctx_mask.shape
        n_tgt = inputs.query_mask.shape[1]
        real_ctx = inputs.ctx_mask.sum(dim=1, keepdim=True).float()
        ctx_positions = torch.arange(1, n_ctx + 2, device=real_ctx.device, dtype=torch.float32).expand(batch, -1)
        bos_positions = torch.zeros_like(real_ctx).expand(-1, n_tgt)
        query_positions = (real_ctx + 2).expand(-1, n_tgt)
        if not self.config.separate_bos:
            return torch.cat([ctx_positions, query_positions], dim=1)
        return torch.cat([ctx_positions, torch.stack([bos_positions, query_positions], dim=2).flatten(1)], dim=1)

    def _monotone_quantiles(self, raw: Tensor, base: Tensor) -> Tensor:
        """Median from the head plus ``base`` (B, T, 1): the last value (``residual_to_last``) or, for a parametric
        model, the law's anchor; the other quantiles at cumulative softplus steps."""
        mid = self.config.quantiles.index(0.5)
        median = raw[..., mid : mid + 1]
        if self.config.residual_to_last or self.config.parametric:
            median = median + base
        steps = F.softplus(raw)
        upper = median + torch.cumsum(steps[..., mid + 1 :], dim=-1)
        lower = median - torch.cumsum(steps[..., :mid].flip(-1), dim=-1).flip(-1)
        return torch.cat([lower, median, upper], dim=-1)


def _required(tensor: Tensor | None, name: str) -> Tensor:
    if tensor is None:
        what = {"task": "the task", "anchor": "parametric inputs", "query_param": "parametric inputs",
                "ctx_param": "parametric inputs"}.get(name, "losses")
        raise ConfigError(f"this model reads {what}, but inputs.{name} is None")
    return tensor


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (the paper's model has 19,223,917)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
