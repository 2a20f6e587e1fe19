"""Writes a second TorchScript model with the same signature as the first: the same network with its weights
scaled by a small factor, so its predictions (and its bytes) differ a little.

    /usr/bin/python3 benchmark/make_model_variant.py deploy/iris/model.pt /tmp/iris-b.pt

Uses Debian's python3-torch (apt-get install python3-torch).
"""
import sys

import torch


def main(source, target, factor=1.01):
    model = torch.jit.load(source, map_location="cpu")
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(factor)
    torch.jit.save(model, target)
    reloaded = torch.jit.load(target, map_location="cpu")
    x = torch.tensor([[5.1, 3.5, 1.4, 0.2]])
    print(f"{target}: {sum(p.numel() for p in reloaded.parameters())} parameters, "
          f"output for {x.tolist()[0]}: {[round(v, 6) for v in reloaded(x)[0].tolist()]}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_model_variant.py SOURCE.pt TARGET.pt")
    main(sys.argv[1], sys.argv[2])
