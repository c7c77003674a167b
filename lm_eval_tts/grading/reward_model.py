"""Outcome reward model: one scalar score per (question, response), for best@k with a verifier.

The model is any Hugging Face `AutoModelForSequenceClassification` checkpoint directory with one output label
(e.g. an ORM trained on correct/incorrect solutions). It is loaded once per process on first use and runs on CPU
in batches. The (question, response) pair is rendered with the tokenizer's chat template as a user/assistant
exchange when it has one, else as "question\\n\\nresponse".
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from lm_eval_tts.errors import UserError


def check_reward_model_dir(path: str, option: str = "reward_model") -> Path:
    """The checkpoint dir, or a UserError naming the option when it is not a usable checkpoint directory."""
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise UserError(
            f"{option}={path}: no such directory; give a Hugging Face sequence-classification checkpoint dir"
        )
    if not (directory / "config.json").is_file():
        raise UserError(f"{option}={path}: no config.json there; give a Hugging Face checkpoint dir")
    return directory.resolve()


class RewardModel:
    """Scores responses with a sequence-classification checkpoint (higher = more likely correct)."""

    def __init__(self, path: str | Path, batch_size: int = 8, max_length: int = 4096):
        self.path = check_reward_model_dir(str(path))
        self.batch_size = batch_size
        self.max_length = max_length
        self._lock = threading.Lock()
        self._loaded = None

    def _load(self):
        if self._loaded is None:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(self.path)
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            model = AutoModelForSequenceClassification.from_pretrained(self.path, dtype=torch.float32)
            if model.config.num_labels != 1:
                raise UserError(
                    f"reward_model={self.path}: has {model.config.num_labels} output labels; an outcome reward "
                    "model must have exactly one (a scalar score)"
                )
            model.config.pad_token_id = tokenizer.pad_token_id
            model.eval()
            self._loaded = (tokenizer, model)
        return self._loaded

    def render(self, tokenizer, question: str, response: str) -> str:
        if tokenizer.chat_template:
            messages = [{"role": "user", "content": question}, {"role": "assistant", "content": response}]
            return tokenizer.apply_chat_template(messages, tokenize=False)
        return f"{question}\n\n{response}"

    def score(self, questions: Sequence[str], responses: Sequence[str]) -> list[float]:
        """One score per (question, response) pair, in order."""
        import torch

        if len(questions) != len(responses):
            raise ValueError(f"{len(questions)} questions but {len(responses)} responses")
        with self._lock:
            tokenizer, model = self._load()
            texts = [self.render(tokenizer, q, r) for q, r in zip(questions, responses)]
            scores: list[float] = []
            for start in range(0, len(texts), self.batch_size):
                batch = tokenizer(
                    texts[start : start + self.batch_size],
                    return_tensors="pt",
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    add_special_tokens=not tokenizer.chat_template,
                )
                with torch.inference_mode():
                    logits = model(**batch).logits
                scores.extend(float(x) for x in logits[:, 0])
            return scores


@lru_cache(maxsize=None)
def shared_reward_model(path: str, batch_size: int) -> RewardModel:
    """One RewardModel per checkpoint per process (tasks of one run share the loaded weights)."""
    return RewardModel(path, batch_size=batch_size)
