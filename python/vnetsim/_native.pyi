"""Type stubs of ``vnetsim._native``, the Rust side of the package (see ``python/src/lib.rs``).
Use the ``vnetsim`` package's names; these are its internals."""

from typing import List, Optional, Tuple

__version__: str

def parse_duration(text: str) -> int:
    """A duration as scenario files write it (``600ms``) in nanoseconds; ``ValueError`` when
    it is not one."""

def import_arm(
    template: str,
    parameters: Optional[str],
    overrides: List[str],
    name: str,
    shown: str,
    shown_parameters: Optional[str],
) -> Tuple[str, List[str]]:
    """(scenario YAML, warnings) of an ARM template file; raises ``TemplateError``."""

class Sim:
    """A loaded, checked scenario."""

    @staticmethod
    def load(path: str) -> "Sim": ...
    @staticmethod
    def from_yaml(text: str, source: str) -> "Sim": ...
    @property
    def name(self) -> str: ...
    def vms(self) -> List[str]: ...
    def reset_flows(self) -> None: ...
    def probe(
        self,
        source: str,
        destination: str,
        protocol: str,
        dst_port: int,
        src_port: int,
        at_ns: int,
    ) -> Tuple[str, str, str]:
        """(explanation JSON, explain text, one-line detail)."""
    def routes(self, vm: str, at_ns: int) -> str:
        """``vnetsim routes --format json``."""
    def rules(self, vm: str, at_ns: int) -> str:
        """``vnetsim rules --format json``."""
    def matrix(
        self,
        protocol: str,
        ports: List[int],
        at_ns: int,
        sources: List[str],
        destinations: List[str],
    ) -> str:
        """The rows of ``vnetsim matrix --format json`` as a JSON list."""
    def run(
        self, seed: Optional[int], latency_cdf: bool, force: bool
    ) -> Tuple[str, List[Tuple[str, List[Tuple[float, float]]]]]:
        """(report JSON as ``vnetsim run --report`` writes it, per-flow latency CDFs)."""

def sweep(text: str, source: str, seeds: str, jobs: Optional[int] = None, force: bool = False) -> str:
    """The report ``vnetsim sweep --report`` writes for the scenario text and seeds."""

def sweep_part(
    text: str,
    source: str,
    seeds: str,
    index: int,
    count: int,
    jobs: Optional[int] = None,
    force: bool = False,
) -> str:
    """The part ``vnetsim sweep --shard index/count --report`` writes."""

def merge_parts(parts: List[str]) -> str:
    """The report ``vnetsim merge`` writes for the parts' texts (with or without variants)."""

def check_variants(text: str, source: str, variants: str, variants_source: str) -> int:
    """The number of variants, each checked as ``vnetsim sweep --variants`` checks them;
    raises ``ScenarioError`` or ``VariantsError``."""

def sweep_variants(
    text: str,
    source: str,
    seeds: str,
    variants: str,
    variants_source: str,
    jobs: Optional[int] = None,
    force: bool = False,
) -> str:
    """The report ``vnetsim sweep --variants --report`` writes for the texts and seeds."""

def sweep_variants_part(
    text: str,
    source: str,
    seeds: str,
    variants: str,
    variants_source: str,
    index: int,
    count: int,
    jobs: Optional[int] = None,
    force: bool = False,
) -> str:
    """The part ``vnetsim sweep --variants --shard index/count --report`` writes."""
