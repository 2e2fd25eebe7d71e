"""Onset timing and miss analysis of predicted notes vs GT (development aid)."""
import json, sys, glob, os
import numpy as np
inputs, preds = sys.argv[1], sys.argv[2]
subset = sys.argv[3] if len(sys.argv) > 3 else ""
diffs = []; miss_far = 0; miss_pitch = 0; n_gt = 0; extra = 0; n_est = 0; repeated_miss = 0
for gtp in sorted(glob.glob(f"{inputs}/gt/*{subset}*.json")):
    gt = json.load(open(gtp)); pp = f"{preds}/{gt['id']}.json"
    if not os.path.exists(pp): continue
    est = json.load(open(pp))["notes"]; ref = sorted(gt["notes"])
    eo = np.array([e[0] for e in est]); n_gt += len(ref); n_est += len(est)
    used = set()
    for i, (on, off, p) in enumerate(ref):
        if len(eo) == 0: miss_far += 1; continue
        j = int(np.argmin(np.abs(eo - on))); d = eo[j] - on
        if abs(d) <= 0.15: diffs.append(d)
        if abs(d) > 0.05:
            miss_far += 1
            if i > 0 and ref[i-1][2] == p and abs(ref[i-1][1] - on) < 0.05: repeated_miss += 1
        elif abs(est[j][2] - p) > 0.5: miss_pitch += 1
        else: used.add(j)
    extra += len(est) - len(used)
d = np.array(diffs) * 1000
print(f"gt {n_gt} est {n_est} | miss: far {miss_far} (repeated-pitch legato {repeated_miss}), wrong pitch {miss_pitch} | unmatched est {extra}")
print("onset diff ms (est-gt, |d|<=150): median %.1f  p10 %.1f  p90 %.1f" % (np.median(d), np.percentile(d, 10), np.percentile(d, 90)))
h, e = np.histogram(d, bins=np.arange(-150, 160, 10))
for a, c in zip(e, h): print(f"{a:5.0f} {'#' * (c // 10)} {c}")
