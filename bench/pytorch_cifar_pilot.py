"""PyTorch reference of `effnet train --recipe fast` for pilots on a GPU (or a CPU): which resolution and batch size
are worth a full CPU run of effnet.

The same recipe as TrainOptions.FromRecipe(TrainRecipe.Fast): torchvision's B0 with the stride-1 stem, dropout 0.2,
no stochastic depth, zero-initialised logit layer; SGD with Nesterov momentum 0.9, weight decay 5e-4 on convolution
and linear weights only; per-step linear warm-up from ~0 (step 1 of W gets lr/W, as LearningRateSchedule) over
2 epochs, then a straight line to 0; reflect-pad + random crop + flip; label smoothing 0.1; a weight average (decay
0.999, warmed up as WeightAverage.DecayAt, BatchNorm statistics included) evaluated each epoch. At --resolution other
than 32 the images are resized once, bicubic, as effnet does (PyTorch's bicubic, a=-0.75, against effnet's Catmull-Rom,
a=-0.5: a small difference).

The split is a seeded stratified 10% hold-out drawn here with NumPy: the same sizes as effnet's 45,000/5,000 but not
the same images, so compare configurations with each other, not with effnet's numbers.

Data: --data is a folder with CIFAR-10's data_batch_*.bin, or one with cifar.jpg (the 50,000 training images tiled
250 x 200 in one JPEG, quality 95, no chroma subsampling: 33 MB, PSNR 46.8 dB against the .bin pixels) and labels.npy,
which fits a 64 MiB transfer. Prints one CSV line per epoch, and writes them to --csv as it goes.
"""
import argparse
import csv
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


def load(folder):
    if os.path.exists(os.path.join(folder, 'cifar.jpg')):
        from PIL import Image
        mosaic = np.asarray(Image.open(os.path.join(folder, 'cifar.jpg')))
        images = mosaic.reshape(250, 32, 200, 32, 3).transpose(0, 2, 4, 1, 3).reshape(-1, 3, 32, 32)
        return np.ascontiguousarray(images), np.load(os.path.join(folder, 'labels.npy')).astype(np.int64)
    raw = np.concatenate([np.fromfile(os.path.join(folder, f'data_batch_{i}.bin'), dtype=np.uint8).reshape(-1, 3073) for i in range(1, 6)])
    return raw[:, 1:].reshape(-1, 3, 32, 32).copy(), raw[:, 0].astype(np.int64)


def pack(bin_folder, folder):
    """Writes cifar.jpg and labels.npy (see the module's docstring) from CIFAR-10's .bin files."""
    from PIL import Image
    images, labels = load(bin_folder)
    mosaic = images.transpose(0, 2, 3, 1).reshape(250, 200, 32, 32, 3).transpose(0, 2, 1, 3, 4).reshape(250 * 32, 200 * 32, 3)
    os.makedirs(folder, exist_ok=True)
    Image.fromarray(mosaic).save(os.path.join(folder, 'cifar.jpg'), quality=95, subsampling=0)
    np.save(os.path.join(folder, 'labels.npy'), labels.astype(np.uint8))
    back = np.asarray(Image.open(os.path.join(folder, 'cifar.jpg'))).astype(np.float64)
    print(f'PSNR {10 * np.log10(255 ** 2 / ((back - mosaic) ** 2).mean()):.1f} dB')


def split(labels, fraction, seed, train_limit):
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = int(round(len(idx) * fraction))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    train = np.concatenate(train)
    if train_limit:
        train = rng.choice(train, train_limit, replace=False)
    return rng.permutation(train), np.concatenate(val)


def resize(images, size, device):
    if size == 32:
        return images
    out = []
    for chunk in images.split(2000):
        x = F.interpolate(chunk.float(), size=(size, size), mode='bicubic', align_corners=False)
        out.append(x.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)


def model_for(args):
    m = torchvision.models.efficientnet_b0(num_classes=10, stochastic_depth_prob=0.0)  # dropout 0.2: its default
    m.features[0][0].stride = (1, 1)
    torch.nn.init.zeros_(m.classifier[1].weight)
    torch.nn.init.zeros_(m.classifier[1].bias)
    return m


def augment(x, pad, generator):
    """Reflect-pad by `pad`, take a random crop of the original size per image, flip half of them."""
    n, _, h, w = x.shape
    if pad:
        x = F.pad(x, (pad, pad, pad, pad), mode='reflect')
        dy = torch.randint(0, 2 * pad + 1, (n,), device=x.device, generator=generator)
        dx = torch.randint(0, 2 * pad + 1, (n,), device=x.device, generator=generator)
        rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None].expand(n, 3, h, x.shape[3])
        x = torch.gather(x, 2, rows)
        cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :].expand(n, 3, h, w)
        x = torch.gather(x, 3, cols)
    flip = torch.rand(n, device=x.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', required=True)
    p.add_argument('--resolution', type=int, default=32)
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--lr', type=float, default=0.1)
    p.add_argument('--epochs', type=int, default=30)
    p.add_argument('--pad', type=int, default=4)
    p.add_argument('--train-limit', type=int, default=0)
    p.add_argument('--seed', type=int, default=42)
    p.add_argument('--ema', type=float, default=0.999)
    p.add_argument('--csv')
    p.add_argument('--max-batches', type=int, default=0, help='stop each epoch after this many batches (smoke tests)')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--pack', metavar='BIN_FOLDER', help='write cifar.jpg and labels.npy into --data from these .bin files, then exit')
    args = p.parse_args()
    if args.pack:
        return pack(args.pack, args.data)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = device.type == 'cuda'
    images, labels = load(args.data)
    train_idx, val_idx = split(labels, 0.1, args.seed, args.train_limit)
    all_images = resize(torch.from_numpy(images), args.resolution, device)
    x_train, y_train = all_images[train_idx].to(device), torch.from_numpy(labels[train_idx]).to(device)
    x_val, y_val = all_images[val_idx].to(device), torch.from_numpy(labels[val_idx]).to(device)
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1) * 255

    model = model_for(args).to(device).to(memory_format=torch.channels_last)
    ema = model_for(args).to(device).to(memory_format=torch.channels_last)
    ema.load_state_dict(model.state_dict())
    ema.eval()
    decayed = [q for q in model.parameters() if q.ndim > 1]
    plain = [q for q in model.parameters() if q.ndim <= 1]
    opt = torch.optim.SGD([{'params': decayed, 'weight_decay': 5e-4}, {'params': plain, 'weight_decay': 0}],
                          lr=args.lr, momentum=0.9, nesterov=True)
    steps_per_epoch = len(train_idx) // args.batch
    if args.max_batches:
        steps_per_epoch = min(steps_per_epoch, args.max_batches)
    total, warmup = args.epochs * steps_per_epoch, round(2 * steps_per_epoch)

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return args.lr * (1 - min(1.0, (step - warmup) / max(1, total - warmup)))

    generator = torch.Generator(device=device)
    generator.manual_seed(args.seed)
    ema_pairs = list(zip(ema.state_dict().values(), model.state_dict().values()))
    out = open(args.csv, 'w', newline='') if args.csv else None
    writer = csv.writer(out) if out else None
    header = ['epoch', 'train_loss', 'train_accuracy', 'val_accuracy', 'seconds']
    print(','.join(header), flush=True)
    if writer:
        writer.writerow(header)
        out.flush()
    step = 0
    for epoch in range(1, args.epochs + 1):
        start = time.time()
        model.train()
        order = torch.randperm(len(train_idx), device=device, generator=generator)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        for b in range(steps_per_epoch):
            idx = order[b * args.batch:(b + 1) * args.batch]
            x = augment(x_train[idx].float(), args.pad, generator)
            x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
            y = y_train[idx]
            for group in opt.param_groups:
                group['lr'] = lr_at(step)
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            d = min(args.ema, (1.0 + step) / (10.0 + step))
            with torch.no_grad():
                for a, live in ema_pairs:
                    if a.is_floating_point():
                        a.mul_(d).add_(live, alpha=1 - d)
                    else:
                        a.copy_(live)
                loss_sum += loss.detach() * len(y)
                correct += (logits.argmax(1) == y).sum()
        seen = steps_per_epoch * args.batch
        with torch.no_grad():
            hits = 0
            for b in range(0, len(val_idx), 500):
                x = ((x_val[b:b + 500].float() - mean) / std).contiguous(memory_format=torch.channels_last)
                hits += (ema(x).argmax(1) == y_val[b:b + 500]).sum().item()
        row = [epoch, f'{loss_sum.item() / seen:.4f}', f'{correct.item() / seen:.4f}', f'{hits / len(val_idx):.4f}', f'{time.time() - start:.1f}']
        print(','.join(map(str, row)), flush=True)
        if writer:
            writer.writerow(row)
            out.flush()


if __name__ == '__main__':
    sys.exit(main())
