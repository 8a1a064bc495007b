#!/usr/bin/python3
"""Writes the reference fixtures the tests compare against, from Debian's python3-torchvision (0.14).

    /usr/bin/python3 tools/make_torchvision_fixtures.py OUT_DIR

OUT_DIR/keys.json          for every torchvision EfficientNet: parameter count and [key, shape] of
                           every state-dict entry, in order (1000 classes)
OUT_DIR/<arch>.pth         torch.save'd state dict with random weights AND random BatchNorm statistics
                           (so that BatchNorm eps matters), for the parity variants
OUT_DIR/<arch>.safetensors the same tensors in the safetensors format (written here by hand: Debian
                           has no python3-safetensors)
OUT_DIR/<arch>_io.pth      {"input": x, "logits": model(x)} in eval mode
OUT_DIR/cifar_b0_train.pth    B0 with the stride-1 CIFAR stem, 10 classes (torchvision's init)
OUT_DIR/cifar_b0_train_io.pth {"input", "labels", "loss", "grad.<parameter>"}: one training-mode
                           forward and backward (dropout and stochastic depth off, label smoothing 0.1)
OUT_DIR/DONE               written last; its presence means the set is complete
"""
import json
import os
import struct
import sys

import torch
import torchvision

ARCHS = [f"efficientnet_b{i}" for i in range(8)] + ["efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l"]
# B0 (BatchNorm eps 1e-5), B5 (eps 1e-3, momentum 0.01) and V2-S (Fused-MBConv, eps 1e-3).
PARITY = {"efficientnet_b0": 224, "efficientnet_b5": 256, "efficientnet_v2_s": 224}


def randomize(model, seed, res):
    """Random affine BatchNorm parameters and biases, then BatchNorm statistics measured on random
    images (cumulative averages), so that eval-mode activations stay near unit scale through the
    whole depth instead of blowing up as they do with made-up statistics."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
            elif p.dim() == 1:  # BatchNorm weight
                p.copy_(1.0 + torch.randn(p.shape, generator=gen) * 0.1)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None
        model.train()
        for _ in range(3):
            model(torch.randn(4, 3, res, res, generator=gen))
        model.eval()


def save_safetensors(state, path):
    dtypes = {torch.float32: "F32", torch.int64: "I64"}
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for key, t in state.items():
        data = t.contiguous().numpy().tobytes()
        header[key] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for blob in blobs:
            f.write(blob)


def training_fixture(out):
    """Training-mode gradients of the CIFAR variant: what one optimizer step starts from."""
    torch.manual_seed(0)
    model = torchvision.models.efficientnet_b0(num_classes=10)
    model.features[0][0].stride = (1, 1)
    model.classifier[0].p = 0.0
    for m in model.modules():
        if isinstance(m, torchvision.ops.StochasticDepth):
            m.p = 0.0
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, os.path.join(out, "cifar_b0_train.pth"))
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(16, 3, 32, 32, generator=gen)
    y = torch.randint(0, 10, (16,), generator=gen)
    model.train()
    loss = torch.nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
    loss.backward()
    io = {"grad." + n: p.grad.clone() for n, p in model.named_parameters()}
    io.update(input=x, labels=y, loss=loss.detach().reshape(1))
    torch.save(io, os.path.join(out, "cifar_b0_train_io.pth"))


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    keys = {}
    for arch in ARCHS:
        model = getattr(torchvision.models, arch)()
        keys[arch] = {
            "params": sum(p.numel() for p in model.parameters()),
            "state": [[k, list(v.shape)] for k, v in model.state_dict().items()],
        }
        if arch in PARITY:
            res = PARITY[arch]
            randomize(model, seed=len(arch), res=res)
            x = torch.randn(2, 3, res, res, generator=torch.Generator().manual_seed(1))
            with torch.no_grad():
                logits = model(x)
            state = model.state_dict()
            torch.save(state, os.path.join(out, f"{arch}.pth"))
            save_safetensors(state, os.path.join(out, f"{arch}.safetensors"))
            torch.save({"input": x, "logits": logits}, os.path.join(out, f"{arch}_io.pth"))
        del model
    training_fixture(out)
    with open(os.path.join(out, "keys.json"), "w") as f:
        json.dump({"torchvision": torchvision.__version__, "models": keys}, f)
    with open(os.path.join(out, "DONE"), "w") as f:
        f.write(torchvision.__version__ + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
