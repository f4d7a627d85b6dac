#!/usr/bin/env python3
"""Fit one CatBoost ranking model on a feedrec training matrix and export it for onnxruntime-node.

Input: a matrix directory written by src/training/matrix.ts (format "feedrec-matrix-v1").
Output, in --out (models/<name>/<version>/):
  model.onnx  input "features" float32 [N, F]; output "probabilities" float32 [N, 2]
              (column 1 = probability of a like). CatBoost's ZipMap is removed because
              onnxruntime-node cannot return map outputs.
  meta.json   the model card (feature names in order, parameters, validation AUC, data hash,
              and sample rows with CatBoost's own predict_proba for the parity test).

The last line on stdout is a JSON summary for the TypeScript driver (src/training/python.ts).
Progress and diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MATRIX_FORMAT = "feedrec-matrix-v1"
CARD_FORMAT = "feedrec-model-card-v1"
ONNX_INPUT = "features"
ONNX_OUTPUT = "probabilities"
MAX_MODEL_BYTES = 20 * 1024 * 1024


class TrainError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[train] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--matrix", required=True, type=Path, help="training matrix directory (header.json + files)")
    p.add_argument("--out", required=True, type=Path, help="models/<name>/<version>; the version is its basename")
    p.add_argument("--name", required=True, help="model name, e.g. control or test")
    p.add_argument("--valid-from-ms", required=True, type=float,
                   help="rows with time >= this (epoch ms) form the validation window; earlier rows train")
    p.add_argument("--gap-ms", type=float, default=0.0,
                   help="rows in [valid-from - gap, valid-from) neither train nor validate: with a target that "
                        "looks ahead (liked within the next days) their labels would reach into the validation window")
    p.add_argument("--iterations", type=int, default=1000, help="maximum trees (early stopping may use fewer)")
    p.add_argument("--depth", type=int, default=6)
    p.add_argument("--learning-rate", type=float, default=0.05)
    p.add_argument("--l2-leaf-reg", type=float, default=3.0)
    p.add_argument("--early-stopping-rounds", type=int, default=100,
                   help="stop after this many trees without a better validation AUC and keep the best "
                        "iteration; 0 keeps all --iterations trees (AUC is still reported)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--refit", action="store_true",
                   help="after validation, refit on all rows with the best iteration count (default: ship the "
                        "model fitted on the training window, so the reported AUC is the shipped model's)")
    p.add_argument("--samples", type=int, default=20, help="sample rows with CatBoost predictions in the card")
    p.add_argument("--no-verify-hash", action="store_true", help="skip re-hashing the matrix files")
    p.add_argument("--loss-function", default="Logloss",
                   help="Logloss (default), or a ranking objective fitted per group: YetiRank, PairLogit, "
                        "QueryCrossEntropy (docs/experiments/objectives.md); the exported model still outputs "
                        "[N, 2] probabilities (sigmoid of the ranking score for the ranking objectives)")
    p.add_argument("--group-by", choices=["user-day", "user"], default="user-day",
                   help="the groups of a ranking objective: a user's views of one day, or all of a user's views")
    p.add_argument("--max-train-rows", type=int, default=0,
                   help="fit on at most this many training rows, a seeded random subset (learning curve); 0 = all")
    p.add_argument("--drop-features", default="",
                   help="comma-separated feature names (or name prefixes ending in *) fitted as a constant 0: "
                        "the model keeps the feature list the service fills but never splits on them "
                        "(feature ablation, docs/experiments/ablation.md)")
    return p.parse_args(argv)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_matrix(directory: Path, verify: bool):
    header_path = directory / "header.json"
    if not header_path.is_file():
        raise TrainError(f"no header.json in {directory}")
    header = json.loads(header_path.read_text())
    if header.get("format") != MATRIX_FORMAT:
        raise TrainError(f"{header_path}: format {header.get('format')!r}, expected {MATRIX_FORMAT!r}")
    rows = int(header["rows"])
    names = list(header["features"])
    files = header["files"]
    spec = {"features": ("<f4", rows * len(names)), "label": ("u1", rows), "time": ("<f8", rows), "user": ("<i4", rows)}
    arrays = {}
    for key, (dtype, count) in spec.items():
        path = directory / files[key]
        if not path.is_file():
            raise TrainError(f"matrix file {path} is missing")
        size = path.stat().st_size
        want = count * np.dtype(dtype).itemsize
        if size != want:
            raise TrainError(f"{path}: {size} bytes, header implies {want}")
        if verify:
            expected = header.get("sha256", {}).get(files[key])
            if expected and sha256_file(path) != expected:
                raise TrainError(f"{path}: sha256 differs from header.json")
        arrays[key] = np.fromfile(path, dtype=dtype, count=count) if count else np.zeros(0, dtype=dtype)
    X = arrays["features"].reshape(rows, len(names))
    y = arrays["label"]
    if rows and y.max(initial=0) > 1:
        raise TrainError("label.u8 holds values other than 0/1")
    return header, names, X, y.astype(np.int32), arrays["time"], arrays["user"]


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Mann-Whitney ROC-AUC with average ranks for ties."""
    y = np.asarray(y)
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    sp = p[order]
    ranks = np.empty(len(p), dtype=np.float64)
    n = len(p)
    # Walk runs of equal scores and give each run its average rank (1-based).
    boundaries = np.flatnonzero(np.diff(sp)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [n]))
    avg = (starts + ends + 1) / 2.0
    run_of = np.repeat(np.arange(len(starts)), ends - starts)
    ranks[order] = avg[run_of]
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def strip_zipmap(src: Path, dst: Path, num_features: int) -> dict:
    """Remove CatBoost's ZipMap so the graph returns a float tensor [N, 2] named ONNX_OUTPUT."""
    import onnx

    model = onnx.load(str(src))
    g = model.graph
    zipmaps = [n for n in g.node if n.op_type == "ZipMap"]
    trees = [n for n in g.node if n.op_type.startswith("TreeEnsemble")]
    if len(trees) != 1:
        raise TrainError(f"expected one TreeEnsemble node in CatBoost's ONNX, found {[n.op_type for n in g.node]}")
    tree = trees[0]
    if tree.op_type == "TreeEnsembleRegressor":
        return add_sigmoid_output(model, g, tree, dst, num_features)
    if len(tree.output) < 2:
        raise TrainError("TreeEnsembleClassifier has no probability output")
    prob_tensor = tree.output[1]
    for z in zipmaps:
        g.node.remove(z)
    # Rename the tensor to the documented output name (nothing else consumes it).
    tree.output[1] = ONNX_OUTPUT
    return save_checked(model, g, tree, dst, num_features, [z.op_type for z in zipmaps], prob_tensor)


def save_checked(model, g, tree, dst: Path, num_features: int, removed: list, was_output: str, **extra) -> dict:
    """Declares the [N, 2] output, checks the one [N, num_features] input and gives it the documented
    name, then checks and saves the rewritten graph; returns what the model card records of its
    inputs and outputs."""
    import onnx
    from onnx import TensorProto, helper

    del g.output[:]
    g.output.append(helper.make_tensor_value_info(ONNX_OUTPUT, TensorProto.FLOAT, ["N", 2]))
    if len(g.input) != 1:
        raise TrainError(f"expected one graph input, found {[i.name for i in g.input]}")
    inp = g.input[0]
    dims = inp.type.tensor_type.shape.dim
    if len(dims) != 2 or dims[1].dim_value != num_features:
        raise TrainError(f"ONNX input {inp.name} has shape {dims}, expected [N, {num_features}]")
    inp.name = ONNX_INPUT
    tree.input[0] = ONNX_INPUT
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return {
        "input": ONNX_INPUT,
        "input_shape": ["N", num_features],
        "output": ONNX_OUTPUT,
        "output_shape": ["N", 2],
        "probability_column": 1,
        "removed": removed,
        "was_output": was_output,
        **extra,
        "opset": {o.domain or "ai.onnx": o.version for o in model.opset_import},
    }


def add_sigmoid_output(model, g, tree, dst: Path, num_features: int) -> dict:
    """A ranking objective's raw score s becomes [1 - sigmoid(s), sigmoid(s)], the classifier's shape."""
    from onnx import TensorProto, helper

    score = tree.output[0]
    g.node.extend([
        helper.make_node("Constant", [], ["one"], value=helper.make_tensor("one_value", TensorProto.FLOAT, [], [1.0])),
        helper.make_node("Sigmoid", [score], ["p_like"]),
        helper.make_node("Sub", ["one", "p_like"], ["p_not"]),
        helper.make_node("Concat", ["p_not", "p_like"], [ONNX_OUTPUT], axis=1),
    ])
    if not any((o.domain or "") == "" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("", 13))
    return save_checked(model, g, tree, dst, num_features, [], score, transform="sigmoid of the ranking score")


def pick_samples(X: np.ndarray, valid_idx: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Sample rows from the validation window (falling back to all rows); rows with NaN first."""
    rng = np.random.default_rng(seed)
    pool = valid_idx if len(valid_idx) else np.arange(len(X))
    if len(pool) == 0 or count <= 0:
        return np.zeros((0, X.shape[1]), dtype=np.float32)
    has_nan = np.isnan(X[pool]).any(axis=1)
    nan_rows = pool[has_nan]
    plain = pool[~has_nan]
    take_nan = min(len(nan_rows), count // 4)
    chosen = list(rng.choice(nan_rows, size=take_nan, replace=False)) if take_nan else []
    rest = min(len(plain), count - take_nan - 2)
    chosen += list(rng.choice(plain, size=max(rest, 0), replace=False)) if rest > 0 else []
    rows = X[np.array(chosen, dtype=np.int64)] if chosen else np.zeros((0, X.shape[1]), dtype=np.float32)
    # Two synthetic rows make sure missing values are exercised even when the data has none:
    # a real row with every other feature missing, and a row with every feature missing.
    base = X[pool[0]].copy()
    base[::2] = np.nan
    extra = np.stack([base, np.full(X.shape[1], np.nan, dtype=np.float32)])
    return np.concatenate([rows, extra]).astype(np.float32)


def jsonable_row(row: np.ndarray) -> list:
    # JSON has no NaN: missing values are written as null (the parity test reads null as NaN).
    return [None if math.isnan(v) else float(v) for v in row.tolist()]


def iso_ms(ms) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def training_window(source: dict, t: np.ndarray, valid_from_ms: float) -> dict:
    """The events the model learned from, for the model card; refuses rows at or after a cut-off.

    The matrix builder records the window (first and last event its rows and features could read,
    the cut-off of `feedrec train --until`); a hold-out check compares it with its held-out days.
    """
    w = dict(source.get("window") or {})
    until = w.get("until_ms", source.get("until_ms"))
    if until is not None and len(t) and float(t.max()) >= until:
        raise TrainError(f"the matrix has rows at or after its cut-off {iso_ms(until)}")
    if until is not None and valid_from_ms >= until:
        raise TrainError(f"--valid-from-ms {iso_ms(valid_from_ms)} is not before the cut-off {iso_ms(until)}")
    w.setdefault("first_row_ms", float(t.min()) if len(t) else None)
    w.setdefault("last_row_ms", float(t.max()) if len(t) else None)
    w["until_ms"] = until
    w["valid_from_ms"] = valid_from_ms
    keys = ("until", "first_event", "last_event", "first_row", "last_row", "valid_from")
    out = {k: iso_ms(w.get(f"{k}_ms")) for k in keys}
    out.update({f"{k}_ms": w.get(f"{k}_ms") for k in keys})
    return out


def drop_features(X: np.ndarray, names: list[str], spec: str) -> list[str]:
    """Sets the named columns (a trailing * matches a prefix) to 0 in place; returns their names."""
    wanted = [w.strip() for w in spec.split(",") if w.strip()]
    dropped = []
    for w in wanted:
        hit = [n for n in names if (n.startswith(w[:-1]) if w.endswith("*") else n == w)]
        if not hit:
            raise TrainError(f"--drop-features: no feature matches {w!r}")
        dropped += [n for n in hit if n not in dropped]
    for n in dropped:
        X[:, names.index(n)] = 0.0
    return dropped


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    t0 = time.time()
    from catboost import CatBoostClassifier, Pool, __version__ as catboost_version

    header, names, X, y, t, users = load_matrix(args.matrix, verify=not args.no_verify_hash)
    rows = len(y)
    dropped = drop_features(X, names, args.drop_features)
    if dropped:
        log(f"fitting without {', '.join(dropped)}")
    window = training_window(header.get("source") or {}, t, args.valid_from_ms)
    valid_mask = t >= args.valid_from_ms
    train_idx = np.flatnonzero(t < args.valid_from_ms - args.gap_ms)
    valid_idx = np.flatnonzero(valid_mask)
    if 0 < args.max_train_rows < len(train_idx):
        train_idx = np.sort(np.random.default_rng(args.seed).choice(train_idx, args.max_train_rows, replace=False))
    log(f"matrix {args.matrix}: {rows} rows x {len(names)} features; train {len(train_idx)}, valid {len(valid_idx)}")
    if len(train_idx) == 0 or len(valid_idx) == 0:
        raise TrainError(f"--valid-from-ms {args.valid_from_ms} leaves train={len(train_idx)} valid={len(valid_idx)} rows")
    for part, idx in (("train", train_idx), ("valid", valid_idx)):
        if len(np.unique(y[idx])) < 2:
            raise TrainError(f"the {part} window has only one class")

    params = {
        "loss_function": "Logloss",
        "eval_metric": "AUC",
        "iterations": args.iterations,
        "depth": args.depth,
        "learning_rate": args.learning_rate,
        "l2_leaf_reg": args.l2_leaf_reg,
        "random_seed": args.seed,
        "thread_count": args.threads,
        "nan_mode": "Min",
    }
    if args.early_stopping_rounds > 0:
        params.update(od_type="Iter", od_wait=args.early_stopping_rounds, use_best_model=True)
    else:
        params.update(use_best_model=False)
    ranking = args.loss_function != "Logloss"
    if ranking:
        from catboost import CatBoost

        params["loss_function"] = args.loss_function
        day = np.floor(t / 86_400_000).astype(np.int64)
        group = users.astype(np.int64) * 100_000 + day if args.group_by == "user-day" else users.astype(np.int64)
        # CatBoost wants each group's rows together (the builder writes them so; other matrices may not).
        train_idx = train_idx[np.argsort(group[train_idx], kind="stable")]
        valid_idx = valid_idx[np.argsort(group[valid_idx], kind="stable")]
        train_pool = Pool(X[train_idx], y[train_idx], feature_names=names, group_id=group[train_idx])
        valid_pool = Pool(X[valid_idx], y[valid_idx], feature_names=names, group_id=group[valid_idx])
        model = CatBoost(dict(params, verbose=max(args.iterations // 10, 1), allow_writing_files=False))
    else:
        train_pool = Pool(X[train_idx], y[train_idx], feature_names=names)
        valid_pool = Pool(X[valid_idx], y[valid_idx], feature_names=names)
        model = CatBoostClassifier(**params, verbose=max(args.iterations // 10, 1), allow_writing_files=False)
    t_fit = time.time()
    model.fit(train_pool, eval_set=valid_pool, log_cout=sys.stderr, log_cerr=sys.stderr)
    fit_seconds = time.time() - t_fit
    best_iteration = int(model.get_best_iteration())
    proba = (lambda pool: 1.0 / (1.0 + np.exp(-model.predict(pool)))) if ranking else (
        lambda pool: model.predict_proba(pool)[:, 1])
    p_valid = proba(valid_pool)
    auc_valid = roc_auc(y[valid_idx], p_valid)
    auc_train = roc_auc(y[train_idx], proba(train_pool))
    log(f"best iteration {best_iteration}, trees {model.tree_count_}, valid AUC {auc_valid:.5f}, train AUC {auc_train:.5f}")

    refit_info = None
    if args.refit and ranking:
        raise TrainError("--refit is implemented for Logloss only")
    if args.refit:
        refit_params = dict(params, iterations=best_iteration + 1, use_best_model=False)
        refit_params.pop("od_type", None)
        refit_params.pop("od_wait", None)
        model = CatBoostClassifier(**refit_params, verbose=0, allow_writing_files=False)
        model.fit(Pool(X, y, feature_names=names))
        refit_info = {"rows": rows, "iterations": best_iteration + 1}
        log(f"refitted on all {rows} rows with {best_iteration + 1} trees")

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    version = out.name
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        raw = Path(tmp) / "catboost.onnx"
        model.save_model(str(raw), format="onnx", export_parameters={
            "onnx_domain": "ai.catboost",
            "onnx_model_version": 1,
            "onnx_doc_string": f"feedrec {args.name} {version}",
            "onnx_graph_name": f"feedrec_{args.name}",
        })
        onnx_info = strip_zipmap(raw, out / "model.onnx", len(names))
    model_bytes = (out / "model.onnx").stat().st_size
    if model_bytes > MAX_MODEL_BYTES:
        raise TrainError(f"model.onnx is {model_bytes} bytes, over the {MAX_MODEL_BYTES} byte limit")

    samples_X = pick_samples(X, valid_idx, args.samples, args.seed)
    samples_p = proba(Pool(samples_X, feature_names=names)) if len(samples_X) else []

    file_hashes = header.get("sha256", {})
    data_hash = hashlib.sha256(
        "".join(f"{k}={file_hashes[k]}\n" for k in sorted(file_hashes)).encode()
    ).hexdigest() if file_hashes else None

    card = {
        "format": CARD_FORMAT,
        "name": args.name,
        "version": version,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "feature_names": names,
        "num_features": len(names),
        "library": {"catboost": catboost_version, "numpy": np.__version__, "python": sys.version.split()[0]},
        "params": params,
        "refit": refit_info,
        "best_iteration": best_iteration,
        "tree_count": int(model.tree_count_),
        "depth": args.depth,
        "dropped_features": dropped,
        "group_by": args.group_by if ranking else None,
        "window": window,
        # What a score means: P(like | view) by default, or "liked within the next days" over all posts.
        "target": (header.get("source") or {}).get("target") or {"kind": "view"},
        "validation": {
            "metric": "ROC-AUC",
            "auc": auc_valid,
            "train_auc": auc_train,
            "valid_from_ms": args.valid_from_ms,
            "valid_from": dt.datetime.fromtimestamp(args.valid_from_ms / 1000, dt.timezone.utc).isoformat(),
            "train_rows": int(len(train_idx)),
            "valid_rows": int(len(valid_idx)),
            "train_positive_rate": float(y[train_idx].mean()),
            "valid_positive_rate": float(y[valid_idx].mean()),
            "train_users": int(len(np.unique(users[train_idx]))),
            "valid_users": int(len(np.unique(users[valid_idx]))),
        },
        "data": {
            "rows": rows,
            "positive_rate": float(y.mean()),
            "sha256": data_hash,
            "files": file_hashes,
            "source": header.get("source"),
        },
        "onnx": dict(onnx_info, bytes=model_bytes),
        "fit_seconds": round(fit_seconds, 3),
        "samples": [
            {"features": jsonable_row(r), "catboost_proba": float(p)} for r, p in zip(samples_X, samples_p)
        ],
    }
    (out / "meta.json").write_text(json.dumps(card, indent=2) + "\n")

    summary = {
        "ok": True,
        "name": args.name,
        "version": version,
        "out": str(out),
        "auc": auc_valid,
        "best_iteration": best_iteration,
        "tree_count": int(model.tree_count_),
        "train_rows": int(len(train_idx)),
        "valid_rows": int(len(valid_idx)),
        "model_bytes": model_bytes,
        "fit_seconds": round(fit_seconds, 3),
        "wall_seconds": round(time.time() - t0, 3),
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except TrainError as e:
        print(f"train.py: {e}", file=sys.stderr)
        print(json.dumps({"ok": False, "error": str(e)}), flush=True)
        sys.exit(2)
