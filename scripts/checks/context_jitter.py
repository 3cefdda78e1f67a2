"""Nested check of test-time context jitter (pre-registered in neuneu/zoo.py before it ran; rejected, 2 of 8 cells).

Each forecast of the nested refit ensembles is averaged, quantile by quantile, with the forecasts from the same
context cut one and two checkpoints earlier. Needs the nested models (`python -m neuneu.zoo --nested`).
Run: `TQDM_DISABLE=1 .venv/bin/python scripts/checks/context_jitter.py` (about a minute).
"""
import numpy as np
import pandas as pd

from neuneu import bench, evaluate, splits, zoo
from neuneu.contract import ForecasterBase, Query, Prediction, cut_context

class Jitter(ForecasterBase):
    def __init__(self, inner, drops=(0, 1, 2)):
        super().__init__(); self.inner, self.drops = inner, drops
        self.name, self.seed, self.capabilities, self.trained_on = inner.name, inner.seed, inner.capabilities, inner.trained_on
    def predict_many(self, pairs):
        expanded, owner = [], []
        for i, (ctx, q) in enumerate(pairs):
            for j in self.drops:
                if len(ctx) - j < 1: continue
                if j == 0:
                    expanded.append((ctx, q)); owner.append((i, 0)); continue
                c = cut_context(ctx, len(ctx) - 1 - j)
                cat = lambda a, b: np.concatenate([np.asarray(a)[-j:], np.asarray(b)])
                losses = None if q.losses is None else {k: cat(ctx.losses[k], v) for k, v in q.losses.items()}
                expanded.append((c, Query(cat(ctx.steps, q.steps), cat(ctx.tokens, q.tokens), cat(ctx.flops, q.flops),
                                          losses, q.final_tokens))); owner.append((i, j))
        answers = self.inner.predict_many(expanded)
        out = [[] for _ in pairs]
        for (i, j), a in zip(owner, answers):
            out[i].append(a.quantiles[j:])
        res = []
        for qs in out:
            q = np.sort(np.mean(qs, axis=0), axis=1)
            res.append(Prediction(median=q[:, 2].copy(), quantiles=q))
        return res

def mae(p):
    p = p.assign(ae=(p["median"] - p["y_true"]).abs() * 100)
    return float(p.groupby(["run", "task"]).ae.mean().mean())

series = splits.load_pool("public")
rows = []
for name in zoo.NESTED_SPLITS:
    sp = splits.make_split(series, name)
    for setting in ("forecast", "loss_given"):
        members = tuple(s for s in zoo.nested_specs("cpu", name) if s.setting == setting and s.refit and s.refit_schedule == "full")
        ens = zoo.EnsembleSpec(name, setting, members)
        [model], _ = bench.neuneu_models(name, series, "cpu", (), (ens,))
        for rule in ("compute", "index"):
            plain = evaluate.evaluate([model], sp.test, setting=setting, split=name, context_rule=rule, reference=False).predictions
            jit = evaluate.evaluate([Jitter(model)], sp.test, setting=setting, split=name, context_rule=rule, reference=False).predictions
            a, b = mae(plain[plain.kind != "baseline"]), mae(jit[jit.kind != "baseline"])
            rows.append(dict(split=name, setting=setting, rule=rule, plain=a, jitter=b, better=b < a))
            print(rows[-1], flush=True)
d = pd.DataFrame(rows); print(d.round(3).to_string()); print("cells won:", int(d.better.sum()), "of", len(d))
