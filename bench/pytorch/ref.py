#!/usr/bin/python3
"""PyTorch reference for splitnas's training engine (package nn).

Builds the network `pytorch net` describes (the layers arch.Parse makes:
Conv1D with stride and zero padding, transposed Conv1D with its output
cropped, ReLU after every hidden layer, a final Dense on the channel-major
flattened tensor) and trains it with nn's recipe:

- weights He-uniform U(±sqrt(6/fan_in)) for the hidden layers, Glorot-uniform
  U(±sqrt(6/(fan_in+fan_out))) for the last, biases zero; fan_in as nn counts
  it (kernel·in_ch for a Conv, ceil(kernel/stride)·in_ch for a ConvTranspose,
  the input size for a Dense). The values are drawn by torch's generator, so
  they differ from nn's (PCG) draws; `--init torch` keeps PyTorch's defaults,
  `--init-weights FILE` starts from given weights (the driver's `--init go`
  passes the very weights nn.NewModel draws for the seed).
- softmax cross-entropy, mean over the batch;
- Adam in nn's (Keras's) form: β1 0.9, β2 0.999, ε 1e-7 added to sqrt(v),
  bias corrections folded into the step size
  (θ ← θ − α·sqrt(1−β2ᵗ)/(1−β1ᵗ)·m/(sqrt(v)+ε)); `--optim torch` uses
  torch.optim.Adam(eps=1e-7) instead, whose ε is added to sqrt(v̂);
- mini-batches over a fresh random order every epoch, the last one smaller;
- the epoch with the best validation accuracy kept (lower validation loss
  breaks ties, the earlier epoch after that), the test split scored once;
- optionally, as `splitnas train` has them: --schedule cosine and --warmup
  (nn.Config.LearningRate, stepped per batch), --weight-decay (AdamW on the
  weights, not the biases), --class-balance weights (n/(K·n_c) from the
  training split, loss mean still over the batch size), --select balanced.
  Not mirrored: augmentation, the class-balanced sampler, distillation,
  dropout, patience.

Subcommands print one JSON object:

  train --net NET.json --npz DATA.npz [--epochs 20 --batch 32 --lr 1e-3 --seed 1]
  time  --net NET.json --npz DATA.npz [--epochs 5 --batch 32]   (train split only, no validation)
  check --dump DUMP.json ...    logits of nn's trained weights, PyTorch vs nn (one line per file)
  steps --steps STEPS.json ...  K full-batch Adam steps from nn's initial weights, PyTorch vs nn

Run with Debian's python3-torch: /usr/bin/python3 ref.py ...
"""

import argparse
import copy
import json
import math
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-7


class Conv(nn.Module):
    """nn's Conv: y[co][t] = b[co] + Σ w[co][ci][j]·x[ci][t·s + j − pl], zero padded."""

    def __init__(self, l):
        super().__init__()
        self.pl, self.pr = l["pad_left"], l["pad_right"]
        sym = self.pl == self.pr
        self.conv = nn.Conv1d(l["in_ch"], l["out_ch"], l["kernel"], stride=l["stride"], padding=self.pl if sym else 0)
        self.pad = None if sym else (self.pl, self.pr)

    def forward(self, x):
        if self.pad is not None:
            x = F.pad(x, self.pad)
        return self.conv(x)


class ConvTranspose(nn.Module):
    """nn's ConvTranspose: full output z[co][t·s + j] += w[co][ci][j]·x[ci][t], cropped pl | pr."""

    def __init__(self, l):
        super().__init__()
        self.pl, self.pr = l["pad_left"], l["pad_right"]
        sym = self.pl == self.pr
        self.conv = nn.ConvTranspose1d(l["in_ch"], l["out_ch"], l["kernel"], stride=l["stride"], padding=self.pl if sym else 0)
        self.crop = None if sym else (self.pl, self.pr)

    def forward(self, x):
        y = self.conv(x)
        if self.crop is not None:
            y = y[:, :, self.crop[0] : y.shape[2] - self.crop[1]]
        return y


class Dense(nn.Module):
    def __init__(self, l):
        super().__init__()
        self.lin = nn.Linear(l["in_len"] * l["in_ch"], l["out_len"] * l["out_ch"])

    def forward(self, x):
        return self.lin(x.reshape(x.shape[0], -1))  # (N, C, L) → c·L + t, nn's channel-major order


KINDS = {"conv1d": Conv, "conv1d_transpose": ConvTranspose, "dense": Dense}


class Net(nn.Module):
    def __init__(self, desc):
        super().__init__()
        self.desc = desc
        mods = []
        for l in desc["layers"]:
            if l["kind"] not in KINDS:
                raise SystemExit(f"ref.py: layer kind {l['kind']} not supported")
            mods.append(KINDS[l["kind"]](l))
            if l["relu"]:
                mods.append(nn.ReLU())
        self.body = nn.Sequential(*mods)
        self.affine = [m for m in mods if not isinstance(m, nn.ReLU)]
        n = sum(p.numel() for p in self.parameters())
        if n != desc["params"]:
            raise SystemExit(f"ref.py: {desc['arch']}: PyTorch model has {n} parameters, nn {desc['params']}")

    def forward(self, x):
        return self.body(x)

    def torch_layer(self, i):
        m = self.affine[i]
        return m.lin if isinstance(m, Dense) else m.conv

    def init_nn(self, gen):
        """nn's initialisation (distributions, not values): see initParams in nn/network.go."""
        last = len(self.affine) - 1
        with torch.no_grad():
            for i, l in enumerate(self.desc["layers"]):
                if l["kind"] == "conv1d":
                    fan_in, fan_out = l["kernel"] * l["in_ch"], l["kernel"] * l["out_ch"]
                elif l["kind"] == "conv1d_transpose":
                    taps = -(-l["kernel"] // l["stride"])
                    fan_in, fan_out = taps * l["in_ch"], taps * l["out_ch"]
                else:
                    fan_in, fan_out = l["in_len"] * l["in_ch"], l["out_len"] * l["out_ch"]
                limit = math.sqrt(6 / (fan_in + fan_out if i == last else fan_in))
                t = self.torch_layer(i)
                t.weight.copy_((torch.rand(t.weight.shape, generator=gen, dtype=torch.float64) * 2 - 1) * limit)
                t.bias.zero_()

    def load_nn(self, weights):
        """Sets the parameters from nn's flat layout: Conv/ConvTranspose w[co][ci][k], Dense w[o][i]."""
        with torch.no_grad():
            for i, (l, wb) in enumerate(zip(self.desc["layers"], weights)):
                t = self.torch_layer(i)
                w = torch.tensor(wb["w"], dtype=torch.float32)
                if l["kind"] == "conv1d":
                    w = w.reshape(l["out_ch"], l["in_ch"], l["kernel"])
                elif l["kind"] == "conv1d_transpose":  # torch keeps (in_ch, out_ch, k)
                    w = w.reshape(l["out_ch"], l["in_ch"], l["kernel"]).permute(1, 0, 2)
                else:
                    w = w.reshape(t.weight.shape)
                t.weight.copy_(w)
                t.bias.copy_(torch.tensor(wb["b"], dtype=torch.float32))

    def dump_nn(self):
        """The parameters in nn's flat layout (inverse of load_nn)."""
        out = []
        for i, l in enumerate(self.desc["layers"]):
            t = self.torch_layer(i)
            w = t.weight.detach()
            if l["kind"] == "conv1d_transpose":
                w = w.permute(1, 0, 2)
            out.append({"w": w.reshape(-1).numpy(), "b": t.bias.detach().numpy()})
        return out


class KerasAdam(torch.optim.Optimizer):
    """Adam as nn/adam.go applies it: θ ← θ − α·sqrt(1−β2ᵗ)/(1−β1ᵗ)·m/(sqrt(v)+ε).

    With weight_decay λ in a group (AdamW, PyTorch's form, as nn does it),
    its values are first multiplied by 1 − α·λ, α being the step's learning
    rate without the bias corrections.
    """

    def __init__(self, params, lr, betas=(ADAM_BETA1, ADAM_BETA2), eps=ADAM_EPS, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.t, self.pow1, self.pow2 = 0, 1.0, 1.0

    @torch.no_grad()
    def step(self):
        self.t += 1
        b1, b2 = self.defaults["betas"]
        self.pow1 *= b1
        self.pow2 *= b2
        for g in self.param_groups:
            ps = [p for p in g["params"] if p.grad is not None]
            if not ps:
                continue
            if g["weight_decay"] > 0:
                torch._foreach_mul_(ps, 1 - g["lr"] * g["weight_decay"])
            grads = [p.grad for p in ps]
            for p in ps:
                if not self.state[p]:
                    self.state[p]["m"] = torch.zeros_like(p)
                    self.state[p]["v"] = torch.zeros_like(p)
            ms = [self.state[p]["m"] for p in ps]
            vs = [self.state[p]["v"] for p in ps]
            torch._foreach_mul_(ms, b1)
            torch._foreach_add_(ms, grads, alpha=1 - b1)
            torch._foreach_mul_(vs, b2)
            torch._foreach_addcmul_(vs, grads, grads, value=1 - b2)
            denom = torch._foreach_sqrt(vs)
            torch._foreach_add_(denom, g["eps"])
            step = g["lr"] * math.sqrt(1 - self.pow2) / (1 - self.pow1)
            torch._foreach_addcdiv_(ps, ms, denom, value=-step)


def make_optimizer(kind, model, lr, weight_decay=0.0):
    """Adam over the model's parameters; weight decay applies to the weights, never the biases (as in nn)."""
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    groups = [dict(params=weights, weight_decay=weight_decay), dict(params=biases, weight_decay=0.0)]
    if kind == "keras":
        return KerasAdam(groups, lr)
    if weight_decay > 0:
        return torch.optim.AdamW(groups, lr=lr, betas=(ADAM_BETA1, ADAM_BETA2), eps=ADAM_EPS)
    return torch.optim.Adam(groups, lr=lr, betas=(ADAM_BETA1, ADAM_BETA2), eps=ADAM_EPS)


def learning_rate(a, s, steps_per_epoch):
    """nn.Config.LearningRate: linear warm-up over W steps, then constant or half a cosine to 0."""
    w = a.warmup * steps_per_epoch
    if s < w:
        return a.lr * (s + 1) / w
    if a.schedule != "cosine":
        return a.lr
    total = a.epochs * steps_per_epoch
    progress = min((s - w) / (total - w), 1.0)
    return a.lr * 0.5 * (1 + math.cos(math.pi * progress))


def class_weights(y, k):
    """nn.ClassWeights: n/(K·n_c) for the K classes present in the training labels, 0 for absent ones."""
    counts = torch.bincount(y, minlength=k).double()
    present = int((counts > 0).sum())
    w = torch.where(counts > 0, y.shape[0] / (present * counts.clamp(min=1)), torch.zeros_like(counts))
    return w.float()


def setup_threads(n):
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:
        pass  # already set


def load_npz(path):
    z = np.load(path)
    x = torch.from_numpy(np.ascontiguousarray(z["x"], dtype=np.float32))
    y = torch.from_numpy(z["y"].astype(np.int64))
    split = z["split"]
    parts = {}
    for name, code in (("train", 0), ("val", 1), ("test", 2)):
        idx = torch.from_numpy(np.nonzero(split == code)[0])
        parts[name] = (x[idx].contiguous(), y[idx].contiguous())
    return parts, [str(c) for c in z["classes"]]


class Sched:
    """Sets each step's learning rate as nn does (schedule of a, step counter kept across epochs)."""

    def __init__(self, a, n):
        self.a, self.per_epoch, self.step = a, -(-n // a.batch), 0

    def __call__(self, opt):
        lr = learning_rate(self.a, self.step, self.per_epoch)
        for g in opt.param_groups:
            g["lr"] = lr
        self.step += 1


def train_epoch(model, opt, x, y, batch, gen, sched=None, cw=None):
    """One pass in a fresh random order; returns mean training loss and accuracy.

    With class weights cw the loss of a sample is multiplied by its class's
    weight and the batch mean still divides by the batch size, as in nn.
    """
    model.train()
    n = x.shape[0]
    perm = torch.randperm(n, generator=gen)
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct = torch.zeros((), dtype=torch.int64)
    for b0 in range(0, n, batch):
        idx = perm[b0 : b0 + batch]
        xb, yb = x[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        out = model(xb)
        if cw is None:
            loss = F.cross_entropy(out, yb)
        else:
            loss = (F.cross_entropy(out, yb, reduction="none") * cw[yb]).mean()
        loss.backward()
        if sched is not None:
            sched(opt)
        opt.step()
        loss_sum += loss.detach() * idx.shape[0]
        correct += (out.detach().argmax(1) == yb).sum()
    return loss_sum.item() / n, correct.item() / n


@torch.no_grad()
def evaluate(model, x, y, classes=None, chunk=1024):
    """Mean loss, accuracy, macro-F1 (over the classes among true or predicted labels) and balanced accuracy."""
    model.eval()
    n = x.shape[0]
    if n == 0:
        return 0.0, 0.0, 0.0, 0.0
    loss, preds = 0.0, []
    for b0 in range(0, n, chunk):
        out = model(x[b0 : b0 + chunk])
        loss += F.cross_entropy(out.double(), y[b0 : b0 + chunk], reduction="sum").item()
        preds.append(out.argmax(1))
    pred = torch.cat(preds)
    acc = (pred == y).double().mean().item()
    k = classes or int(max(y.max().item(), pred.max().item())) + 1
    f1s, recalls = [], []
    for c in range(k):
        tp = ((pred == c) & (y == c)).sum().item()
        fp = ((pred == c) & (y != c)).sum().item()
        fn = ((pred != c) & (y == c)).sum().item()
        if tp + fp + fn > 0:
            f1s.append(2 * tp / (2 * tp + fp + fn))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
    return loss / n, acc, sum(f1s) / len(f1s) if f1s else 0.0, sum(recalls) / len(recalls) if recalls else 0.0


def build(desc, seed, init):
    torch.manual_seed(seed)  # PyTorch's own default init draws from the global generator
    model = Net(desc)
    if init == "nn":
        model.init_nn(torch.Generator().manual_seed(seed))
    return model


def cmd_train(a):
    desc = json.load(open(a.net))
    parts, classes = load_npz(a.npz)
    model = build(desc, a.seed, a.init)
    if a.init_weights:
        model.load_nn(json.load(open(a.init_weights)))
    opt = make_optimizer(a.optim, model, a.lr, a.weight_decay)
    gen = torch.Generator().manual_seed(a.seed + 1_000_003)
    xtr, ytr = parts["train"]
    xva, yva = parts["val"]
    xte, yte = parts["test"]
    sched = Sched(a, xtr.shape[0])
    cw = class_weights(ytr, len(classes)) if a.class_balance == "weights" else None
    best_score, best_loss, best, best_state = -math.inf, math.inf, 0, None
    history = []
    t0 = time.perf_counter()
    for e in range(a.epochs):
        s = time.perf_counter()
        tl, ta = train_epoch(model, opt, xtr, ytr, a.batch, gen, sched, cw)
        vl, va, _, vb = evaluate(model, xva, yva, len(classes)) if xva.shape[0] else (0.0, 0.0, 0.0, 0.0)
        history.append(dict(train_loss=tl, train_acc=ta, val_loss=vl, val_acc=va, val_balanced_accuracy=vb,
                            lr=opt.param_groups[0]["lr"], seconds=time.perf_counter() - s))
        if xva.shape[0] == 0:
            best = e
            continue
        sc = vb if a.select == "balanced" else va
        if sc > best_score or (sc == best_score and vl < best_loss):
            best_score, best_loss, best = sc, vl, e
            best_state = copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    seconds = time.perf_counter() - t0
    _, test_acc, test_f1, test_bal = evaluate(model, xte, yte, len(classes))
    print(json.dumps(dict(
        side="pytorch", torch=torch.__version__, threads=torch.get_num_threads(), arch=desc["arch"],
        params=sum(p.numel() for p in model.parameters()), seed=a.seed, init="go" if a.init_weights else a.init, optim=a.optim,
        schedule=a.schedule, warmup=a.warmup, weight_decay=a.weight_decay, class_balance=a.class_balance, select=a.select,
        epochs=len(history), best_epoch=best + 1, val_accuracy=history[best]["val_acc"], val_loss=history[best]["val_loss"],
        test_accuracy=test_acc, test_macro_f1=test_f1, test_balanced_accuracy=test_bal, epoch_seconds=[h["seconds"] for h in history],
        seconds=seconds, history=history,
    )))


def time_epochs(desc, x, y, a, optim):
    model = build(desc, a.seed, "nn")
    opt = make_optimizer(optim, model, 1e-3)
    gen = torch.Generator().manual_seed(a.seed)
    secs = []
    for _ in range(a.epochs):
        s = time.perf_counter()
        train_epoch(model, opt, x, y, a.batch, gen)
        secs.append(time.perf_counter() - s)
    return secs


def cmd_time(a):
    desc = json.load(open(a.net))
    parts, _ = load_npz(a.npz)
    x, y = parts["train"]
    keras = time_epochs(desc, x, y, a, "keras")
    tadam = time_epochs(desc, x, y, a, "torch")
    print(json.dumps(dict(
        torch=torch.__version__, threads=torch.get_num_threads(), arch=desc["arch"], params=desc["params"],
        samples=x.shape[0], batch=a.batch, epochs=a.epochs,
        epoch_seconds=statistics.median(keras), epoch_seconds_all=keras, first_epoch_seconds=keras[0],
        torch_adam_epoch_seconds=statistics.median(tadam), torch_adam_epoch_seconds_all=tadam,
    )))


def max_rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


def cmd_check(a):
    return max(check_logits(path, a.tol) for path in a.dump)


def cmd_steps(a):
    return max(check_steps(path, a.tol) for path in a.steps)


def check_logits(path, tol):
    """Forward equivalence: nn's trained weights in PyTorch give nn's logits."""
    d = json.load(open(path))
    desc = d["net"]
    model = Net(desc)
    model.load_nn(d["weights"])
    back = model.dump_nn()
    for i, wb in enumerate(d["weights"]):  # the layout round-trips exactly
        assert np.array_equal(back[i]["w"], np.asarray(wb["w"], dtype=np.float32)), f"layer {i + 1} weights"
    l0 = desc["layers"][0]
    x = torch.tensor(d["x"], dtype=torch.float32).reshape(-1, l0["in_ch"], l0["in_len"])
    with torch.no_grad():
        z = model(x).numpy()
    err = max_rel(z, d["logits"])
    ok = err <= tol
    print(json.dumps(dict(check="logits", arch=desc["arch"], overlap=desc["overlap"], same_kernel=desc["same_kernel"],
                          params=desc["params"], inputs=len(d["x"]), max_diff=err, tol=tol, ok=ok)))
    return 0 if ok else 1


def check_steps(path, tol):
    """Training equivalence: K full-batch steps from nn's initial weights reach nn's weights."""
    d = json.load(open(path))
    desc = d["net"]
    model = Net(desc)
    model.load_nn(d["init"])
    l0 = desc["layers"][0]
    x = torch.tensor(d["x"], dtype=torch.float32).reshape(-1, l0["in_ch"], l0["in_len"])
    y = torch.tensor(d["y"], dtype=torch.int64)
    rec = argparse.Namespace(lr=d["lr"], epochs=d["steps"], batch=x.shape[0], schedule=d.get("schedule", "constant"),
                             warmup=d.get("warmup", 0))
    opt = make_optimizer("keras", model, d["lr"], d.get("weight_decay", 0.0))
    sched = Sched(rec, x.shape[0])
    k = desc["layers"][-1]["out_len"]
    cw = class_weights(y, k) if d.get("class_balance") == "weights" else None
    losses = []
    for _ in range(d["steps"]):
        opt.zero_grad(set_to_none=True)
        out = model(x)
        if cw is None:
            loss = F.cross_entropy(out, y)
        else:
            loss = (F.cross_entropy(out, y, reduction="none") * cw[y]).mean()
        loss.backward()
        sched(opt)
        opt.step()
        losses.append(loss.item())
    final = model.dump_nn()
    got = np.concatenate([np.concatenate([w["w"], w["b"]]) for w in final])
    want = np.concatenate([np.concatenate([np.asarray(w["w"]), np.asarray(w["b"])]) for w in d["final"]])
    init = np.concatenate([np.concatenate([np.asarray(w["w"]), np.asarray(w["b"])]) for w in d["init"]])
    werr = float(np.max(np.abs(got - want)))
    moved = float(np.max(np.abs(want - init)))
    lerr = max_rel(losses, d["train_loss"])
    ok = werr <= tol and lerr <= tol
    print(json.dumps(dict(check="adam-steps", arch=desc["arch"], overlap=desc["overlap"], steps=d["steps"], lr=d["lr"],
                          schedule=rec.schedule, warmup=rec.warmup, weight_decay=d.get("weight_decay", 0.0),
                          class_balance=d.get("class_balance", "none"),
                          params=desc["params"], max_weight_diff=werr, max_weight_change=moved,
                          max_loss_diff=lerr, tol=tol, ok=ok)))
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("train", "time"):
        s = sub.add_parser(name)
        s.add_argument("--net", required=True)
        s.add_argument("--npz", required=True)
        s.add_argument("--epochs", type=int, default=20 if name == "train" else 5)
        s.add_argument("--batch", type=int, default=32)
        s.add_argument("--seed", type=int, default=1)
        s.add_argument("--threads", type=int, default=1)
        if name == "train":
            s.add_argument("--lr", type=float, default=1e-3)
            s.add_argument("--init", choices=("nn", "torch"), default="nn")
            s.add_argument("--init-weights", help="JSON [{w, b}] in nn's layout: start from these weights (e.g. nn's own)")
            s.add_argument("--schedule", choices=("constant", "cosine"), default="constant")
            s.add_argument("--warmup", type=int, default=0, help="epochs of linear warm-up")
            s.add_argument("--weight-decay", type=float, default=0.0, help="AdamW decay of the weights (not biases)")
            s.add_argument("--class-balance", choices=("none", "weights"), default="none")
            s.add_argument("--select", choices=("accuracy", "balanced"), default="accuracy")
            s.add_argument("--optim", choices=("keras", "torch"), default="keras")
    s = sub.add_parser("check")
    s.add_argument("--dump", required=True, action="append", help="repeatable")
    s.add_argument("--tol", type=float, default=1e-4)
    s = sub.add_parser("steps")
    s.add_argument("--steps", required=True, action="append", help="repeatable")
    s.add_argument("--tol", type=float, default=1e-4)
    a = p.parse_args()
    setup_threads(getattr(a, "threads", 1))
    rc = {"train": cmd_train, "time": cmd_time, "check": cmd_check, "steps": cmd_steps}[a.cmd](a)
    sys.exit(rc or 0)


if __name__ == "__main__":
    main()
