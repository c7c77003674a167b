"""One exception type for mistakes a user can fix, so front ends print one line instead of a traceback."""


class UserError(ValueError):
    """Bad user input: the message names the argument/file/problem and what would fix it."""


def dataset_unavailable(err: Exception) -> UserError:
    """A hub dataset that `datasets` could not reach or find in the local cache, as one line with the fixes."""
    cause = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return UserError(f"a task's dataset is not available: {cause}. The *_tts tasks ship their data "
                     "(e.g. --tasks gsm8k_tts instead of gsm8k); a hub dataset must be downloaded once with network "
                     "access (HF_HUB_OFFLINE and HF_DATASETS_OFFLINE unset) to be used offline")
