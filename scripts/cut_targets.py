"""Write calibration/retune_check/targets_2015_2017.yaml: the committed targets cut as
Targets.through(2017) cuts them (yearly points to 2017, moments and bounds ending later dropped)."""
from pathlib import Path
import yaml

src = Path("calibration/targets.yaml")
data = yaml.safe_load(src.read_text())
out = {k: v for k, v in data.items() if k != "series"}
out["data"] = "../data/" + Path(data["data"]).name
series = {}
for name, s in data["series"].items():
    if "mean_over" in s:
        if s["mean_over"][1] > 2017:
            continue
    else:
        s = dict(s, years=[y for y in s["years"] if y <= 2017])
        if not s["years"]:
            continue
    if "data" in s:
        s["data"] = "../data/" + Path(s["data"]).name
    series[name] = s
out["series"] = series
head = (
    "# The committed targets (calibration/targets.yaml) cut to 2015-2017 as Targets.through(2017)\n"
    "# cuts them: the targets of the rolling-origin fit. `pilotsim calibrate --retune` of this\n"
    "# file from the 2015-2019 run bank, against the rolling-origin ABC fit on the same\n"
    "# targets (calibration/rolling_origin/posterior.csv), is the retune's check against a\n"
    "# full refit (calibration/retune_check/report.md). Written by scripts/cut_targets.py.\n"
)
Path("calibration/retune_check/targets_2015_2017.yaml").write_text(head + yaml.safe_dump(out, sort_keys=False, width=88))
