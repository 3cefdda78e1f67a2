"""neuneu.trajectories: each loader on tiny fixtures written here, every named error, and the real corpus."""

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuneu import trajectories as T

OLMO_HEADER = [
    "_step", "throughput/total_tokens", "throughput/total_training_Gflops",
    "eval/c4_en-validation/CrossEntropyLoss", "eval/pile-validation/CrossEntropyLoss",
    "eval/downstream/hellaswag_val_rc_5shot_len_norm", "eval/downstream/arc_easy_val_rc_5shot_len_norm",
    "eval/downstream/arc_easy_test_rc_5shot_len_norm", "eval/downstream/arc_easy_test_rc_5shot_acc",
    "eval/downstream/boolq_val_rc_5shot_acc", "eval/downstream/hellaswag_val_mc_5shot_acc",
]
INFO = T.RunInfo("olmo-ladder", "olmo-2-ladder", "olmo-190M-1xC", 1.9e8, "olmo-mix", "default", 1.0)


def _olmo_rows(n=6):
    rows = []
    for i in range(n):
        step = i * 100  # includes step 0, which the loader drops
        rows.append([step, step * 1000, step * 5.0, 5 - i * 0.1, 6 - i * 0.1, 0.25 + i * 0.01, 0.3, 0.4 + i * 0.02,
                     0.9, 0.6, 0.25])
    return rows


def _write_csv(path: Path, header, rows) -> Path:
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_olmo_csv_picks_columns_and_drops_step0(tmp_path):
    path = _write_csv(tmp_path / "190M-1xC.csv", OLMO_HEADER, _olmo_rows())
    acc, losses = T.read_olmo_csv(path, INFO)
    assert sorted(acc["task"].unique()) == ["arc_easy", "boolq", "hellaswag", "hellaswag_mc"]
    arc = acc[acc.task == "arc_easy"]
    assert set(arc["metric"]) == {"len_norm"} and np.allclose(arc["value"], [0.42, 0.44, 0.46, 0.48, 0.5])
    assert acc.loc[acc.task == "boolq", "metric"].iloc[0] == "acc"
    assert acc["step"].min() == 100
    assert acc.loc[acc.task == "hellaswag", "flops"].iloc[0] == pytest.approx(500.0 * 1e9)
    mean = losses[losses.loss_name == "mean"].sort_values("step")["value"].to_numpy()
    assert np.allclose(mean, [5.4, 5.3, 5.2, 5.1, 5.0])
    assert list(acc.columns) == T.ACC_COLUMNS and list(losses.columns) == T.LOSS_COLUMNS


def test_olmo_unsorted_and_duplicate_rows_are_merged(tmp_path):
    rows = _olmo_rows()
    rows = rows[::-1] + [rows[2]]
    acc, _ = T.read_olmo_csv(_write_csv(tmp_path / "x.csv", OLMO_HEADER, rows), INFO)
    steps = acc[acc.task == "hellaswag"]["step"].tolist()
    assert steps == [100, 200, 300, 400, 500]


def test_olmo_empty_cells_dropped(tmp_path):
    rows = _olmo_rows()
    rows[3][5] = None
    acc, _ = T.read_olmo_csv(_write_csv(tmp_path / "x.csv", OLMO_HEADER, rows), INFO)
    assert acc[acc.task == "hellaswag"]["step"].tolist() == [100, 200, 400, 500]


def test_olmo_dense_log_without_step_column(tmp_path):
    header = ["throughput/total_tokens", "batch_size_in_tokens", "eval/downstream/piqa_rc_5shot_len_norm"]
    rows = [[1000 * k, 1000, 0.5 + k / 100] for k in range(1, 7)]
    acc, losses = T.read_olmo_csv(_write_csv(tmp_path / "600M-1xC.csv", header, rows), INFO, with_losses=False)
    assert acc["step"].tolist() == [1, 2, 3, 4, 5, 6] and acc["task"].iloc[0] == "piqa"
    assert losses.empty


def test_error_missing_column(tmp_path):
    header = [h for h in OLMO_HEADER if h != "_step"]
    rows = [r[1:] for r in _olmo_rows()]
    with pytest.raises(T.MissingColumnError, match=r"^x.csv: missing column 'throughput/total_tokens'$|^x.csv: missing column 'batch_size_in_tokens'$"):
        T.read_olmo_csv(_write_csv(tmp_path / "x.csv", header, rows), INFO)


def test_error_no_accuracy_column(tmp_path):
    path = _write_csv(tmp_path / "x.csv", ["_step", "eval/c4_en-validation/CrossEntropyLoss"], [[1, 3.0]])
    with pytest.raises(T.MissingColumnError, match=r"^x.csv: no eval/downstream/\*_rc_5shot_\* accuracy column$"):
        T.read_olmo_csv(path, INFO)


def test_error_non_numeric(tmp_path):
    rows = _olmo_rows()
    rows[2][5] = "oops"
    with pytest.raises(T.NonNumericValueError,
                       match=r"^x.csv: non-numeric value 'oops' in column 'eval/downstream/hellaswag_val_rc_5shot_len_norm'$"):
        T.read_olmo_csv(_write_csv(tmp_path / "x.csv", OLMO_HEADER, rows), INFO)


def test_error_conflicting_duplicate_steps(tmp_path):
    rows = _olmo_rows()
    clash = list(rows[2])
    clash[5] = 0.99
    with pytest.raises(T.ConflictingStepsError, match=r"^x.csv: step 200 appears twice with different values$"):
        T.read_olmo_csv(_write_csv(tmp_path / "x.csv", OLMO_HEADER, rows + [clash]), INFO)


def test_error_accuracy_out_of_range(tmp_path):
    rows = _olmo_rows()
    rows[4][5] = 1.5
    with pytest.raises(T.AccuracyRangeError, match=r"^x.csv: accuracy 1.5 outside \[0, 1\]$"):
        T.read_olmo_csv(_write_csv(tmp_path / "x.csv", OLMO_HEADER, rows), INFO)


def test_error_too_few_checkpoints(tmp_path):
    with pytest.raises(T.TooFewCheckpointsError, match=r"^x.csv: 2 checkpoints after dropping step 0; need 5$"):
        T.read_olmo_csv(_write_csv(tmp_path / "x.csv", OLMO_HEADER, _olmo_rows(3)), INFO)


def _pythia_dir(tmp_path: Path, steps=(0, 1, 2, 4, 8, 16, 32)) -> list[Path]:
    folder = tmp_path / "pythia-70m" / "zero-shot"
    folder.mkdir(parents=True)
    paths = []
    for i, step in enumerate(steps):
        results = {
            "arc_easy": {"acc": 0.3 + i / 100, "acc_stderr": 0.01, "acc_norm": 0.28 + i / 100},
            "winogrande": {"acc": 0.5},
            "hendrycksTest-anatomy": {"acc": 0.2, "acc_norm": 0.22},
            "crows_pairs_english": {"likelihood_difference": 3.0, "pct_stereotype": 0.5},
            "lambada_openai": {"acc": 0.1 * i, "ppl": float(np.exp(5 - i / 10))},
        }
        path = folder / f"70m_step{step}.json"
        path.write_text(json.dumps({"results": results, "config": {}}))
        paths.append(path)
    return paths


def test_pythia_loader(tmp_path):
    info = T.RunInfo("pythia", "pythia", "pythia-70m", 7e7, "pile", "default")
    acc, losses = T.read_pythia_dir(_pythia_dir(tmp_path), info)
    assert sorted(acc["task"].unique()) == ["arc_easy", "lambada_openai", "mmlu_anatomy", "winogrande"]
    arc = acc[acc.task == "arc_easy"]
    assert set(arc.metric) == {"acc_norm"} and arc["step"].tolist() == [1, 2, 4, 8, 16, 32]
    assert arc["tokens"].iloc[0] == 2048 * 1024
    assert acc.loc[acc.task == "winogrande", "metric"].iloc[0] == "acc"
    assert np.allclose(losses.sort_values("step")["value"], [4.9, 4.8, 4.7, 4.6, 4.5, 4.4])


def test_pythia_error_no_step_in_name(tmp_path):
    bad = tmp_path / "model.json"
    bad.write_text(json.dumps({"results": {}}))
    with pytest.raises(T.TrajectoryError, match=r"^model.json: no step in file name$"):
        T.read_pythia_dir([bad], T.RunInfo("pythia", "pythia", "m", 1.0, "pile", "default"))


def test_bigscience_loader_and_errors(tmp_path):
    data = {"tokens": [10, 20, 30, 40, 50, 60], "checkpoints": [1, 2, 3, 4, 5, 6],
            "results": {"piqa": {"acc": [0.5, 0.52, 0.55, 0.56, 0.58, 0.6], "acc_norm": [0.5, 0.51, 0.52, 0.53, 0.54, 0.55]},
                        "mc_taco": {"em": [0.1] * 6},
                        "lambada": {"acc": [0.1] * 6, "ppl": [100.0] * 6}}}
    path = tmp_path / "tr3e-1B3-c4-checkpoints_agg.json"
    path.write_text(json.dumps(data))
    info = T.RunInfo("bigscience", "bigscience-1b3", "tr3e-1B3-c4", 1.3e9, "c4", "default")
    acc, losses = T.read_bigscience_agg(path, info)
    assert sorted(acc.task.unique()) == ["lambada", "piqa"]
    assert acc.loc[acc.task == "piqa", "tokens"].tolist() == [10, 20, 30, 40, 50, 60]
    assert np.allclose(losses["value"], np.log(100.0))
    data["results"]["piqa"]["acc_norm"] = data["results"]["piqa"]["acc_norm"][:3]
    path.write_text(json.dumps(data))
    with pytest.raises(T.TrajectoryError, match=r"^tr3e-1B3-c4-checkpoints_agg.json: piqa has 3 values for 6 checkpoints$"):
        T.read_bigscience_agg(path, info)
    del data["tokens"]
    path.write_text(json.dumps(data))
    with pytest.raises(T.MissingColumnError, match=r"^tr3e-1B3-c4-checkpoints_agg.json: missing key 'tokens'$"):
        T.read_bigscience_agg(path, info)


def test_parse_size():
    assert T.parse_size("190M") == 1.9e8 and T.parse_size("1B") == 1e9
    with pytest.raises(T.TrajectoryError, match=r"^cannot parse model size 'big'$"):
        T.parse_size("big")


def test_to_series_aligns_losses(tmp_path):
    path = _write_csv(tmp_path / "190M-1xC.csv", OLMO_HEADER, _olmo_rows(8))
    acc, losses = T.read_olmo_csv(path, INFO)
    series = T.to_series(T.Corpus(acc, losses), tasks=["hellaswag"])
    (s,) = series
    assert s.key == ("olmo-190M-1xC", "hellaswag") and len(s) == 7
    assert s.losses["vector"].shape == (7, 2) and np.allclose(s.losses["mean"], s.losses["vector"].mean(axis=1))


@pytest.fixture(scope="module")
def corpus():
    if not os.environ.get("NEUNEU_MIRROR") and not (T.CACHE_DIR / "trajectories.parquet").is_file():
        pytest.skip("no NEUNEU_MIRROR and no cached corpus: the real-data test needs the public logs")
    return T.load_corpus()


def test_real_corpus_counts(corpus):
    counts = corpus.counts()
    assert counts.loc["total", "runs"] >= 60
    assert counts.loc["total", "trajectories"] >= 1900
    assert set(counts.index) == {"olmo-ladder", "pythia", "bigscience", "total"}
    acc = corpus.accuracy
    assert acc["value"].between(0, 1).all() and (acc["step"] > 0).all()
    assert not acc.duplicated(["run", "task", "step"]).any()
    assert not corpus.losses.duplicated(["run", "loss_name", "step"]).any()


def test_real_corpus_series(corpus):
    series = T.to_series(corpus)
    assert len(series) >= 1800
    assert all(np.all(np.isfinite(s.losses["mean"])) for s in series)


# ----------------------------------------------------------------------------------------------- new users' files
def _pythia_model_dir(root: Path, model: str, steps=(0, 1, 2, 4, 8, 16, 32), setting="zero-shot") -> list[Path]:
    """A model directory laid out like EleutherAI/pythia evals: <root>/<model>/<setting>/<size>_step<N>.json."""
    folder = root / model / setting
    folder.mkdir(parents=True)
    paths = []
    for i, step in enumerate(steps):
        results = {"arc_easy": {"acc": 0.3 + i / 100, "acc_norm": 0.28 + i / 100},
                   "lambada_openai": {"acc": 0.1 * i, "ppl": float(np.exp(5 - i / 10))}}
        path = folder / f"{model.removeprefix('pythia-')}_step{step}.json"
        path.write_text(json.dumps({"results": results, "config": {}}))
        paths.append(path)
    return paths


def test_pythia_model_names():
    bs = T.pythia_model("pythia-1b-0.5MtokBS")
    assert (bs.size, bs.variants, bs.size_params, bs.recipe) == ("1b", ("0.5MtokBS",), 1_011_781_632.0, "pile")
    assert bs.tokens_per_step == 524_288 == 256 * 2048
    assert T.pythia_model("pythia-1b-deduped").recipe == "pile-deduped"
    assert T.pythia_model("pythia-1b-bf16").tokens_per_step == 1024 * 2048 == T.PYTHIA_TOKENS_PER_STEP
    assert T.pythia_model("pythia-160m-1MtokBS").tokens_per_step == 2**20


def test_pythia_batch_size_variant_loads_with_its_own_batch(tmp_path):
    acc, losses = T.load_pythia(_pythia_model_dir(tmp_path, "pythia-1b-0.5MtokBS"))
    arc = acc[acc.task == "arc_easy"]
    assert set(arc["run"]) == {"pythia-1b-0.5MtokBS"} and set(arc["size_params"]) == {1_011_781_632.0}
    assert arc["tokens"].tolist() == [s * 524_288.0 for s in (1, 2, 4, 8, 16, 32)]
    assert np.allclose(arc["flops"], 6.0 * 1_011_781_632 * arc["tokens"])
    assert losses["tokens"].tolist() == arc["tokens"].tolist()


def test_pythia_error_unknown_size(tmp_path):
    with pytest.raises(T.UnknownModelSizeError,
                       match=r"^pythia-14m: unknown Pythia size '14m'; known sizes: 70m, 160m, 410m, 1b, 1\.4b, 2\.8b, "
                             r"6\.9b, 12b \(add its parameter count to PYTHIA_PARAMS\)$"):
        T.load_pythia(_pythia_model_dir(tmp_path, "pythia-14m"))


def test_pythia_error_unparsable_model_name():
    with pytest.raises(T.UnknownModelSizeError,
                       match=r"^gpt2-small: not a Pythia model name of the form pythia-<size>\[-<variant>\.\.\.\] "
                             r"\(e\.g\. pythia-1b-deduped\); known sizes: 70m, 160m, 410m, 1b, 1\.4b, 2\.8b, 6\.9b, 12b$"):
        T.pythia_model("gpt2-small")


def test_pythia_error_two_directories_one_run(tmp_path):
    first = _pythia_model_dir(tmp_path / "pythia-v0", "pythia-70m")
    second = _pythia_model_dir(tmp_path / "pythia-v1", "pythia-70m")
    a, b = re.escape(str(first[0])), re.escape(str(second[0]))
    with pytest.raises(T.DuplicateRunError,
                       match=rf"^{a} and {b} both map to run 'pythia-70m' from different directories; "
                             rf"load only one copy of the model$"):
        T.load_pythia(first + second)


def test_pythia_error_two_files_one_step(tmp_path):
    paths = _pythia_model_dir(tmp_path, "pythia-70m")
    again = paths[0].with_name("70m_step01.json")
    again.write_text(paths[2].read_text())
    a, b = re.escape(str(again)), re.escape(str(paths[1]))  # sorted: 70m_step01 comes first
    with pytest.raises(T.DuplicateRunError, match=rf"^{a} and {b} both hold step 1 of run 'pythia-70m'; keep one of them$"):
        T.load_pythia(sorted(paths + [again]))


def _bigscience(path: Path, steps=(1, 2, 3, 4, 5, 6), tokens=(10, 20, 30, 40, 50, 60)) -> Path:
    data = {"tokens": list(tokens), "checkpoints": list(steps),
            "results": {"piqa": {"acc": [0.5 + k / 100 for k in range(len(steps))]}}}
    path.write_text(json.dumps(data))
    return path


def test_bigscience_error_two_files_one_run(tmp_path):
    a = _bigscience(tmp_path / "tr3e-1B3-c4-checkpoints_agg.json")
    b = _bigscience(tmp_path / "tr3e-1B3-c4_agg.json")
    with pytest.raises(T.DuplicateRunError,
                       match=rf"^{re.escape(str(a))} and {re.escape(str(b))} both map to run 'tr3e-1B3-c4'; "
                             rf"load only one of them or give them different names$"):
        T.load_bigscience([a, b])


def test_bigscience_error_negative_step(tmp_path):
    path = _bigscience(tmp_path / "tr3e-1B3-c4_agg.json", steps=(1, 2, -3, 4, 5, 6))
    with pytest.raises(T.NegativeStepError, match=r"^tr3e-1B3-c4_agg.json: negative step -3 in checkpoints\[2\]; "
                                                  r"steps count optimizer updates from 0$"):
        T.read_bigscience_agg(path, T.RunInfo("bigscience", "b", "r", 1.3e9, "c4", "default"))


def test_bigscience_error_null_tokens(tmp_path):
    path = _bigscience(tmp_path / "tr3e-1B3-c4_agg.json", tokens=(10, 20, None, 40, 50, 60))
    with pytest.raises(T.MissingComputeError,
                       match=r"^tr3e-1B3-c4_agg.json: checkpoint 3 has no token count \(tokens\[2\] is None\)$"):
        T.read_bigscience_agg(path, T.RunInfo("bigscience", "b", "r", 1.3e9, "c4", "default"))


def test_olmo_error_negative_step(tmp_path):
    rows = _olmo_rows()
    rows[1][0] = -100
    with pytest.raises(T.NegativeStepError,
                       match=r"^x.csv: negative step -100 \(from column '_step'\); steps count optimizer updates from 0$"):
        T.read_olmo_csv(_write_csv(tmp_path / "x.csv", OLMO_HEADER, rows), INFO)


def test_olmo_error_nan_tokens_rejected_not_dropped(tmp_path):
    rows = _olmo_rows()
    rows[3][1] = None
    with pytest.raises(T.MissingComputeError, match=r"^x.csv: step 300 has values but no token count$"):
        T.read_olmo_csv(_write_csv(tmp_path / "x.csv", OLMO_HEADER, rows), INFO)


def _olmo_paths(tmp_path: Path, **dirs: list[str]) -> dict[str, list[Path]]:
    out = {"olmo-ladder": [], "olmo-ladder-dense": [], "olmo-ladder-seeds": []}
    for key, rels in dirs.items():
        for rel in rels:
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            out[key.replace("_", "-")].append(_write_csv(path, OLMO_HEADER, _olmo_rows()))
    return out


def test_olmo_seed_directories_give_distinct_runs(tmp_path):
    paths = _olmo_paths(tmp_path, olmo_ladder_seeds=["peteish-seed-1/190M-1xC.csv", "peteish-seed-2/190M-1xC.csv",
                                                     "peteish-seed-1-init/190M-1xC.csv"])
    acc, _ = T.load_olmo(paths)
    assert sorted(acc["run"].unique()) == ["olmo-190M-1xC-seed1", "olmo-190M-1xC-seed1-init", "olmo-190M-1xC-seed2"]


def test_olmo_error_two_files_one_run(tmp_path):
    paths = _olmo_paths(tmp_path, olmo_ladder=["a/190M-1xC.csv", "b/190M-1xC.csv"])
    a, b = (re.escape(str(p)) for p in paths["olmo-ladder"])
    with pytest.raises(T.DuplicateRunError,
                       match=rf"^{a} and {b} both map to run '190M-1xC'; load only one of them or give them different names$"):
        T.load_olmo(paths)
    paths = _olmo_paths(tmp_path / "s", olmo_ladder_seeds=["x/peteish-seed-1/190M-1xC.csv", "y/peteish-seed-1/190M-1xC.csv"])
    a, b = (re.escape(str(p)) for p in paths["olmo-ladder-seeds"])
    with pytest.raises(T.DuplicateRunError, match=rf"^{a} and {b} both map to run 'olmo-190M-1xC-seed1'; "):
        T.load_olmo(paths)


def test_to_series_names_a_run_loaded_twice(tmp_path):
    path = _write_csv(tmp_path / "190M-1xC.csv", OLMO_HEADER, _olmo_rows())
    acc, losses = T.read_olmo_csv(path, INFO)
    twice = T.Corpus(pd.concat([acc, acc], ignore_index=True), losses)
    with pytest.raises(T.DuplicateRunError, match=r"^run 'olmo-190M-1xC', task 'arc_easy': step 100 appears more than "
                                                  r"once in the accuracy table \(were two files loaded under one run name\?\)$"):
        T.to_series(twice)


def test_dense_log_steps_are_re_expressed_in_paper_step_units_by_tokens() -> None:
    import pandas as pd

    from neuneu.trajectories import _in_paper_steps

    paper = pd.DataFrame({"step": [200, 400, 600], "tokens": [157286400.0, 314572800.0, 471859200.0]})
    dense = pd.DataFrame({"step": [200, 400, 600, 900], "tokens": [104857600.0, 209715200.0, 314572800.0,
                                                                   471859200.0], "value": [0.1, 0.2, 0.3, 0.4]})
    out = _in_paper_steps(dense, paper)  # 524,288 vs 786,432 tokens per step (the 370M logs)
    assert out["step"].tolist() == [400, 600] and out["value"].tolist() == [0.3, 0.4]
