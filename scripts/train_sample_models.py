#!/usr/bin/python3
"""Train the sample models of the Fractal ML Server and write them with their test fixtures.

Run from the repository root with Debian's Python (it sees python3-torch, python3-sklearn, python3-onnx):

    /usr/bin/python3 scripts/train_sample_models.py

Everything is seeded and trained on one thread, so a rerun gives the same weights. It writes:

  deploy/iris/model.pt, model.json        MLP 4-16-3 on iris (standardisation inside), softmax output
  deploy/digits/model.pt, model.json      small CNN on the 8x8 digits (scaling inside), softmax output
  it-tests/src/test/resources/models/
      adder.pt                            TorchScript, two inputs x, y [N,3] -> 2*x + y, no sidecar
      iris.onnx, digits.onnx              the same two trained models exported to ONNX (dynamic batch)
      corrupt.pt                          2048 seeded random bytes (an unloadable model)
  it-tests/src/test/resources/expected/
      iris.json, digits.json, adder.json, iris-onnx.json, digits-onnx.json, iris-sklearn.json (+ its model)

Expected outputs of the TorchScript models come from loading the saved files back with torch.jit.load.
onnxruntime and skl2onnx are not packaged by Debian 12: the expected outputs of the ONNX files come from the
torch model they were exported from (ONNX Runtime matches to a few 1e-6); see write_iris_sklearn() for sklearn.
"""

import json
import os
import random
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import train_test_split

try:
    import onnx
except ImportError:  # the ONNX check is optional; torch.onnx.export does not need the package
    onnx = None

try:
    import onnxruntime  # not in Debian 12; used when present
except ImportError:
    onnxruntime = None

SEED = 20240601
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")
RES = os.path.join(ROOT, "it-tests", "src", "test", "resources")
MODELS = os.path.join(RES, "models")
EXPECTED = os.path.join(RES, "expected")
ONNX_OPSET = 13

IRIS_LABELS = ["setosa", "versicolor", "virginica"]
DIGIT_LABELS = [str(d) for d in range(10)]


def seed_everything(seed=SEED):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


# ---------------------------------------------------------------------------------------------- models

class IrisMLP(nn.Module):
    """4-16-3 MLP; takes raw measurements in cm, standardises them itself, returns probabilities."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        self.hidden = nn.Linear(4, 16)
        self.out = nn.Linear(16, 3)

    def logits(self, x):
        x = (x - self.mean) / self.std
        return self.out(F.relu(self.hidden(x)))

    def forward(self, x):
        return F.softmax(self.logits(x), dim=1)


class DigitsCNN(nn.Module):
    """Small CNN on [N,1,8,8] images with sklearn's pixel values 0..16; returns probabilities [N,10]."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

    def logits(self, x):
        x = x / 16.0
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))

    def forward(self, x):
        return F.softmax(self.logits(x), dim=1)


class Adder(nn.Module):
    """Two inputs, one output: 2*x + y."""

    def forward(self, x, y):
        return 2 * x + y


# -------------------------------------------------------------------------------------------- training

def train(model, x_train, y_train, epochs, batch_size, lr, weight_decay=0.0):
    gen = torch.Generator().manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = x_train.shape[0]
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model.logits(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
    model.eval()
    return model


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


# -------------------------------------------------------------------------------------------- writing

def ensure_dirs():
    for d in (os.path.join(DEPLOY, "iris"), os.path.join(DEPLOY, "digits"), MODELS, EXPECTED):
        os.makedirs(d, exist_ok=True)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def save_torchscript(model, example, path):
    """Trace in eval mode, save with torch.jit.save; returns the module loaded back from the file."""
    model.eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
    traced.eval()
    torch.jit.save(traced, path)
    loaded = torch.jit.load(path, map_location="cpu")
    loaded.eval()
    return loaded


def export_onnx(model, example, path, input_names, output_names):
    model.eval()
    axes = {name: {0: "batch"} for name in input_names + output_names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, example, path, input_names=input_names, output_names=output_names,
                          dynamic_axes=axes, opset_version=ONNX_OPSET, do_constant_folding=True,
                          export_params=True)
    if onnx is not None:
        m = onnx.load(path)
        onnx.checker.check_model(m)


def tolist(a):
    """Nested lists of Python floats holding the exact float32 values (repr gives full precision)."""
    return np.asarray(a, dtype=np.float32).astype(np.float64).tolist()


def run_onnx(path, feeds):
    sess = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, {k: v.numpy() for k, v in feeds.items()})


def expected_doc(name, file, engine, computed_with, inputs, outputs, labels, rows=None, truth=None):
    doc = {"model": name, "file": file, "engine": engine, "computedWith": computed_with}
    doc["inputs"] = {k: {"shape": list(v.shape), "datatype": "FP32", "data": tolist(v)} for k, v in inputs.items()}
    doc["outputs"] = {k: {"shape": list(v.shape), "data": tolist(v)} for k, v in outputs.items()}
    if labels is not None:
        probs = next(iter(outputs.values()))
        doc["labels"] = labels
        doc["predicted"] = [labels[i] for i in np.asarray(probs).argmax(axis=1)]
    if rows is not None:
        doc["datasetRows"] = [int(r) for r in rows]
    if truth is not None:
        doc["trueLabels"] = truth
    return doc


def size(path):
    return os.path.getsize(path)


def rel(path):
    return os.path.relpath(path, ROOT)


# ------------------------------------------------------------------------------------------------ main

def main():
    t0 = time.time()
    ensure_dirs()
    summary = []
    onnx_with = ("onnxruntime " + onnxruntime.__version__) if onnxruntime else None

    # ---------------------------------------------------------------- iris
    seed_everything()
    iris = load_iris()
    xi = torch.tensor(iris.data, dtype=torch.float32)
    yi = torch.tensor(iris.target, dtype=torch.long)
    tr, te = train_test_split(np.arange(len(yi)), test_size=0.3, stratify=iris.target, random_state=0)
    mean = xi[tr].mean(dim=0).tolist()
    std = xi[tr].std(dim=0).tolist()
    iris_model = train(IrisMLP(mean, std), xi[tr], yi[tr], epochs=300, batch_size=16, lr=0.01)
    iris_acc = accuracy(iris_model, xi[te], yi[te])

    iris_pt = os.path.join(DEPLOY, "iris", "model.pt")
    iris_ts = save_torchscript(iris_model, xi[:2], iris_pt)
    write_json(os.path.join(DEPLOY, "iris", "model.json"), {
        "engine": "PyTorch",
        "file": "model.pt",
        "description": "Iris classifier: MLP 4-16-3 trained on scikit-learn's iris data set; outputs class probabilities",
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}],
        "labels": IRIS_LABELS,
    })
    iris_rows = pick_distinct(iris_model, xi, yi, te, [0, 1, 2, 1, 2])
    x5 = xi[iris_rows]
    with torch.no_grad():
        out_ts = iris_ts(x5)
        out_eager = iris_model(x5)
    assert torch.allclose(out_ts, out_eager, atol=1e-6)
    truth = [IRIS_LABELS[int(yi[r])] for r in iris_rows]
    write_json(os.path.join(EXPECTED, "iris.json"), expected_doc(
        "iris", rel(iris_pt), "PyTorch", "torch.jit.load of the saved model.pt, torch " + torch.__version__,
        {"input": x5}, {"probabilities": out_ts}, IRIS_LABELS, iris_rows, truth))

    iris_onnx = os.path.join(MODELS, "iris.onnx")
    export_onnx(iris_model, xi[:2], iris_onnx, ["input"], ["probabilities"])
    if onnxruntime:
        out_onnx = torch.tensor(run_onnx(iris_onnx, {"input": x5})[0])
    else:
        out_onnx = out_eager
    write_json(os.path.join(EXPECTED, "iris-onnx.json"), expected_doc(
        "iris-onnx", rel(iris_onnx), "OnnxRuntime",
        onnx_with or "the torch model it was exported from (onnxruntime not available), torch " + torch.__version__,
        {"input": x5}, {"probabilities": out_onnx}, IRIS_LABELS, iris_rows, truth))
    summary.append(("iris MLP 4-16-3", iris_acc, len(te), [iris_pt, iris_onnx]))

    # ---------------------------------------------------------------- digits
    seed_everything()
    digits = load_digits()
    xd = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1)  # [N,1,8,8], 0..16
    yd = torch.tensor(digits.target, dtype=torch.long)
    tr, te = train_test_split(np.arange(len(yd)), test_size=0.25, stratify=digits.target, random_state=0)
    digits_model = train(DigitsCNN(), xd[tr], yd[tr], epochs=30, batch_size=32, lr=0.003)
    digits_acc = accuracy(digits_model, xd[te], yd[te])

    digits_pt = os.path.join(DEPLOY, "digits", "model.pt")
    digits_ts = save_torchscript(digits_model, xd[:2], digits_pt)
    write_json(os.path.join(DEPLOY, "digits", "model.json"), {
        "engine": "PyTorch",
        "file": "model.pt",
        "description": "Digits classifier: small CNN trained on scikit-learn's 8x8 digits data set "
                       "(pixel values 0..16, scaled inside the model); outputs class probabilities",
        "inputs": [{"name": "image", "datatype": "FP32", "shape": [-1, 1, 8, 8]}],
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]}],
        "labels": DIGIT_LABELS,
    })
    digit_rows = pick_distinct(digits_model, xd, yd, te, [0, 3, 5, 7, 9])
    x5 = xd[digit_rows]
    with torch.no_grad():
        out_ts = digits_ts(x5)
        out_eager = digits_model(x5)
    assert torch.allclose(out_ts, out_eager, atol=1e-6)
    truth = [DIGIT_LABELS[int(yd[r])] for r in digit_rows]
    write_json(os.path.join(EXPECTED, "digits.json"), expected_doc(
        "digits", rel(digits_pt), "PyTorch", "torch.jit.load of the saved model.pt, torch " + torch.__version__,
        {"image": x5}, {"probabilities": out_ts}, DIGIT_LABELS, digit_rows, truth))

    digits_onnx = os.path.join(MODELS, "digits.onnx")
    export_onnx(digits_model, xd[:2], digits_onnx, ["image"], ["probabilities"])
    if onnxruntime:
        out_onnx = torch.tensor(run_onnx(digits_onnx, {"image": x5})[0])
    else:
        out_onnx = out_eager
    write_json(os.path.join(EXPECTED, "digits-onnx.json"), expected_doc(
        "digits-onnx", rel(digits_onnx), "OnnxRuntime",
        onnx_with or "the torch model it was exported from (onnxruntime not available), torch " + torch.__version__,
        {"image": x5}, {"probabilities": out_onnx}, DIGIT_LABELS, digit_rows, truth))
    summary.append(("digits CNN", digits_acc, len(te), [digits_pt, digits_onnx]))

    # ---------------------------------------------------------------- adder (two inputs, no sidecar)
    seed_everything()
    adder_pt = os.path.join(MODELS, "adder.pt")
    gen = torch.Generator().manual_seed(SEED)
    ax = torch.round(torch.randn(5, 3, generator=gen) * 100) / 100  # short decimals, stored as float32
    ay = torch.round(torch.randn(5, 3, generator=gen) * 100) / 100
    adder_ts = save_torchscript(Adder(), (ax[:2], ay[:2]), adder_pt)
    with torch.no_grad():
        out = adder_ts(ax, ay)
    assert torch.equal(out, 2 * ax + ay)
    write_json(os.path.join(EXPECTED, "adder.json"), expected_doc(
        "adder", rel(adder_pt), "PyTorch", "torch.jit.load of the saved adder.pt, torch " + torch.__version__,
        {"x": ax, "y": ay}, {"output": out}, None))
    summary.append(("adder 2*x+y", None, 0, [adder_pt]))

    # ---------------------------------------------------------------- corrupt file
    corrupt = os.path.join(MODELS, "corrupt.pt")
    data = random.Random(SEED).randbytes(2048)
    assert not data.startswith(b"PK")
    with open(corrupt, "wb") as f:
        f.write(data)
    summary.append(("corrupt (random bytes)", None, 0, [corrupt]))

    # ---------------------------------------------------------------- summary
    print(f"torch {torch.__version__}, onnx {onnx.__version__ if onnx else 'absent'}, "
          f"onnxruntime {onnxruntime.__version__ if onnxruntime else 'absent (ONNX expectations from torch)'}, "
          f"skl2onnx absent (iris-sklearn.onnx is built with onnx.helper, below)")
    for name, acc, n, files in summary:
        acc_s = f"test accuracy {acc:.4f} on {n} rows" if acc is not None else "no training"
        sizes = ", ".join(f"{rel(p)} {size(p):,} B" for p in files)
        print(f"  {name:24s} {acc_s:32s} {sizes}")
    print(f"  expected values in {rel(EXPECTED)}: "
          + ", ".join(sorted(os.listdir(EXPECTED))))
    print(f"done in {time.time() - t0:.1f} s")
    if digits_acc <= 0.95:
        sys.exit("digits accuracy is not above 0.95")


def pick_distinct(model, x_all, y_all, test_idx, classes):
    """For each listed class, the first test row of that class (not yet taken) that the model classifies
    correctly with a clear margin, so that the argmax is the same in every engine."""
    with torch.no_grad():
        probs = model(x_all[test_idx]).numpy()
    rows = []
    for c in classes:
        for pos, r in enumerate(test_idx):
            top2 = np.sort(probs[pos])[-2:]
            if (int(r) not in rows and int(y_all[r]) == c and probs[pos].argmax() == c
                    and top2[1] - top2[0] > 0.05):
                rows.append(int(r))
                break
        else:
            raise SystemExit(f"no clear test row of class {c}")
    return rows


def rerun_with_relative_file_name():
    """TorchScript keeps the Python call stack of the trace, file names included, in its .debug_pkl
    records. Rerun from the repository root with this file compiled under its relative name (and
    "<string>" as the outermost frame), so the saved models do not depend on where the checkout lives
    and a rerun anywhere gives byte-identical files."""
    os.chdir(ROOT)
    me = "scripts/train_sample_models.py"
    boot = ("import sys; p = %r; sys.argv = [p] + sys.argv[1:]; "
            "exec(compile(open(p, encoding='utf-8').read(), p, 'exec'), {'__name__': '__main__', '__file__': p})"
            % me)
    os.execv(sys.executable, [sys.executable, "-c", boot] + sys.argv[1:])


if __name__ == "__main__":
    if os.path.isabs(main.__code__.co_filename):
        rerun_with_relative_file_name()
    main()


# ------------------------------------------------------------------------------ scikit-learn models (ONNX)
# Below the main() call on purpose: TorchScript traces record the line numbers of this file's frames, the
# module-level main() call included, so a line added above it would change the bytes of every .pt file.

def write_iris_sklearn():
    """A scikit-learn LogisticRegression on iris with string labels, written as skl2onnx converts it (zipmap on,
    float input): LinearClassifier (post_transform SOFTMAX for the multinomial model, multi_class=1) gives the
    label and the probabilities, an L1 Normalizer follows, Identity passes the label to output_label and ZipMap
    turns the probabilities into output_probability, a sequence of {label: probability} maps. The classes are
    sklearn's classes_ (sorted labels), whose order a hash map of the three names does not keep.
    Returns the model path, the test accuracy and the number of test rows."""
    import sklearn
    from onnx import TensorProto, helper
    from sklearn.linear_model import LogisticRegression

    iris = load_iris()
    x = iris.data.astype(np.float32)  # what a client sends; sklearn sees the same float32 values
    y = iris.target_names[iris.target]
    tr, te = train_test_split(np.arange(len(y)), test_size=0.3, stratify=iris.target, random_state=0)
    clf = LogisticRegression(max_iter=1000, random_state=0)
    clf.fit(x[tr].astype(np.float64), y[tr])
    acc = float(clf.score(x[te].astype(np.float64), y[te]))
    classes = [str(c) for c in clf.classes_]
    assert classes == sorted(classes) and len(classes) == 3

    n_features = x.shape[1]
    linear = helper.make_node(
        "LinearClassifier", ["float_input"], ["label", "probability_tensor"], name="LinearClassifier",
        domain="ai.onnx.ml", classlabels_strings=classes,
        coefficients=clf.coef_.flatten().astype(float).tolist(), intercepts=clf.intercept_.astype(float).tolist(),
        multi_class=1, post_transform="SOFTMAX")
    normalizer = helper.make_node("Normalizer", ["probability_tensor"], ["probabilities"], name="Normalizer",
                                  domain="ai.onnx.ml", norm="L1")
    identity = helper.make_node("Identity", ["label"], ["output_label"], name="Identity")
    zipmap = helper.make_node("ZipMap", ["probabilities"], ["output_probability"], name="ZipMap",
                              domain="ai.onnx.ml", classlabels_strings=classes)
    seq_of_maps = onnx.TypeProto()
    seq_of_maps.sequence_type.elem_type.map_type.key_type = TensorProto.STRING
    seq_of_maps.sequence_type.elem_type.map_type.value_type.tensor_type.elem_type = TensorProto.FLOAT
    graph = helper.make_graph(
        [linear, normalizer, identity, zipmap], "iris_sklearn_logreg",
        [helper.make_tensor_value_info("float_input", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("output_label", TensorProto.STRING, [None]),
         helper.make_value_info("output_probability", seq_of_maps)])
    model = helper.make_model(graph, producer_name="train_sample_models.py (skl2onnx layout)",
                              opset_imports=[helper.make_opsetid("", ONNX_OPSET),
                                             helper.make_opsetid("ai.onnx.ml", 1)])
    model.doc_string = ("scikit-learn " + sklearn.__version__ + " LogisticRegression on iris, converted by hand "
                        "as skl2onnx does")
    onnx.checker.check_model(model)
    path = os.path.join(MODELS, "iris-sklearn.onnx")
    onnx.save(model, path)

    # One clearly classified test row per class, in the order of the other iris fixtures.
    probs_te = clf.predict_proba(x[te].astype(np.float64))
    rows = []
    for c in [0, 1, 2, 1, 2]:
        for pos, r in enumerate(te):
            top2 = np.sort(probs_te[pos])[-2:]
            if (int(r) not in rows and iris.target[r] == c and probs_te[pos].argmax() == c
                    and top2[1] - top2[0] > 0.05):
                rows.append(int(r))
                break
        else:
            raise SystemExit(f"no clear test row of class {c}")
    x5 = x[rows]
    probs = clf.predict_proba(x5.astype(np.float64))
    predicted = [str(p) for p in clf.predict(x5.astype(np.float64))]
    doc = expected_doc(
        "iris-sklearn", rel(path), "OnnxRuntime",
        "scikit-learn " + sklearn.__version__ + " LogisticRegression.predict_proba and predict on the float32 "
        "inputs (float64 arithmetic); output_probability holds the ZipMap values in the order of labels",
        {"float_input": x5}, {"output_probability": probs}, classes, rows, [str(t) for t in y[rows]])
    assert doc["predicted"] == predicted
    write_json(os.path.join(EXPECTED, "iris-sklearn.json"), doc)
    return path, acc, len(te)


if __name__ == "__main__":
    if onnx is None:
        sys.exit("python3-onnx is missing: iris-sklearn.onnx not written")
    sk_path, sk_acc, sk_n = write_iris_sklearn()
    print(f"  {'iris sklearn LogReg':24s} {f'test accuracy {sk_acc:.4f} on {sk_n} rows':32s} "
          f"{rel(sk_path)} {size(sk_path):,} B, {rel(os.path.join(EXPECTED, 'iris-sklearn.json'))}")
