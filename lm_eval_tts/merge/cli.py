"""`lm-eval-tts merge`: write a WiSE-FT interpolation (or an N-way weighted sum) of checkpoints to a directory."""

from __future__ import annotations

import argparse

from lm_eval_tts.dtypes import DTYPE_ALIASES
from lm_eval_tts.merge.spec import MergeSpec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    two = parser.add_argument_group("WiSE-FT: theta = (1 - alpha) * theta_base + alpha * theta_pretrained")
    two.add_argument("--pretrained", metavar="LATE",
                     help="late checkpoint dir or cached hub id (config and tokenizer come from it)")
    two.add_argument("--base", metavar="EARLY", help="early checkpoint dir or cached hub id")
    two.add_argument("--alpha", type=float, help="weight of --pretrained; < 0 or > 1 extrapolates")
    many = parser.add_argument_group("N-way: theta = sum_i w_i * theta_i (config/tokenizer from the first)")
    many.add_argument("--checkpoints", nargs="+", metavar="CKPT", help="checkpoint dirs or cached hub ids")
    many.add_argument("--weights", nargs="+", type=float, metavar="W", help="one weight per checkpoint (any sign)")
    parser.add_argument("-o", "--output", metavar="DIR",
                        help="output dir (must not exist); default: the merge cache, whose entry path is printed")
    parser.add_argument("--dtype", default="auto", choices=sorted(DTYPE_ALIASES),
                        help="dtype of floating-point tensors in the output (default: as stored in the first input)")
    parser.add_argument("--max-shard-size", default="5GB", help="largest output shard, e.g. 500MB or 5GB")
    parser.add_argument("--force", action="store_true", help="replace an existing --output dir")


def spec_from_args(args: argparse.Namespace) -> MergeSpec:
    return MergeSpec.requested(args.pretrained, args.base, args.alpha, tuple(args.checkpoints or ()),
                               tuple(args.weights or ()), args.dtype, style="cli")


def run(args: argparse.Namespace) -> int:
    from lm_eval_tts.merge.cache import cached_merge
    from lm_eval_tts.merge.engine import merge_to_dir

    spec = spec_from_args(args)
    if args.output:
        path = merge_to_dir(spec, args.output, max_shard_size=args.max_shard_size, overwrite=args.force)
    else:
        path = cached_merge(spec)
    print(path)
    return 0
