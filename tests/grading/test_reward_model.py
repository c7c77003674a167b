"""Outcome reward model scoring on CPU with a tiny random sequence-classification checkpoint."""

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.grading.reward_model import RewardModel, check_reward_model_dir
from tests.grading.reward_models import build_tiny_orm


@pytest.fixture(scope="module")
def orm_dir(tiny_model_dir, tmp_path_factory):
    return build_tiny_orm(tiny_model_dir, tmp_path_factory.mktemp("orm") / "tiny-orm")


QUESTIONS = ["What is 2 + 2?", "What is 2 + 2?", "Name a prime number.", "Solve x + 1 = 3."]
RESPONSES = ["It is 4.", "It is 5, because 2 + 2 = 5.", "7", "x = 2, since 3 - 1 = 2."]


def test_one_score_per_pair_deterministic_and_independent_of_batch_size(orm_dir):
    whole = RewardModel(orm_dir, batch_size=4).score(QUESTIONS, RESPONSES)
    single = RewardModel(orm_dir, batch_size=1).score(QUESTIONS, RESPONSES)
    assert len(whole) == 4 and all(isinstance(s, float) for s in whole)
    assert whole == pytest.approx(single, abs=1e-4)
    assert len(set(round(s, 6) for s in whole)) == 4  # the pair matters, not just the question


def test_missing_directory_is_one_clear_user_error(tmp_path):
    with pytest.raises(UserError, match="reward_model=.*no such directory"):
        check_reward_model_dir(str(tmp_path / "nope"))
    with pytest.raises(UserError, match="no config.json"):
        check_reward_model_dir(str(tmp_path))


def test_a_classifier_with_several_labels_is_refused(tiny_model_dir, tmp_path):
    two = build_tiny_orm(tiny_model_dir, tmp_path / "two", num_labels=2)
    with pytest.raises(UserError, match="exactly one"):
        RewardModel(two).score(["q"], ["r"])


def test_mismatched_lengths_are_refused(orm_dir):
    with pytest.raises(ValueError, match="2 questions but 1 responses"):
        RewardModel(orm_dir).score(["a", "b"], ["c"])
