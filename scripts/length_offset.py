"""How an adding-problem model's error at another length splits into an offset and the rest.

Usage: ``python scripts/length_offset.py MODEL --seq-len T [--sequences 200] [--seed 123]``,
e.g. ``python scripts/length_offset.py models/adding1000_indrnn --seq-len 5000``. The model's
recurrent weights are clamped to the bounds of the length's recipe first (as ``--init-from``
does), then it reads ``--sequences`` fresh sequences of length T. Prints the mean squared error,
the mean error (the offset), the error with that offset removed, and with the best affine
correction of the prediction: a model whose error is mostly an offset has learnt the task at
that length except for the readout's constant.
"""

from __future__ import annotations

import argparse

import torch

import indrnn
from indrnn.data.adding import adding_batch
from indrnn.recipes import get_recipe
from indrnn.sequence_model import SequenceModel
from indrnn.train import clamp_recurrent_weights_


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="checkpoint path without suffix, e.g. "
                        "models/adding1000_indrnn")
    parser.add_argument("--seq-len", type=int, required=True)
    parser.add_argument("--sequences", type=int, default=200)
    parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args(argv)
    torch.set_flush_denormal(True)
    source = indrnn.load(args.model)
    if source.card.get("task") != "adding":
        raise SystemExit(f"{args.model} is not an adding-problem model (task "
                         f"{source.card.get('task')!r})")
    # the recipe at the new length holds that length's bounds on u
    model = SequenceModel(**get_recipe("adding-indrnn", seq_len=args.seq_len).model)
    model.load_state_dict(source.model.state_dict())
    clamp_recurrent_weights_(model)
    model.eval()
    inputs, targets = adding_batch(args.sequences, args.seq_len,
                                   torch.Generator().manual_seed(args.seed))
    with torch.no_grad():
        predicted = model(inputs)[0].reshape(-1)
    error = predicted - targets.reshape(-1)
    design = torch.stack([predicted, torch.ones_like(predicted)], 1).double()
    fit = torch.linalg.lstsq(design, targets.reshape(-1, 1).double()).solution
    affine = (design @ fit).reshape(-1).float() - targets.reshape(-1)
    result = {"mse": float((error ** 2).mean()), "offset": float(error.mean()),
              "mse_without_offset": float(((error - error.mean()) ** 2).mean()),
              "mse_affine": float((affine ** 2).mean())}
    print(f"{args.model} at T={args.seq_len}, {args.sequences} sequences (seed {args.seed}): "
          f"MSE {result['mse']:.4g}, offset {result['offset']:+.4g}, MSE without the offset "
          f"{result['mse_without_offset']:.4g}, with the best affine correction "
          f"{result['mse_affine']:.4g}")
    return result


if __name__ == "__main__":
    main()
