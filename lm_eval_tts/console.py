"""The log that users of `lm_eval --model wise_fire` read (engine start, first-run conversion): a child of
lm-eval's own logger, so it has lm-eval's format and follows its verbosity (--verbosity, LMEVAL_LOG_LEVEL)."""

import logging

console = logging.getLogger("lm_eval.wise_fire")
