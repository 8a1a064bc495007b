#!/usr/bin/python3
"""PyTorch reference for the first steps of the CIFAR recipe, to tell the initialisation from the code.

    /usr/bin/python3 bench/pytorch_head_pilot.py THREADS PEAK_LR HEAD_SCALE STEPS

torchvision's efficientnet_b0 with the stride-1 CIFAR stem and 10 classes, its classifier weight
multiplied by HEAD_SCALE (1.0: torchvision's init, 0.0: a zero head), trained on the first 10,000
images of ../shared/data/cifar-10-batches-bin/data_batch_1.bin (no augmentation), Adam with the
learning rate rising linearly to PEAK_LR over STEPS steps of 128, label smoothing 0.1. Prints the
running mean loss and accuracy every 8 steps.
"""
import os
import sys
import time

import numpy as np
import torch
import torchvision

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "cifar-10-batches-bin", "data_batch_1.bin")


def main(threads, peak_lr, head_scale, steps):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    records = np.fromfile(DATA, dtype=np.uint8).reshape(-1, 3073)[:10000]
    x = torch.tensor(records[:, 1:].reshape(-1, 3, 32, 32), dtype=torch.float32) / 255
    mean = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
    std = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)
    x = (x - mean) / std
    y = torch.tensor(records[:, 0], dtype=torch.long)
    model = torchvision.models.efficientnet_b0(num_classes=10)
    model.features[0][0].stride = (1, 1)
    with torch.no_grad():
        model.classifier[1].weight.mul_(head_scale)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=peak_lr)
    order = torch.randperm(len(y))
    total, correct, seen, start = 0.0, 0, 0, time.time()
    for step in range(steps):
        lr = peak_lr * (step + 1) / steps
        for group in optimizer.param_groups:
            group["lr"] = lr
        index = order[step * 128:(step + 1) * 128]
        logits = model(x[index])
        loss = torch.nn.functional.cross_entropy(logits, y[index], label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(index)
        correct += (logits.argmax(1) == y[index]).sum().item()
        seen += len(index)
        if (step + 1) % 8 == 0:
            print(f"batch {step + 1} loss {total / seen:.4f} acc {100 * correct / seen:.2f} lr {lr:.5f} "
                  f"{seen / (time.time() - start):.0f} img/s", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
