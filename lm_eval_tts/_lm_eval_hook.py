"""Make plain `lm_eval` see the `wise_fire` model and this package's tasks (lm-eval 0.4.x has no plugin discovery).

`lm_eval_tts_hook.pth` imports this module in every Python process, so it only installs a meta-path finder;
lm-eval modules are patched right after they are first imported, and nothing is imported before that:
- `lm_eval.api.registry`: register lm-eval's built-in models first (a non-empty registry would otherwise stop
  lm-eval from loading them), then `wise_fire` lazily;
- `lm_eval.tasks.manager`: every TaskManager also scans this package's task_configs directory, and a hub dataset
  that cannot be reached (offline, not cached) is one UserError;
- `lm_eval.evaluator`: with `--model wise_fire` the tasks are built before the model (options checked first);
- `lm_eval.tasks._factory`: a group built from a YAML that asks for it gets its aggregate metric list from its
  subtasks (lm_eval_tts.tasks.groups: group metrics that follow `repeats`/`ks`);
- `lm_eval.__main__`: a UserError (bad model_args or task option, a missing dataset, an engine that cannot start)
  is printed as one line with exit status 2.
"""

import sys

MODEL_NAME = "wise_fire"
MODEL_TARGET = "lm_eval_tts.models.wise_fire:WiseFireLM"


def _patch_registry(module):
    import lm_eval.models  # noqa: F401  (registers the built-in models lazily)

    if MODEL_NAME not in module.model_registry:
        module.model_registry.register(MODEL_NAME, target=MODEL_TARGET)


def _patch_task_manager(module):
    original_init = module.TaskManager.__init__
    if getattr(original_init, "_lm_eval_tts", False):
        return

    def __init__(self, *args, include_path=None, **kwargs):
        from lm_eval_tts.paths import task_configs_dir

        ours = str(task_configs_dir())
        if include_path is None:
            include_path = [ours]
        else:
            paths = list(include_path) if isinstance(include_path, (list, tuple)) else [include_path]
            include_path = [ours] + [p for p in paths if str(p) != ours]
        original_init(self, *args, include_path=include_path, **kwargs)

    original_load = module.TaskManager.load

    def load(self, *args, **kwargs):
        try:
            return original_load(self, *args, **kwargs)
        except ConnectionError as err:  # what `datasets` raises for a hub dataset it cannot reach or find cached
            from lm_eval_tts.errors import dataset_unavailable

            raise dataset_unavailable(err) from err

    __init__._lm_eval_tts = True
    module.TaskManager.__init__ = __init__
    module.TaskManager.load = load


def _patch_evaluator(module):
    """lm-eval builds the model before the tasks; for wise_fire (an engine start takes up to a minute) the tasks are
    built first, so a bad task option, a dataset missing offline or a code task without --confirm_run_unsafe_code
    stops the run at once. simple_evaluate then gets the same task objects when it asks for them."""
    import functools

    original = module.simple_evaluate

    @functools.wraps(original)
    def simple_evaluate(*args, **kwargs):
        manager, tasks = kwargs.get("task_manager"), kwargs.get("tasks")
        if kwargs.get("model") == MODEL_NAME and manager is not None and tasks:
            loaded = manager.load(tasks)
            unsafe = sorted(name for name, task in loaded["tasks"].items() if getattr(task, "UNSAFE_CODE", False))
            if unsafe and not kwargs.get("confirm_run_unsafe_code"):
                from lm_eval_tts.errors import UserError

                runs = "runs" if len(unsafe) == 1 else "run"
                raise UserError(f"{', '.join(unsafe)} {runs} model-written code (in this package's sandbox): add "
                                "--confirm_run_unsafe_code to allow it")

            def load_once(task_list):
                del manager.load  # the class's own method again
                return loaded if task_list is tasks else manager.load(task_list)

            manager.load = load_once
        return original(*args, **kwargs)

    module.simple_evaluate = simple_evaluate


def _patch_task_factory(module):
    original_build_group = module.TaskFactory._build_group

    def _build_group(self, *args, **kwargs):
        from lm_eval_tts.tasks.groups import with_tts_aggregates

        return with_tts_aggregates(original_build_group(self, *args, **kwargs))

    module.TaskFactory._build_group = _build_group


def _patch_main(module):
    original = module.cli_evaluate

    def cli_evaluate():
        from lm_eval_tts.errors import UserError

        try:
            return original()
        except UserError as err:
            print(f"lm_eval: error: {err}", file=sys.stderr)
            raise SystemExit(2) from None

    module.cli_evaluate = cli_evaluate


_PATCHES = {
    "lm_eval.api.registry": _patch_registry,
    "lm_eval.tasks.manager": _patch_task_manager,
    "lm_eval.tasks._factory": _patch_task_factory,
    "lm_eval.evaluator": _patch_evaluator,
    "lm_eval.__main__": _patch_main,
}


class _PostImportFinder:
    """Finds nothing itself; wraps the real loader of the few lm-eval modules it patches."""

    def find_spec(self, fullname, path=None, target=None):
        patch = _PATCHES.get(fullname)
        if patch is None:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module):
            original_exec(module)
            patch(module)

        loader.exec_module = exec_module
        return spec


def install():
    if not any(isinstance(f, _PostImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder())


install()
