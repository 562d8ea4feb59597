# %% [markdown]
# # Latency CDF of a replay
#
# A notebook-style example (each `# %%` is a cell in Jupyter or VS Code): load a scenario,
# check one verdict, replay its traffic in simulated time, tabulate each flow's throughput and
# latency percentiles with pandas, and plot the latency CDFs with matplotlib.
#
# Run it as a script: `python python/examples/latency_cdf.py [SCENARIO] [OUT.png]`.

# %%
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")  # a script writes a file; a notebook shows the figure
import matplotlib.pyplot as plt

import vnetsim

repo = Path(__file__).resolve().parents[2]
scenario_file = Path(sys.argv[1]) if len(sys.argv) > 1 else repo / "scenarios/peered-latency.yaml"
out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("latency-cdf.png")

# %%
scn = vnetsim.load(scenario_file)
print(scn)
for vm in scn.vms[:2]:
    print(scn.routes(vm).to_pandas()[["addressPrefix", "nextHopType", "nextHopIpAddress"]])

# %%
report = scn.run(seed=1, latency_cdf=True)
print("expectations held:", report.passed)
print(report.throughput().to_pandas())
print(report.latency("us").to_pandas())

# %%
fig, ax = plt.subplots(figsize=(7, 4))
for flow in report["flows"]:
    points = report.latency_cdf(flow["name"])
    if not points:
        continue
    xs = [0.0] + [x for x, _ in points]
    ys = [0.0] + [f for _, f in points]
    ax.step(xs, ys, where="post", label=flow["name"])
ax.set_xlabel("one-way latency (µs)")
ax.set_ylabel("fraction of packets")
ax.set_title(f"{report['scenario']}: latency CDF (seed {report['seed']})")
ax.set_ylim(0, 1.02)
ax.grid(True, alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(out)
print("wrote", out)
