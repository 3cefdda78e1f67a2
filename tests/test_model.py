"""NeuNeu model invariants: ordered quantiles, padding/batch invariance, masks honoured, config checks."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from neuneu.model import (
    LOSS_INPUTS,
    ConfigError,
    NeuNeu,
    NeuNeuConfig,
    NeuNeuInputs,
    config_for,
    count_parameters,
)

TOL = 1e-6


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_config(**overrides) -> NeuNeuConfig:
    """The smoke model with made-up feature statistics, so every loss input can be built without data."""
    base = config_for("smoke")
    loss_input = overrides.get("loss_input", base.loss_input)
    width = {"none": 0, "mean": 1, "vector": 3, "hist": 8, "sample": 40, "law": 2}[loss_input]
    stats = 1 if loss_input == "sample" else width
    return dataclasses.replace(base, loss_dim=width, feature_kinds=("*",), feature_center=((0.0,) * stats,),
                               feature_scale=((1.0,) * stats,), **overrides)


def random_inputs(config: NeuNeuConfig, batch: int, n_ctx: int, n_tgt: int, seed: int = 0) -> NeuNeuInputs:
    """A batch with every slot real; tests then pad or mask it."""
    g = torch.Generator().manual_seed(seed)
    values = torch.rand(batch, n_ctx, generator=g)
    inputs = NeuNeuInputs(
        ctx_value=torch.stack([values, values - values[:, -1:]], dim=-1),
        ctx_pos=-torch.rand(batch, n_ctx, generator=g).cumsum(1).flip(1),
        ctx_mask=torch.ones(batch, n_ctx, dtype=torch.bool),
        query_pos=torch.rand(batch, n_tgt, generator=g) * 2,
        query_mask=torch.ones(batch, n_tgt, dtype=torch.bool),
        last_value=values[:, -1].clone())
    if config.uses_losses:
        f = config.loss_dim
        inputs.prompt_loss = torch.randn(batch, f, generator=g)
        inputs.ctx_loss = torch.randn(batch, n_ctx, f, generator=g)
        inputs.query_loss = torch.randn(batch, n_tgt, f, generator=g)
    return inputs


def pad(inputs: NeuNeuInputs, extra_ctx: int, extra_tgt: int, fill: float = 7.0) -> NeuNeuInputs:
    """The same batch with ``extra_ctx`` padded context slots and ``extra_tgt`` padded targets holding junk."""
    def grow(t: torch.Tensor | None, dim: int, n: int, value) -> torch.Tensor | None:
        if t is None:
            return None
        shape = list(t.shape)
        shape[dim] = n
        return torch.cat([t, torch.full(shape, value, dtype=t.dtype)], dim=dim)

    return NeuNeuInputs(
        ctx_value=grow(inputs.ctx_value, 1, extra_ctx, fill), ctx_pos=grow(inputs.ctx_pos, 1, extra_ctx, fill),
        ctx_mask=grow(inputs.ctx_mask, 1, extra_ctx, False),
        query_pos=grow(inputs.query_pos, 1, extra_tgt, fill), query_mask=grow(inputs.query_mask, 1, extra_tgt, False),
        last_value=inputs.last_value, prompt_loss=inputs.prompt_loss,
        ctx_loss=grow(inputs.ctx_loss, 1, extra_ctx, fill), query_loss=grow(inputs.query_loss, 1, extra_tgt, fill))


def trained_looking(model: NeuNeu, seed: int = 1) -> NeuNeu:
    """Randomise every parameter (incl. the zero-initialised head) so outputs depend on all inputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return model.eval()


VARIANTS = [dict(loss_input=li, setting=st) for li in LOSS_INPUTS for st in ("forecast", "loss_given")]


@pytest.mark.parametrize("overrides", VARIANTS + [dict(loss_input="hist", separate_bos=False),
                                                  dict(loss_input="mean", loss_on_context=False)])
def test_quantiles_are_strictly_ordered(overrides: dict) -> None:
    config = tiny_config(**overrides)
    model = trained_looking(NeuNeu(config))
    with torch.no_grad():
        out = model(random_inputs(config, batch=4, n_ctx=5, n_tgt=3))
    assert out.shape == (4, 3, 5)
    assert torch.all(out.diff(dim=-1) > 0)


@pytest.mark.parametrize("overrides", [dict(loss_input="none"), dict(loss_input="hist", setting="loss_given"),
                                       dict(loss_input="sample"), dict(loss_input="vector", separate_bos=False)])
def test_padding_and_batch_size_do_not_change_outputs(overrides: dict) -> None:
    config = tiny_config(**overrides)
    model = trained_looking(NeuNeu(config))
    batch = random_inputs(config, batch=5, n_ctx=6, n_tgt=4)
    with torch.no_grad():
        full = model(batch)
        padded = model(pad(batch, extra_ctx=3, extra_tgt=2))[:, :4]
        alone = model(NeuNeuInputs(**{k: None if v is None else v[1:2] for k, v in vars(batch).items()}))
    torch.testing.assert_close(padded, full, atol=TOL, rtol=0)
    torch.testing.assert_close(alone, full[1:2], atol=TOL, rtol=0)


def test_each_target_is_answered_independently_of_the_others() -> None:
    config = tiny_config(loss_input="mean")
    model = trained_looking(NeuNeu(config))
    batch = random_inputs(config, batch=2, n_ctx=4, n_tgt=3)
    first_only = dataclasses.replace(batch, query_pos=batch.query_pos[:, :1], query_mask=batch.query_mask[:, :1],
                                     query_loss=batch.query_loss[:, :1])
    with torch.no_grad():
        torch.testing.assert_close(model(first_only), model(batch)[:, :1], atol=TOL, rtol=0)


def test_context_mask_is_honoured() -> None:
    config = tiny_config(loss_input="vector", setting="loss_given")
    model = trained_looking(NeuNeu(config))
    batch = random_inputs(config, batch=3, n_ctx=6, n_tgt=2)
    batch.ctx_mask[:, -2:] = False  # the last two slots become padding…
    changed = dataclasses.replace(batch, ctx_value=batch.ctx_value.clone(), ctx_loss=batch.ctx_loss.clone())
    changed.ctx_value[:, -2:] = float("nan")  # …so even NaN there must not leak
    changed.ctx_loss[:, -2:] += 100.0
    real_changed = dataclasses.replace(batch, ctx_value=batch.ctx_value.clone())
    real_changed.ctx_value[:, 0, 0] += 0.5
    with torch.no_grad():
        base, after = model(batch), model(changed)
        assert torch.equal(base, after)
        assert not torch.allclose(base, model(real_changed))  # a real slot does matter


def test_untrained_model_forecasts_the_last_value() -> None:
    config = tiny_config(loss_input="mean")
    batch = random_inputs(config, batch=3, n_ctx=4, n_tgt=2)
    with torch.no_grad():
        out = NeuNeu(config).eval()(batch)
    torch.testing.assert_close(out[..., 2], batch.last_value[:, None].expand(-1, 2))
    assert torch.all(out.diff(dim=-1) > 0.015)  # an initial band, not a point


def test_unknown_loss_input_raises_named_error() -> None:
    with pytest.raises(ConfigError, match=r"^unknown loss_input 'cnn'; expected one of: none, mean, vector, hist, "
                                          r"sample, law$"):
        NeuNeuConfig(loss_input="cnn")
    with pytest.raises(ConfigError, match=r"^unknown time_axis 'steps'; expected one of: tokens, flops, index$"):
        NeuNeuConfig(time_axis="steps")


def test_loss_model_needs_loss_dim_and_loss_inputs() -> None:
    with pytest.raises(ConfigError, match=r"^loss_input 'hist' needs loss_dim ≥ 1 \(fill it from the data\)$"):
        NeuNeu(NeuNeuConfig(loss_input="hist"))
    config = tiny_config(loss_input="hist")
    batch = random_inputs(config, batch=1, n_ctx=2, n_tgt=1)
    batch.prompt_loss = None
    with pytest.raises(ConfigError, match=r"^this model reads losses, but inputs.prompt_loss is None$"):
        NeuNeu(config)(batch)


def test_task_identity_embeds_the_task_and_needs_it() -> None:
    config = tiny_config(loss_input="mean", task_identity=True, tasks=("arc", "piqa"))
    model = trained_looking(NeuNeu(config))
    batch = random_inputs(config, batch=3, n_ctx=4, n_tgt=2)
    batch.task = torch.tensor([0, 1, 2])
    same = dataclasses.replace(batch, task=torch.tensor([0, 0, 0]))
    with torch.no_grad():
        out, out_unknown = model(batch), model(same)
    torch.testing.assert_close(out[0], out_unknown[0], rtol=0, atol=TOL)  # row 0 was already "unknown"
    assert not torch.allclose(out[1:], out_unknown[1:])
    batch.task = None
    with pytest.raises(ConfigError, match=r"^this model reads the task, but inputs.task is None$"):
        model(batch)


def test_config_json_round_trip_and_unknown_fields() -> None:
    config = tiny_config(loss_input="vector")
    assert NeuNeuConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ConfigError, match=r"^unknown NeuNeuConfig field\(s\): colour$"):
        NeuNeuConfig.from_dict({**config.to_dict(), "colour": "red"})


def test_full_profile_has_the_paper_encoder_size() -> None:
    full = config_for("full")
    assert (full.d_model, full.n_layers, full.n_heads, full.d_ff) == (512, 6, 8, 2048)
    # paper no-loss model: 18,919,429 parameters; ours adds a query embedding and a position MLP
    assert abs(count_parameters(NeuNeu(full)) - 18_919_429) / 18_919_429 < 0.03
