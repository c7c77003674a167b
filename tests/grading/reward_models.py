"""A tiny random outcome reward model for tests: the tiny test Llama's config and tokenizer, one output label."""

from pathlib import Path


def build_tiny_orm(tiny_model_dir: Path, target: Path, num_labels: int = 1) -> Path:
    import torch
    from transformers import AutoConfig, AutoTokenizer, LlamaForSequenceClassification

    config = AutoConfig.from_pretrained(tiny_model_dir)
    config.num_labels = num_labels
    torch.manual_seed(0)
    LlamaForSequenceClassification(config).save_pretrained(target)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(target)
    return target
