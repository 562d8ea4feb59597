"""vnetsim for Python: load an Azure-style network of peered VNets, probe packets through it,
list effective routes and rules, decide a reachability matrix and replay traffic in simulated
time.

What it is for: scripting experiments (notebooks, pandas, matplotlib) on the same engine as the
``vnetsim`` command line, with the same answers: a probe's verdict is ``vnetsim explain``'s,
``routes``/``rules``/``matrix`` are the command's rows, ``run`` returns the report ``vnetsim run
--report`` writes, byte for byte. What it is not: a second implementation (every decision comes
from the Rust crates through ``vnetsim._native``) and not a live driver.

>>> import vnetsim
>>> scn = vnetsim.load("scenarios/hub-and-spoke.yaml")            # doctest: +SKIP
>>> v = scn.probe("web1", "db1", protocol="tcp", dst_port=1433)    # doctest: +SKIP
>>> v.delivered, v.path                                            # doctest: +SKIP
(True, ['web1', 'nva1', 'db1'])
"""

from __future__ import annotations

import datetime
import json
import math
import os
import tempfile
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _native
from ._errors import (
    Diagnostic,
    NameNotFoundError,
    ScenarioError,
    TemplateError,
    VariantsError,
    VnetsimError,
)

__all__ = [
    "load",
    "sweep",
    "SweepReport",
    "import_arm",
    "Scenario",
    "Verdict",
    "Hop",
    "Report",
    "Rows",
    "Diagnostic",
    "VnetsimError",
    "ScenarioError",
    "NameNotFoundError",
    "TemplateError",
    "VariantsError",
    "DEFAULT_PORTS",
]

__version__: str = _native.__version__

#: The ports ``Scenario.matrix`` decides unless told otherwise (as ``vnetsim matrix``).
DEFAULT_PORTS: Tuple[int, ...] = (22, 80, 443, 1433)

#: The source port of probes that name none (as in scenario files and ``vnetsim explain``).
DEFAULT_SRC_PORT = 49152

#: The destination port of TCP and UDP probes that name none.
DEFAULT_DST_PORT = 80

PathLike = Union[str, "os.PathLike[str]"]
Time = Union[str, int, float, datetime.timedelta]


def _nanos(at: Time) -> int:
    """Simulated time in nanoseconds: a duration as scenario files write it (``"600ms"``),
    seconds as a number, or a ``datetime.timedelta``."""
    if isinstance(at, bool):
        raise TypeError("at: expected a duration such as '600ms', seconds, or a timedelta")
    if isinstance(at, str):
        return _native.parse_duration(at)
    if isinstance(at, datetime.timedelta):
        ns = (at.days * 86_400 + at.seconds) * 1_000_000_000 + at.microseconds * 1_000
    elif isinstance(at, (int, float)):
        if isinstance(at, float) and not math.isfinite(at):
            raise ValueError(f"at: {at!r} is not a time")
        ns = round(at * 1_000_000_000)
    else:
        raise TypeError(
            f"at: expected a duration such as '600ms', seconds, or a timedelta, not {type(at).__name__}"
        )
    if ns < 0:
        raise ValueError(f"at: {at!r} is before the start of the run")
    if ns >= 2**64:
        raise ValueError(f"at: {at!r} is too far in the future")
    return ns


def _port(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what}: expected an integer port, not {type(value).__name__}")
    if not 0 <= value <= 65535:
        raise ValueError(f"{what}: {value} is not a port (0 to 65535)")
    return value


class Rows(list):
    """A list of dicts (one per row) that turns into a pandas DataFrame with
    :meth:`to_pandas` when pandas is installed."""

    def to_pandas(self) -> Any:
        """The rows as a ``pandas.DataFrame`` (columns in the rows' key order)."""
        try:
            import pandas
        except ImportError as e:  # pandas stays optional
            raise ImportError(
                "to_pandas() needs pandas: pip install pandas (or vnetsim[pandas])"
            ) from e
        return pandas.DataFrame.from_records(list(self))


class Hop:
    """One step of a packet's way: what happened (``kind``), where (``place``), the sentence
    ``vnetsim explain`` prints (``detail``), and the route, NSG rule or firewall rule that
    decided it (dicts, or ``None``)."""

    __slots__ = ("kind", "place", "detail", "route", "rule", "firewall_rule")

    def __init__(self, view: Mapping[str, Any]) -> None:
        self.kind: str = view["kind"]
        self.place: str = view["at"]
        self.detail: str = view["detail"]
        self.route: Optional[Dict[str, Any]] = view.get("route")
        self.rule: Optional[Dict[str, Any]] = view.get("rule")
        self.firewall_rule: Optional[Dict[str, Any]] = view.get("firewall_rule")

    def __repr__(self) -> str:
        return f"Hop({self.kind!r}, {self.place!r}, {self.detail!r})"


class Verdict:
    """What the data plane did with one probe: delivered or dropped, the stable drop reason,
    the path by name and every hop. ``str(v)`` is the text ``vnetsim explain`` prints."""

    __slots__ = ("explanation", "detail", "_text")

    def __init__(self, explanation: Dict[str, Any], text: str, detail: str) -> None:
        self.explanation: Dict[str, Any] = explanation
        """The whole explanation, as ``vnetsim explain --format json`` prints it."""
        self.detail: str = detail
        """One sentence: ``delivered to X`` or ``dropped (reason): the rule behind it``."""
        self._text = text

    @property
    def delivered(self) -> bool:
        """Whether the packet was delivered (to a NIC, an on-premises host or the Internet)."""
        return self.explanation["verdict"] == "delivered"

    @property
    def dropped(self) -> bool:
        """Whether the packet was dropped."""
        return not self.delivered

    @property
    def reason(self) -> Optional[str]:
        """The stable drop reason (``nsg-denied``, ``no-route``, ...), or ``None``."""
        return self.explanation.get("reason")

    @property
    def delivered_to(self) -> Optional[str]:
        """What received the packet (a VM, a host, ``Internet``), when delivered."""
        return self.explanation.get("delivered_to")

    @property
    def path(self) -> List[str]:
        """Sender, appliances and gateways on the way, and the receiver when delivered."""
        return list(self.explanation["path"])

    @property
    def hops(self) -> List[Hop]:
        """Every step, with the route, NSG rule or firewall rule that decided it."""
        return [Hop(h) for h in self.explanation["hops"]]

    @property
    def allowed_by(self) -> List[str]:
        """The NSG rules that let the packet pass, as ``NSG rule (priority N)``."""
        out = []
        for h in self.explanation["hops"]:
            r = h.get("rule")
            if r and r.get("access") == "allow":
                p = r.get("priority")
                out.append(f"{r['nsg']} {r['rule']}" + (f" (priority {p})" if p is not None else ""))
        return out

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        e = self.explanation
        port = f":{e['dst_port']}" if e.get("dst_port") is not None else ""
        what = f"{e['protocol']} {e['from']} -> {e['to']}{port}"
        if self.delivered:
            return f"<Verdict delivered {what} via {' -> '.join(self.path)}>"
        return f"<Verdict {self.detail} | {what}>"


class Report(dict):
    """The report of a replay: the dict ``json.load`` gives of ``vnetsim run --report``'s file
    (schema ``vnetsim-report/1``), with helpers for flows' throughput and latency."""

    def __init__(self, text: str, cdfs: Iterable[Tuple[str, List[Tuple[float, float]]]] = ()):
        super().__init__(json.loads(text))
        self._text = text
        self._cdfs: Dict[str, List[Tuple[float, float]]] = {n: list(p) for n, p in cdfs}

    @property
    def json(self) -> str:
        """The report exactly as ``vnetsim run --report`` writes it (pretty JSON, final
        newline)."""
        return self._text

    @property
    def passed(self) -> bool:
        """Whether every expectation of the scenario held."""
        return self["expectations"]["failed"] == 0

    def flow(self, name: str) -> Dict[str, Any]:
        """The statistics of the traffic flow ``name``."""
        for f in self["flows"]:
            if f["name"] == name:
                return f
        raise NameNotFoundError(
            f"`{name}`: no flow of that name in the report of '{self['scenario']}'", name
        )

    def throughput(self) -> Rows:
        """One row per flow: offered and delivered load in bits per second, packets sent,
        delivered and dropped, and the delivered ratio."""
        return Rows(
            {
                "flow": f["name"],
                "from": f["from"],
                "to": f["to"],
                "offered_bps": f["offered_bps"],
                "throughput_bps": f["throughput_bps"],
                "sent": f["sent"],
                "delivered": f["delivered"],
                "dropped": sum(f["dropped"].values()),
                "delivered_ratio": f["delivered_ratio"],
            }
            for f in self["flows"]
        )

    def latency(self, unit: str = "us") -> Rows:
        """One row per flow: one-way latency percentiles of delivered packets (``min``,
        ``p50``, ``p90``, ``p99``, ``p999``, ``max``, ``mean``) in ``unit`` (``ns``, ``us``,
        ``ms`` or ``s``); ``None`` for a flow nothing of which was delivered."""
        scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}.get(unit)
        if scale is None:
            raise ValueError(f"unit {unit!r}: expected 'ns', 'us', 'ms' or 's'")
        keys = ("min", "p50", "p90", "p99", "p999", "max", "mean")
        rows = Rows()
        for f in self["flows"]:
            lat = f.get("latency_ns")
            row: Dict[str, Any] = {"flow": f["name"]}
            for k in keys:
                row[k] = None if lat is None else lat[k] / scale
            rows.append(row)
        return rows

    def percentile(self, flow: str, q: float) -> Optional[float]:
        """The latency (µs) at or below which the fraction ``q`` (0 to 1) of ``flow``'s
        delivered packets arrived, from its CDF (needs ``run(latency_cdf=True)``)."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q: {q} is not a fraction between 0 and 1")
        for x, frac in self.latency_cdf(flow):
            if frac >= q:
                return x
        return None

    def latency_cdf(self, flow: str) -> List[Tuple[float, float]]:
        """The empirical CDF of ``flow``'s one-way latency: (µs, fraction at or below) points,
        the last fraction exactly 1.0; empty when nothing was delivered. Needs
        ``run(latency_cdf=True)``."""
        self.flow(flow)  # the name must exist
        if flow not in self._cdfs:
            raise ValueError("latency_cdf needs the replay run with run(latency_cdf=True)")
        return list(self._cdfs[flow])


def _route_rows(listed: List[Dict[str, Any]]) -> Rows:
    rows = Rows()
    for nic in listed:
        for r in nic["routes"]:
            rows.append(
                {
                    "nic": nic["nic"],
                    "source": r["source"],
                    "state": r["state"],
                    "addressPrefix": r["prefix"],
                    "nextHopType": r["next_hop_type"],
                    "nextHopIpAddress": r["next_hop_ip"],
                    "name": r["name"],
                    "asPath": r.get("as_path"),
                    "note": r["note"],
                }
            )
    return rows


def _rule_rows(listed: List[Dict[str, Any]]) -> Rows:
    rows = Rows()
    for nic in listed:
        for g in nic["groups"]:
            for r in g["rules"]:
                rows.append(
                    {
                        "nic": nic["nic"],
                        "networkSecurityGroup": g["nsg"],
                        "association": g["attached_to"],
                        "direction": g["direction"],
                        "stage": g["stage"],
                        "priority": r["priority"],
                        "name": r["name"],
                        "access": r["access"],
                        "protocol": r["protocol"],
                        "sourceAddressPrefix": r["source"],
                        "sourcePortRange": r["source_ports"],
                        "destinationAddressPrefix": r["destination"],
                        "destinationPortRange": r["destination_ports"],
                        "isDefault": r["default"],
                    }
                )
    return rows


def _names(value: Union[None, str, Iterable[str]], what: str) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    out = list(value)
    for v in out:
        if not isinstance(v, str):
            raise TypeError(f"{what}: expected names (str), got {type(v).__name__}")
    return out


class Scenario:
    """A loaded, checked scenario. Probes share one NSG flow table, as in Azure and the Rust
    harness: a probe in the reverse direction of an allowed one is a reply
    (:meth:`reset_flows` forgets them). Make one with :func:`load` or :func:`import_arm`."""

    def __init__(self, sim: "_native.Sim", yaml: Optional[str] = None, warnings: Sequence[str] = ()):
        self._sim = sim
        self.yaml: Optional[str] = yaml
        """For an imported scenario: the scenario file the import wrote."""
        self.warnings: List[str] = list(warnings)
        """For an imported scenario: what the import left out or assumed."""

    @property
    def name(self) -> str:
        """The scenario's ``name``."""
        return self._sim.name

    @property
    def vms(self) -> List[str]:
        """The VM names, in file order."""
        return self._sim.vms()

    def __repr__(self) -> str:
        return f"<vnetsim.Scenario {self.name!r}: {len(self.vms)} VMs>"

    def reset_flows(self) -> None:
        """Forgets the NSG flow records left by earlier probes."""
        self._sim.reset_flows()

    def probe(
        self,
        source: str,
        destination: str,
        protocol: str = "icmp",
        dst_port: Optional[int] = None,
        src_port: int = DEFAULT_SRC_PORT,
        at: Time = 0,
    ) -> Verdict:
        """Sends one packet from ``source`` to ``destination`` (VM names, ``vm/nic``,
        on-premises host names or IPv4 addresses) against the network as it is at ``at``
        (every timed event up to then applied) and returns the verdict.

        ``protocol`` is ``"tcp"`` (a SYN), ``"udp"`` or ``"icmp"`` (an echo request, the
        default, which takes no port); ``dst_port`` defaults to 80 for TCP and UDP. ``at`` is
        a duration as scenario files write it (``"600ms"``), seconds, or a timedelta."""
        proto = protocol.lower() if isinstance(protocol, str) else protocol
        if proto not in ("tcp", "udp", "icmp"):
            raise ValueError(f'protocol {protocol!r}: expected "tcp", "udp" or "icmp"')
        if proto == "icmp" and dst_port is not None:
            raise ValueError("dst_port: an ICMP echo request has no port; use protocol='tcp' or 'udp'")
        port = DEFAULT_DST_PORT if dst_port is None else _port(dst_port, "dst_port")
        explanation, text, detail = self._sim.probe(
            source, destination, proto, port, _port(src_port, "src_port"), _nanos(at)
        )
        return Verdict(json.loads(explanation), text, detail)

    def explain(self, source: str, destination: str, **probe: Any) -> str:
        """The text ``vnetsim explain`` prints for the same probe: every hop and the verdict
        (takes :meth:`probe`'s arguments)."""
        return str(self.probe(source, destination, **probe))

    def routes(self, vm: str, at: Time = 0) -> Rows:
        """The effective routes of ``vm``'s NICs (or of one NIC, ``vm/nic``) as ``vnetsim
        routes`` lists them: one dict per route with the Azure CLI's field names (``source``,
        ``state``, ``addressPrefix``, ``nextHopType``, ``nextHopIpAddress``, ``name``) plus
        ``nic``, ``asPath`` (BGP routes) and ``note`` (why Invalid)."""
        return _route_rows(json.loads(self._sim.routes(vm, _nanos(at))))

    def rules(self, vm: str, at: Time = 0) -> Rows:
        """The effective security rules of ``vm``'s NICs (or one NIC) in evaluation order, as
        ``vnetsim rules`` lists them: one dict per rule with the Azure CLI's field names
        (``name``, ``priority``, ``access``, ``direction``, ``protocol``,
        ``sourceAddressPrefix``, ``sourcePortRange``, ``destinationAddressPrefix``,
        ``destinationPortRange``) plus ``nic``, ``networkSecurityGroup``, ``association``,
        ``stage`` and ``isDefault``."""
        return _rule_rows(json.loads(self._sim.rules(vm, _nanos(at))))

    def matrix(
        self,
        ports: Iterable[int] = DEFAULT_PORTS,
        protocol: str = "tcp",
        at: Time = 0,
        sources: Union[None, str, Iterable[str]] = None,
        destinations: Union[None, str, Iterable[str]] = None,
    ) -> Rows:
        """Every ordered pair of endpoints on each port, as ``vnetsim matrix --format json``
        lists its rows: ``source``, ``destination``, ``protocol``, ``port``, ``verdict``,
        ``reason``, ``rule``, ``path``. ``sources``/``destinations`` keep endpoints by group,
        as ``--from``/``--to`` do (a name, a VNet, ``vnet/subnet``, a site, ``Internet``)."""
        port_list = [_port(p, "ports") for p in ports]
        text = self._sim.matrix(
            protocol,
            port_list,
            _nanos(at),
            _names(sources, "sources"),
            _names(destinations, "destinations"),
        )
        return Rows(json.loads(text))

    def run(self, seed: Optional[int] = None, latency_cdf: bool = False, force: bool = False) -> Report:
        """Replays the scenario's traffic, probes and timed events in simulated time and
        returns its report (the same JSON as ``vnetsim run --report``; ``seed`` as
        ``--seed``, the file's when ``None``). ``latency_cdf=True`` also keeps each flow's
        latency CDF for :meth:`Report.latency_cdf` (the report is the same). A run over
        10,000,000,000 packets is refused unless ``force``."""
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise TypeError(f"seed: expected an integer, not {type(seed).__name__}")
            if not 0 <= seed < 2**64:
                raise ValueError(f"seed: {seed} is not between 0 and 2**64 - 1")
        text, cdfs = self._sim.run(seed, bool(latency_cdf), bool(force))
        return Report(text, cdfs)


def _looks_like_yaml(text: str) -> bool:
    return "\n" in text or text.lstrip().startswith("{") or ": " in text


def load(source: Union[PathLike, str]) -> Scenario:
    """Loads and checks a scenario: a path (``str`` or ``os.PathLike``) of a YAML or JSON
    file, or the YAML text itself (a string with a newline). Raises :class:`ScenarioError`
    with every diagnostic when Azure's rules or the file format are broken, and
    ``FileNotFoundError`` when the file does not exist."""
    if isinstance(source, str) and _looks_like_yaml(source) and not os.path.exists(source):
        return Scenario(_native.Sim.from_yaml(source, "<inline>"))
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"load: expected a path or YAML text, not {type(source).__name__}")
    path = os.fspath(source)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such scenario file", path)
    return Scenario(_native.Sim.load(path))


def _json_file(value: Any, directory: str, name: str) -> Tuple[str, str]:
    """A path for a template or parameters given as a path, JSON text or a dict, and the name
    to show for it (the file's name, or ``name (given as JSON)``)."""
    if isinstance(value, os.PathLike) or (isinstance(value, str) and not value.lstrip().startswith("{")):
        path = os.fspath(value)
        if not os.path.exists(path):
            raise FileNotFoundError(2, "No such file", path)
        return path, os.path.basename(path)
    text = value if isinstance(value, str) else json.dumps(value)
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path, f"{name} (given as JSON)"


def import_arm(
    template: Union[PathLike, str, Mapping[str, Any]],
    parameters: Union[None, PathLike, str, Mapping[str, Any]] = None,
    set: Optional[Mapping[str, Any]] = None,
    name: str = "imported",
) -> Scenario:
    """Imports an ARM template (evaluated offline, as ``vnetsim import arm``) and loads the
    scenario. ``template`` is a path, JSON text or a dict; ``parameters`` a parameters file
    (path, text or dict), or a plain dict of parameter values; ``set`` overrides parameter
    values as ``--set name=value`` does. The result's ``yaml`` is the scenario file written,
    its ``warnings`` what was left out. Raises :class:`TemplateError`."""
    overrides = []
    for k, v in (set or {}).items():
        value = v if isinstance(v, str) else json.dumps(v)
        overrides.append(f"{k}={value}")
    with tempfile.TemporaryDirectory(prefix="vnetsim-arm-") as tmp:
        template_path, shown = _json_file(template, tmp, "template.json")
        parameters_path, shown_parameters = None, None
        if parameters is not None:
            if isinstance(parameters, Mapping) and "parameters" not in parameters:
                parameters = {
                    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
                    "contentVersion": "1.0.0.0",
                    "parameters": {k: {"value": v} for k, v in parameters.items()},
                }
            parameters_path, shown_parameters = _json_file(parameters, tmp, "parameters.json")
        yaml, warnings = _native.import_arm(
            template_path, parameters_path, overrides, name, shown, shown_parameters
        )
    return Scenario(_native.Sim.from_yaml(yaml, f"<import of {shown}>"), yaml=yaml, warnings=warnings)


from ._sweep import SweepReport, sweep  # noqa: E402  (uses the names above)
