#!/usr/bin/env python3
"""Small models that exercise tensor datatypes and signatures, for the engine and integration tests.

Run from the repository root with Debian's Python (python3-torch, python3-onnx):
    /usr/bin/python3 scripts/make_type_models.py

Writes to it-tests/src/test/resources/models/:
    dtypes.pt    TorchScript, no sidecar: forward(h FP16, s INT8, u UINT8, b BOOL)
                 -> (h * 2 FP16, s + 1 INT8, u + 1 UINT8, not b BOOL)
    pair.onnx    ONNX, two inputs a, b FP32 [N,3] -> sum = 2*a + b  (output "sum")
    half.onnx    ONNX, x FP16 [N,2] -> y = x * 2 FP16
    breaks.pt    TorchScript, x FP32 -> x * 2; refuses negative values (an input the engine rejects by its values),
                 and an input holding 999 breaks it: from the next call on it fails on every input (a model that
                 breaks while it serves)
"""
import os
from typing import Tuple

import torch
import onnx
from onnx import TensorProto, helper

MODELS = os.path.join("it-tests", "src", "test", "resources", "models")


class DTypes(torch.nn.Module):
    def forward(self, h: torch.Tensor, s: torch.Tensor, u: torch.Tensor,
                b: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return h * 2, s + 1, u + 1, torch.logical_not(b)


class Pair(torch.nn.Module):
    def forward(self, a, b):
        return 2 * a + b


class Breaks(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.broken = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.broken:
            raise RuntimeError("the model is broken")
        if bool((x < 0).any()):
            raise ValueError("negative values are refused")
        if bool((x == 999).any()):
            self.broken = True
        return x * 2


def main():
    os.makedirs(MODELS, exist_ok=True)
    ts = torch.jit.script(DTypes())
    ts.save(os.path.join(MODELS, "dtypes.pt"))
    out = ts(torch.tensor([[1.5, -2.25]], dtype=torch.float16), torch.tensor([[7, -100]], dtype=torch.int8),
             torch.tensor([[0, 254]], dtype=torch.uint8), torch.tensor([[True, False]]))
    print("dtypes.pt:", [o.tolist() for o in out], [o.dtype for o in out])

    pair = os.path.join(MODELS, "pair.onnx")
    torch.onnx.export(Pair(), (torch.zeros(2, 3), torch.zeros(2, 3)), pair, input_names=["a", "b"],
                      output_names=["sum"], dynamic_axes={"a": {0: "batch"}, "b": {0: "batch"}, "sum": {0: "batch"}},
                      opset_version=13)
    onnx.checker.check_model(onnx.load(pair))

    two = helper.make_tensor("two", TensorProto.FLOAT16, [], [2.0])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["y"])], "half",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["N", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["N", 2])], initializer=[two])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(MODELS, "half.onnx"))
    breaks = torch.jit.script(Breaks())
    breaks.save(os.path.join(MODELS, "breaks.pt"))
    check = torch.jit.load(os.path.join(MODELS, "breaks.pt"))
    print("breaks.pt:", check(torch.tensor([[1.0, 2.0]])).tolist())
    print("wrote dtypes.pt, pair.onnx, half.onnx, breaks.pt")


if __name__ == "__main__":
    main()
