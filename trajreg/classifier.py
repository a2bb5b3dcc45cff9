"""The Fashion-MNIST classifier whose penultimate layer is the embedded FID feature space, and its
training recipe (Adam, one-cycle lr, flips and one-pixel shifts; ``trajreg.fid`` scores with it).

    python -m trajreg.classifier --out trajreg/weights

The weights ship in ``trajreg/weights`` with a JSON card (sha256, architecture, how it was trained);
:func:`load_classifier` refuses weights whose sha256 differs from their card.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812
from tqdm import tqdm

from trajreg import _validate, files
from trajreg.data import fashion_mnist

__all__ = ["CLASSIFIER", "WEIGHTS", "Classifier", "ClassifierConfig", "accuracy", "augment",
           "classifier_card", "load_classifier", "save_classifier", "train_classifier"]

WEIGHTS = Path(__file__).parent / "weights"
CLASSIFIER = WEIGHTS / "fmnist-classifier.safetensors"




@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture of :class:`Classifier`; stored beside the weights."""

    channels: tuple[int, ...] = (32, 64, 128)  # conv widths at 28, 14, 7 pixels
    features: int = 128
    dropout: float = 0.2
    classes: int = 10

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> ClassifierConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


class Classifier(nn.Module):
    """(conv3x3-BN-ReLU-maxpool) per width, fc-ReLU (the FID feature), dropout, fc (logits)."""

    def __init__(self, cfg: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        layers, cin, side = [], 1, 28
        for c in cfg.channels:
            layers += [nn.Conv2d(cin, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.MaxPool2d(2)]
            cin, side = c, side // 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.fc = nn.Linear(cin * side * side, cfg.features)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.features, cfg.classes)
        self.cfg = cfg

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Feature vector (B, features) of images x (B, 1, 28, 28) in [-1, 1]."""
        return F.relu(self.fc(self.body(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.embed(x)))


def augment(x: torch.Tensor, g: torch.Generator, shift: int = 1) -> torch.Tensor:
    """Random horizontal flip and translation by up to ``shift`` pixels (background -1 fills in)."""
    B, _, H, W = x.shape
    flip = torch.rand(B, generator=g) < 0.5
    x = torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)
    dy, dx = (torch.randint(0, 2 * shift + 1, (2, B), generator=g)).to(x.device)
    rows = (dy[:, None] + torch.arange(H, device=x.device))[:, :, None]
    cols = (dx[:, None] + torch.arange(W, device=x.device))[:, None, :]
    padded = F.pad(x[:, 0], (shift,) * 4, value=-1.0)
    return padded[torch.arange(B, device=x.device)[:, None, None], rows, cols][:, None]


@torch.no_grad()
def accuracy(model: Classifier, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of images x (N, 1, 28, 28) whose predicted class equals y (N,)."""
    model.eval()
    device = next(model.parameters()).device
    hits = sum(int((model(xb.to(device)).argmax(1).cpu() == yb).sum())
               for xb, yb in zip(x.split(batch_size), y.split(batch_size), strict=True))
    return hits / len(y)


def train_classifier(epochs: int = 5, seed: int = 0, device: str | torch.device = "cpu",
                     batch: int = 128, lr: float = 2e-3,
                     cfg: ClassifierConfig = ClassifierConfig()) -> tuple[Classifier, float]:
    """Train on the 60k Fashion-MNIST images (Adam, one-cycle lr, flips, shifts); test accuracy."""
    _validate.at_least("epochs", epochs, 1)
    _validate.at_least("batch", batch, 1)
    _validate.positive("lr", lr)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    x, y = fashion_mnist("train", labels=True)
    model = Classifier(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(x) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    bar = tqdm(total=steps, desc="train classifier")
    for epoch in range(epochs):
        model.train()
        for idx in torch.randperm(len(x), generator=g).split(batch):
            loss = F.cross_entropy(model(augment(x[idx], g).to(device)), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update()
            bar.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}")
    bar.close()
    return model.eval(), accuracy(model, *fashion_mnist("test", labels=True))


def save_classifier(model: Classifier, out: str | Path, meta: dict) -> Path:
    """Write ``out/fmnist-classifier.safetensors`` and its card ``.json`` (sha256, config, meta)."""
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / CLASSIFIER.name
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with files.atomic(path) as tmp:
        save_file(weights, str(tmp))
    card = {"name": "fmnist-classifier", "kind": "fid-feature-classifier",
            "sha256": files.sha256(path), "config": model.cfg.to_dict(),
            "parameters": sum(p.numel() for p in model.parameters()), **meta}
    files.write_json(path.with_suffix(".json"), card)
    return path


def classifier_card(path: str | Path = CLASSIFIER) -> dict:
    """The JSON card beside the classifier weights (sha256, architecture, provenance)."""
    card = Path(path).with_suffix(".json")
    if not card.is_file():
        raise FileNotFoundError(f"no classifier card {card}; train one with "
                                "`python -m trajreg.classifier --out trajreg/weights`")
    return json.loads(card.read_text())


def load_classifier(path: str | Path = CLASSIFIER,
                    device: str | torch.device = "cpu") -> Classifier:
    """The classifier at ``path`` in eval mode, refused unless its sha256 matches its card."""
    from safetensors.torch import load_file

    card = classifier_card(path)
    files.verify(path, card["sha256"], source=f"the card {Path(path).with_suffix('.json').name}")
    model = Classifier(ClassifierConfig.from_dict(card["config"]))
    model.load_state_dict(load_file(str(path)))
    return model.eval().requires_grad_(False).to(device)


def _train_command(a: argparse.Namespace, argv: list[str]) -> None:
    if a.threads:
        torch.set_num_threads(a.threads)
    t0 = time.time()
    model, acc = train_classifier(a.epochs, a.seed, a.device, a.batch, a.lr)
    wall = time.time() - t0
    meta = {"test_accuracy": round(acc, 4), "epochs": a.epochs, "batch": a.batch, "lr": a.lr,
            "seed": a.seed, "images_seen": a.epochs * 60_000, "wall_time_s": round(wall, 1),
            "hardware": f"{a.device}: {platform.processor() or platform.machine()}, "
                        f"{torch.get_num_threads()} torch threads",
            "torch": torch.__version__, "command": " ".join(["python -m trajreg.classifier", *argv]),
            "augmentation": "horizontal flip (p = 0.5), translation by up to 1 pixel",
            "feature": "128-d ReLU output of fc (input of dropout and the logits layer)"}
    path = save_classifier(model, a.out, meta)
    print(f"test accuracy {acc:.4f} after {wall:.0f} s; wrote {path}")


def main(argv: list[str] | None = None) -> None:
    """Train the feature classifier and write its weights and card to ``--out``."""
    argv = sys.argv[1:] if argv is None else argv
    t = argparse.ArgumentParser(prog="python -m trajreg.classifier", description=__doc__.split("\n")[0])
    t.add_argument("--out", required=True)
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (0: torch's default); one is fastest for this small "
                        "network on a shared CPU and keeps the run reproducible")
    t.add_argument("--device", default="cpu")
    _train_command(t.parse_args(argv), argv)


if __name__ == "__main__":
    main()
