"""Categorise predicted notes that match no GT note (development aid)."""
import json, sys, glob, os
import numpy as np
inputs, preds, subset = sys.argv[1], sys.argv[2], sys.argv[3]
cats = {}
def add(k): cats[k] = cats.get(k, 0) + 1
for gtp in sorted(glob.glob(f"{inputs}/gt/*{subset}*.json")):
    gt = json.load(open(gtp)); pp = f"{preds}/{gt['id']}.json"
    if not os.path.exists(pp): continue
    est = json.load(open(pp))["notes"]; ref = sorted(gt["notes"])
    ro = np.array([r[0] for r in ref])
    for e in est:
        j = int(np.argmin(np.abs(ro - e[0])))
        if abs(ro[j] - e[0]) <= 0.05 and abs(ref[j][2] - e[2]) <= 0.5: continue
        dur = e[1] - e[0]
        # GT note sounding at the est onset
        inside = [r for r in ref if r[0] - 0.05 <= e[0] < r[1]]
        prev = [r for r in ref if r[0] < e[0]]
        if inside:
            r = inside[-1]
            if abs(r[2] - e[2]) < 0.5: kind = "split-of-same-pitch"
            elif prev and len(prev) >= 2 and abs(prev[-2][2] - e[2]) < 0.5: kind = "prev-note-pitch"
            elif abs(abs(r[2] - e[2]) - 12) < 0.5: kind = "octave"
            else: kind = "other-pitch"
        else:
            kind = "in-rest" + ("(tail of prev pitch)" if prev and abs(prev[-1][2] - e[2]) < 0.5 else "")
        add(f"{kind} {'<100ms' if dur < 0.1 else '>=100ms'}")
for k, v in sorted(cats.items(), key=lambda kv: -kv[1]): print(f"{v:5d} {k}")
