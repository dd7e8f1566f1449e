"""The PyTorch side of `posterlab bench`: the same models, batch, optimizer and
loss, timed the same way (median step after warm-up), for side-by-side runs.

    python bench/pytorch_bench.py --arch cnn --res 64 --batch 32 --threads 2 [--json]

Needs only `torch` (PyPI's wheel runs on the CPU). Models mirror
posterlab's defaults: conv blocks 16/32/64/64, kernel 5, padding "same",
batch norm, ReLU, 2x2 max-pool, dropout 0.25; cnn: dense 128/64 with dropout
0.5; cnn_rnn: one GRU step per row of the final map, hidden 128.
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn


def trunk(res, channels=(16, 32, 64, 64), kernel=5, dropout=0.25):
    layers, c = [], 3
    for o in channels:
        layers += [nn.Conv2d(c, o, kernel, padding="same"), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(dropout)]
        c, res = o, res // 2
    return nn.Sequential(*layers), c, res


class Cnn(nn.Module):
    def __init__(self, res, genres=25, dense=(128, 64), dropout=0.5):
        super().__init__()
        self.features, c, side = trunk(res)
        layers, fan_in = [nn.Flatten()], c * side * side
        for h in dense:
            layers += [nn.Linear(fan_in, h), nn.ReLU(), nn.Dropout(dropout)]
            fan_in = h
        layers.append(nn.Linear(fan_in, genres))
        self.head = nn.Sequential(*layers)

    def forward(self, x):
        return self.head(self.features(x))


class CnnRnn(nn.Module):
    def __init__(self, res, genres=25, hidden=128):
        super().__init__()
        self.features, c, side = trunk(res)
        self.rnn = nn.GRU(c * side, hidden, batch_first=True)
        self.out = nn.Linear(hidden, genres)

    def forward(self, x):
        f = self.features(x)  # [n, c, h, w]
        n, c, h, w = f.shape
        seq = f.permute(0, 2, 1, 3).reshape(n, h, c * w)  # one step per row
        _, last = self.rnn(seq)
        return self.out(last[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="cnn", choices=["cnn", "cnn_rnn"])
    p.add_argument("--res", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    device = torch.device(a.device)
    # posterlab reads each step's loss (or logits) back, which waits for the
    # GPU; so does this script, so that both time whole steps.
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = (Cnn if a.arch == "cnn" else CnnRnn)(a.res).to(device)
    params = sum(t.numel() for t in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    x = torch.rand(a.batch, 3, a.res, a.res).to(device)
    y = (torch.rand(a.batch, 25) < 2.33 / 25).float().to(device)

    model.train()
    train = []
    for step in range(a.warmup + a.steps):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
        sync()
        if step >= a.warmup:
            train.append(time.perf_counter() - t)
    model.eval()
    evals = []
    with torch.no_grad():
        for step in range(a.warmup + a.steps):
            t = time.perf_counter()
            model(x).cpu()
            sync()
            if step >= a.warmup:
                evals.append(time.perf_counter() - t)
    report = {
        "framework": f"pytorch {torch.__version__}",
        "arch": a.arch,
        "resolution": a.res,
        "batch": a.batch,
        "threads": a.threads,
        "device": a.device,
        "params": params,
        "train_images_per_sec": a.batch / statistics.median(train),
        "eval_images_per_sec": a.batch / statistics.median(evals),
    }
    if a.json:
        print(json.dumps(report))
    else:
        print(f"pytorch {torch.__version__} {a.arch} at {a.res} px, batch {a.batch}, {a.device} ({a.threads} threads): {params:,} parameters")
        print(f"train {report['train_images_per_sec']:8.1f} images/s")
        print(f"eval  {report['eval_images_per_sec']:8.1f} images/s")


if __name__ == "__main__":
    main()
