#!/usr/bin/env python3
"""Writes a hub-and-spoke scenario as JSON with every VM and flow written out, one object each
(100 spokes of 100 VMs, 100,000 flows between VMs of different spokes: about 19.5 MB), to time
the loader on a large JSON file: `python3 scripts/written-out-json.py > big.json`, then
`/usr/bin/time -v vnetsim validate big.json`. The same network `vnetsim generate hub-spoke
--flows 100000` writes in 41 KB with scale sets and a `pairs` entry."""
import json
import random
import sys

SPOKES, PER_SPOKE, FLOWS = 100, 100, 100_000
rng = random.Random(1)
scenario = {
    "name": "written-out",
    "seed": 1,
    "duration": "1000ms",
    "azure": {"peering_limit": 500},
    "vnets": [{"name": "hub", "address_space": ["10.0.0.0/16"],
               "subnets": [{"name": "appliances", "prefix": "10.0.1.0/24"}]}],
    "route_tables": [{"name": "via-nva", "routes": [
        {"name": "spokes", "prefix": "10.0.0.0/8", "next_hop": "VirtualAppliance",
         "next_hop_ip": "10.0.1.4"}]}],
    "vms": [{"name": "nva", "size": "Standard_F72s_v2", "forwarding": True, "nics": [
        {"name": "nva-nic", "vnet": "hub", "subnet": "appliances", "ip": "10.0.1.4",
         "ip_forwarding": True}]}],
    "peerings": [],
    "traffic": [],
}
vms = []
for s in range(1, SPOKES + 1):
    scenario["vnets"].append({"name": f"spoke{s}", "address_space": [f"10.{s}.0.0/16"],
                              "subnets": [{"name": "app", "prefix": f"10.{s}.16.0/20",
                                           "route_table": "via-nva"}]})
    scenario["peerings"] += [
        {"name": f"hub-to-spoke{s}", "from": "hub", "to": f"spoke{s}",
         "allow_forwarded_traffic": True},
        {"name": f"spoke{s}-to-hub", "from": f"spoke{s}", "to": "hub",
         "allow_forwarded_traffic": True},
    ]
    for i in range(PER_SPOKE):
        name = f"vm{s}_{i}"
        vms.append((s, name))
        host = i + 4  # Azure reserves the first four addresses of a subnet
        scenario["vms"].append({"name": name, "size": "Standard_D2s_v3", "nics": [
            {"name": f"{name}-nic", "vnet": f"spoke{s}", "subnet": "app",
             "ip": f"10.{s}.{16 + host // 256}.{host % 256}"}]})
for f in range(FLOWS):
    while True:
        a, b = rng.choice(vms), rng.choice(vms)
        if a[0] != b[0]:
            break
    scenario["traffic"].append({"name": f"f{f}", "from": a[1], "to": b[1], "protocol": "udp",
                                "dst_port": 5001, "rate": "10pps", "packet_size": 64,
                                "start": f"{f % 100}ms"})
json.dump(scenario, sys.stdout, indent=1)
