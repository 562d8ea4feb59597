#!/usr/bin/env python3
"""Writes large YAML scenarios to time the loader on, one VM or flow per line.

A scenario from `vnetsim generate hub-spoke` gets its scale sets written out, one VM per line
(as `generate` wrote them before scale sets):

    vnetsim generate hub-spoke --vms-per-spoke 1000 --flows 1000000 --pps 1 -o m.yaml
    python3 scripts/written-out-yaml.py m.yaml > big.yaml     # about 12.3 MB
    /usr/bin/time -v vnetsim validate big.yaml

A JSON scenario (a file ending in `.json`, such as the one `scripts/written-out-json.py` writes)
is written as YAML: the top-level fields as a block mapping, each item of a list on its own line
in flow style, every scalar plain unless YAML would read it as something else:

    python3 scripts/written-out-json.py > big.json
    python3 scripts/written-out-yaml.py big.json > big-json.yaml   # about 12 MB

Instance i of scale set `s` becomes the VM `s_i` with one NIC `s_i-nic` at the subnet's address
network + 4 + i, the name and address the loader gives that instance, so the network is the same.
Only the layout `generate` writes is understood (one scale set per line, subnet `vnet/subnet`,
the subnet's prefix on its VNet's `subnets:` line)."""
import ipaddress
import json
import re
import sys

SCALE_SET = re.compile(
    r"^  - \{ name: (?P<name>[^,]+), size: (?P<size>[^,]+), instances: (?P<n>\d+),"
    r".* subnet: (?P<vnet>[^/]+)/(?P<subnet>[^ ,}]+) \}$"
)
VNET = re.compile(r"^  - name: (?P<name>\S+)$")
SUBNET = re.compile(r"\{ name: (?P<name>[^,]+), prefix: (?P<prefix>[^,} ]+)")


PLAIN = re.compile(r"^[A-Za-z0-9_./-][A-Za-z0-9_./:-]*$")
NUMBERISH = re.compile(r"^[-+]?[0-9._]+([eE][-+]?[0-9]+)?$|^[-+]?0[xob]")
WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def scalar(v):
    """A scalar in flow style: plain when YAML reads it back as the same string."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if PLAIN.match(v) and not NUMBERISH.match(v) and v.lower() not in WORDS:
        return v
    return json.dumps(v)


def flow(v):
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k}: {flow(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(flow(x) for x in v) + "]"
    return scalar(v)


def from_json(path):
    with open(path, encoding="utf-8") as f:
        scenario = json.load(f)
    out = []
    for key, value in scenario.items():
        if isinstance(value, list) and value:
            out.append(f"{key}:")
            out.extend(f"  - {flow(item)}" for item in value)
        else:
            out.append(f"{key}: {flow(value)}")
    sys.stdout.write("\n".join(out) + "\n")


def main(path):
    if path.endswith(".json"):
        from_json(path)
        return
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    prefixes, vnet, section = {}, None, None
    for line in lines:
        if re.match(r"^[a-z_]+:", line):
            section = line.split(":")[0]
        elif section == "vnets":
            m = VNET.match(line)
            if m:
                vnet = m["name"]
            elif line.strip().startswith("subnets:"):
                for s in SUBNET.finditer(line):
                    prefixes[(vnet, s["name"])] = ipaddress.ip_network(s["prefix"])
    out, section = [], None
    for line in lines:
        if re.match(r"^[a-z_]+:", line):
            section = line.split(":")[0]
            if section == "scale_sets":
                continue
        elif section == "scale_sets":
            m = SCALE_SET.match(line)
            if not m:
                sys.exit(f"not a scale set line as `generate` writes it: {line}")
            net = prefixes[(m["vnet"], m["subnet"])]
            for i in range(int(m["n"])):
                name = f"{m['name']}_{i}"
                ip = net.network_address + 4 + i
                out.append(
                    f"  - {{ name: {name}, size: {m['size']}, nics: [ {{ name: {name}-nic, "
                    f"vnet: {m['vnet']}, subnet: {m['subnet']}, ip: {ip} }} ] }}"
                )
            continue
        out.append(line)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: written-out-yaml.py GENERATED.yaml|SCENARIO.json > written-out.yaml")
    main(sys.argv[1])
