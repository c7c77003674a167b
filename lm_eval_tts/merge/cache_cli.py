"""`lm-eval-tts cache list|clear`: inspect or empty the merged-checkpoint cache."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "clear"])
    parser.add_argument("keys", nargs="*", help="clear only entries whose key starts with one of these")


def run(args: argparse.Namespace) -> int:
    from lm_eval_tts.merge.cache import clear_cache, list_cache, merged_cache_dir

    if args.action == "list":
        entries = list_cache()
        print(f"{merged_cache_dir()}: {len(entries)} entries")
        for entry in entries:
            state = "" if entry.complete else "  [incomplete: interrupted or running, never used]"
            terms = " + ".join(
                f"{w:g} * {c}" for w, c in zip(entry.manifest.get("weights", []), entry.manifest.get("checkpoints", []))
            )
            dtype = entry.manifest.get("dtype", "?")
            print(f"{entry.key}  {entry.size_bytes / 1e9:8.3f} GB  {dtype:8}  {terms}{state}")
        return 0
    removed, busy = clear_cache(args.keys or None)
    freed = sum(e.size_bytes for e in removed)
    print(f"removed {len(removed)} entries ({freed / 1e9:.3f} GB) from {merged_cache_dir()}")
    for entry in busy:
        print(f"kept {entry.key}: a merge is writing it right now")
    return 0
