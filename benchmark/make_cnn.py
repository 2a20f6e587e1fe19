"""Writes an untrained image CNN of a chosen size as a Fractal model folder (model.pt and model.json, TorchScript
with a variable batch dimension) and a v1 request body with one random image: a heavier model than the samples,
for benchmark/batching.sh (MODEL_DIR=...). The weights are random but fixed by the seed, so runs compare.

    /usr/bin/python3 benchmark/make_cnn.py OUT_DIR [SIZE [CHANNELS]]    # default: 32x32 RGB images, 32 channels

Uses Debian's python3-torch (apt-get install python3-torch).
"""
import json
import os
import sys
import time

import torch
from torch import nn


class ImageCNN(nn.Module):
    """Three conv blocks (conv 3x3, ReLU, max pool 2) and a linear classifier over 10 classes, softmax output."""

    def __init__(self, size, channels):
        super().__init__()
        c = channels
        self.features = nn.Sequential(
            nn.Conv2d(3, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(2 * c * (size // 8) * (size // 8), 10)

    def forward(self, x):
        return torch.softmax(self.classifier(torch.flatten(self.features(x), 1)), dim=1)


def main(out_dir, size=32, channels=32):
    torch.manual_seed(0)
    model = ImageCNN(size, channels).eval()
    os.makedirs(out_dir, exist_ok=True)
    example = torch.rand(2, 3, size, size)
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
    path = os.path.join(out_dir, "model.pt")
    torch.jit.save(traced, path)
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump({
            "engine": "PyTorch",
            "file": "model.pt",
            "description": f"Untrained image CNN ({size}x{size} RGB, {channels} channels; benchmark/make_cnn.py)",
            "inputs": [{"name": "image", "datatype": "FP32", "shape": [-1, 3, size, size]}],
            "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]}],
        }, f, indent=2)
    image = torch.rand(1, 3, size, size)
    with open(os.path.join(out_dir, "body.json"), "w") as f:
        json.dump({"values": [[[round(v, 6) for v in row] for row in plane] for plane in image[0].tolist()]}, f,
                  separators=(",", ":"))
    torch.set_num_threads(1)
    reloaded = torch.jit.load(path)
    with torch.no_grad():
        for batch in (1, 16):
            x = torch.rand(batch, 3, size, size)
            for _ in range(20):
                reloaded(x)
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < 1.0:
                reloaded(x)
                n += 1
            per_call = (time.perf_counter() - start) / n
            print(f"{path}: batch {batch}: {per_call * 1e6:.0f} us per call, {per_call / batch * 1e6:.0f} us per "
                  f"image (one thread, Python)")


if __name__ == "__main__":
    if len(sys.argv) < 2 or len(sys.argv) > 4:
        sys.exit("usage: make_cnn.py OUT_DIR [SIZE [CHANNELS]]")
    main(sys.argv[1], *(int(a) for a in sys.argv[2:]))
