"""Sweeps from Python: one replay per seed (and per variant of the scenario), merged into one
report, in-process or on Ray.

What it is for: ``vnetsim.sweep(scenario, seeds, executor="local"|"ray")``. ``"local"`` runs
the whole sweep in this process on every core (as ``vnetsim sweep``); ``"ray"`` puts the
scenario text in Ray's object store once, runs one Ray task per shard (a contiguous block of
the seeds, as ``vnetsim sweep --shard I/N``), gathers the parts and merges them (as ``vnetsim
merge``). Either way the report is the one ``vnetsim sweep --report`` writes for the same
seeds, byte for byte. With ``variants=`` (a variants file's path, or a dict name -> edits in
the file's syntax), every variant replays every seed, and shards cut the (variant, seed) grid,
as ``vnetsim sweep --variants``. What it is not: a sweep runner or merger of its own (both are the Rust
``vnetsim-sweep`` library's, through ``vnetsim._native``) and not a cluster manager (Ray is
started and connected by the caller, ``ray.init``). Ray is optional.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, List, Mapping, Optional, Union

from . import _native

PathLike = Union[str, "os.PathLike[str]"]


class SweepReport(dict):
    """The report of a sweep: the dict ``json.load`` gives of ``vnetsim sweep --report``'s file
    (``vnetsim-sweep/1``, or ``vnetsim-sweep-variants/1`` with variants), with :attr:`json`
    (the text), :meth:`runs` (per-run figures as rows) and, with variants,
    :meth:`comparison`."""

    def __init__(self, text: str):
        super().__init__(json.loads(text))
        self._text = text

    @property
    def json(self) -> str:
        """The report exactly as ``vnetsim sweep --report`` writes it (pretty JSON, final
        newline)."""
        return self._text

    @property
    def passed(self) -> bool:
        """Whether every expectation held in every run."""
        return all(r["expectations_failed"] == 0 for r in self["runs"])

    @property
    def variants(self) -> "List[str]":
        """The variants' names, in order (empty for a sweep without variants)."""
        return [v["name"] for v in self.get("variants", [])]

    def comparison(self) -> "Any":
        """With variants, one row per variant, the report's ``comparison``: ``variant``,
        ``runs``, ``delivered_ratio``, ``sent``, ``delivered``, ``dropped``, ``in_flight``,
        ``drops_by_reason`` (a dict), ``throughput_bps_mean`` (all flows together, mean over
        the runs), ``worst_latency_p99_ns_mean`` (``None`` when nothing was delivered) and
        ``runs_with_failed_expectations``. ``.to_pandas()`` makes a DataFrame."""
        from . import Rows

        if "comparison" not in self:
            raise ValueError("comparison: this sweep has no variants (pass variants=...)")
        rows = Rows()
        for c in self["comparison"]:
            rows.append(
                {
                    "variant": c["variant"],
                    "runs": c["runs"],
                    "delivered_ratio": c["delivered_ratio"],
                    "sent": c["sent"],
                    "delivered": c["delivered"],
                    "dropped": c["dropped"],
                    "in_flight": c["in_flight"],
                    "drops_by_reason": dict(c["drops_by_reason"]),
                    "throughput_bps_mean": (c["throughput_bps"] or {}).get("mean"),
                    "worst_latency_p99_ns_mean": (c["worst_latency_p99_ns"] or {}).get("mean"),
                    "runs_with_failed_expectations": c["runs_with_failed_expectations"],
                }
            )
        return rows

    def runs(self) -> "Any":
        """One row per run and flow: ``seed``, ``flow``, ``delivered_ratio``,
        ``throughput_bps``, ``latency_p99_ns`` (``None`` when nothing was delivered), and the
        run's ``sent``, ``delivered``, ``dropped``, ``in_flight`` and
        ``expectations_failed``; with variants, first the run's ``variant``. ``.to_pandas()``
        makes a DataFrame."""
        from . import Rows

        rows = Rows()
        for run in self["runs"]:
            c = run["conservation"]
            for f in run["flows"]:
                row = {"variant": run["variant"]} if "variant" in run else {}
                row.update(
                    {
                        "seed": run["seed"],
                        "flow": f["name"],
                        "delivered_ratio": f["delivered_ratio"],
                        "throughput_bps": f["throughput_bps"],
                        "latency_p99_ns": f["latency_p99_ns"],
                        "sent": c["sent"],
                        "delivered": c["delivered"],
                        "dropped": c["dropped"],
                        "in_flight": c["in_flight"],
                        "expectations_failed": run["expectations_failed"],
                    }
                )
                rows.append(row)
        return rows

    def to_pandas(self) -> Any:
        """:meth:`runs` as a ``pandas.DataFrame``."""
        return self.runs().to_pandas()


def _scenario_text(scenario: Any) -> "tuple[str, str]":
    """The scenario's YAML text and the name diagnostics give it."""
    from . import Scenario, _looks_like_yaml

    if isinstance(scenario, Scenario):
        if scenario.yaml is None:
            raise TypeError(
                "sweep: a Scenario loaded from a file does not keep its text; pass the file's path"
            )
        return scenario.yaml, f"<scenario {scenario.name}>"
    if isinstance(scenario, str) and _looks_like_yaml(scenario) and not os.path.exists(scenario):
        return scenario, "<inline>"
    if not isinstance(scenario, (str, os.PathLike)):
        raise TypeError(f"sweep: expected a path or YAML text, not {type(scenario).__name__}")
    path = os.fspath(scenario)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such scenario file", path)
    # newline="": the bytes as they are, so a part's scenario hash is the command line's.
    with open(path, encoding="utf-8", newline="") as f:
        return f.read(), path


def _seeds_text(seeds: Union[range, Iterable[int]]) -> "tuple[str, int]":
    """The seed set as ``--seeds`` takes it (``A..B`` for a range of step 1, else a list), and
    its length."""
    if isinstance(seeds, range) and seeds.step == 1 and len(seeds) > 0:
        return f"{seeds.start}..{seeds.stop}", len(seeds)
    listed = list(seeds)
    for s in listed:
        if isinstance(s, bool) or not isinstance(s, int):
            raise TypeError(f"seeds: expected integers, got {type(s).__name__}")
        if not 0 <= s < 2**64:
            raise ValueError(f"seeds: {s} is not between 0 and 2**64 - 1")
    if not listed:
        raise ValueError("seeds: the seed set is empty")
    return ",".join(str(s) for s in listed), len(listed)


_EDITS = ("set", "remove", "add")


def _variants_text(variants: Any) -> "tuple[str, str]":
    """The variants as a variants file's text and the name errors give them: a path's file
    as it is, or a dict name -> edits written as the file's JSON."""
    if isinstance(variants, (str, os.PathLike)):
        path = os.fspath(variants)
        if not os.path.exists(path):
            raise FileNotFoundError(2, "No such variants file", path)
        with open(path, encoding="utf-8", newline="") as f:
            return f.read(), path
    if not isinstance(variants, Mapping):
        raise TypeError(
            "variants: expected a variants file's path or a dict name -> edits, not "
            f"{type(variants).__name__}"
        )
    listed = []
    for name, edits in variants.items():
        if not isinstance(name, str):
            raise TypeError(f"variants: a variant's name must be a string, not {name!r}")
        if edits is None:
            edits = {}
        if not isinstance(edits, Mapping):
            raise TypeError(
                f"variants[{name!r}]: expected a dict of edits (set, remove, add), not "
                f"{type(edits).__name__}"
            )
        unknown = [k for k in edits if k not in _EDITS]
        if unknown:
            raise ValueError(
                f"variants[{name!r}]: unknown edit {unknown[0]!r}; expected set, remove or add"
            )
        listed.append({"name": name, **edits})
    try:
        text = json.dumps({"variants": listed}, indent=2)
    except (TypeError, ValueError) as e:
        raise TypeError(f"variants: the edits are not plain data (dicts, lists, scalars): {e}")
    return text, "<variants>"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as e:  # Ray stays optional
        raise ImportError('sweep(executor="ray") needs Ray: pip install ray') from e
    return ray


def _run_shard(text: str, source: str, seeds: str, index: int, count: int, force: bool) -> str:
    """One Ray task: shard ``index`` of ``count``, its part as text. The task uses the CPUs
    Ray gave it (one by default)."""
    import ray

    assigned = ray.get_runtime_context().get_assigned_resources()
    cpus = max(1, int(assigned.get("CPU", 1)))
    return _native.sweep_part(text, source, seeds, index, count, cpus, force)


def _run_variants_shard(
    text: str,
    source: str,
    seeds: str,
    variants: str,
    variants_source: str,
    index: int,
    count: int,
    force: bool,
) -> str:
    """One Ray task of a sweep over variants: shard ``index`` of ``count`` of the grid."""
    import ray

    assigned = ray.get_runtime_context().get_assigned_resources()
    cpus = max(1, int(assigned.get("CPU", 1)))
    return _native.sweep_variants_part(
        text, source, seeds, variants, variants_source, index, count, cpus, force
    )


def sweep(
    scenario: Any,
    seeds: Union[range, Iterable[int]],
    executor: str = "local",
    shards: Optional[int] = None,
    jobs: Optional[int] = None,
    force: bool = False,
    variants: Any = None,
) -> SweepReport:
    """Replays ``scenario`` once per seed and merges the runs into one report, the one
    ``vnetsim sweep FILE --seeds ... --report`` writes, byte for byte.

    ``variants`` (optional) is a variants file's path, or a dict name -> edits in the file's
    syntax (``{"baseline": {}, "big": {"set": {"vms[web1].size": "Standard_D8s_v5"}}}``):
    every variant replays every seed and the report (``vnetsim-sweep-variants/1``) is the one
    ``vnetsim sweep FILE --variants V --report`` writes for the same variants, byte for byte;
    on Ray, shards cut the (variant, seed) grid. A variant that cannot be made or checked
    raises :class:`VariantsError` before anything replays.

    ``scenario`` is a path, YAML text, or an imported :class:`Scenario` (one that keeps its
    text). ``seeds`` is a ``range`` or integers (at most 1,000,000). ``executor="local"`` runs
    in this process on ``jobs`` threads (default: every core). ``executor="ray"`` needs a Ray
    instance (``ray.init`` is called with no arguments when none is connected): the scenario
    text goes to the object store once (``ray.put``), one task replays each of ``shards``
    shards (default: the CPUs Ray reports, at most the number of seeds) on the CPUs Ray gives
    it, and the parts are merged here. A sweep over 10,000,000,000 packets is refused (``ValueError``) unless
    ``force``."""
    text, source = _scenario_text(scenario)
    seeds_text, n = _seeds_text(seeds)
    vtext, vsource = _variants_text(variants) if variants is not None else (None, None)
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs: {jobs!r} is not a positive number of workers")
    if executor == "local":
        if shards is not None:
            raise ValueError('shards: only for executor="ray"')
        if vtext is not None:
            return SweepReport(
                _native.sweep_variants(text, source, seeds_text, vtext, vsource, jobs, bool(force))
            )
        return SweepReport(_native.sweep(text, source, seeds_text, jobs, bool(force)))
    if executor != "ray":
        raise ValueError(f'executor {executor!r}: expected "local" or "ray"')
    if jobs is not None:
        raise ValueError('jobs: only for executor="local"; a Ray task uses the CPUs Ray gives it')
    ray = _import_ray()
    # Load once here, so a broken scenario raises its ScenarioError (a broken variant its
    # VariantsError) before any task starts.
    _native.Sim.from_yaml(text, source)
    grid = n
    if vtext is not None:
        grid = n * _native.check_variants(text, source, vtext, vsource)
    if not ray.is_initialized():
        ray.init()
    if shards is None:
        shards = max(1, min(grid, int(ray.cluster_resources().get("CPU", 1))))
    elif isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ValueError(f"shards: {shards!r} is not a positive number of shards")
    shipped = ray.put(text)
    if vtext is not None:
        task = ray.remote(_run_variants_shard)
        shipped_variants = ray.put(vtext)
        pending = [
            task.remote(
                shipped, source, seeds_text, shipped_variants, vsource, i, shards, bool(force)
            )
            for i in range(shards)
        ]
    else:
        task = ray.remote(_run_shard)
        pending = [
            task.remote(shipped, source, seeds_text, i, shards, bool(force))
            for i in range(shards)
        ]
    parts = ray.get(pending)
    return SweepReport(_native.merge_parts(parts))
