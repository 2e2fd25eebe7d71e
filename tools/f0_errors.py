"""Classify raw-pitch errors of predictions against GT notes (development aid)."""
import json, sys, glob, os, math
import numpy as np
inputs, preds = sys.argv[1], sys.argv[2]
tot = {}
def add(k, v=1):
    tot[k] = tot.get(k, 0) + v
for gtp in sorted(glob.glob(f"{inputs}/gt/*.json")):
    gt = json.load(open(gtp)); cid = gt["id"]
    pp = f"{preds}/{cid}.json"
    if not os.path.exists(pp): continue
    pr = json.load(open(pp))
    times = np.array(pr["f0"]["times"]); hz = np.abs(np.array(pr["f0"]["hz"]))
    notes = sorted(gt["notes"])
    ons = [n[0] for n in notes]
    for i, (on, off, p) in enumerate(notes):
        if i + 1 < len(notes): off = min(off, notes[i+1][0])
        i0, i1 = int(math.ceil(on / 0.01)), int(math.floor(off / 0.01))
        for k in range(i0, i1 + 1):
            t = k * 0.01
            j = int(round(t / (times[1] - times[0])))
            if j >= len(hz): continue
            add("frames")
            h = hz[j]
            if h <= 0: add("nopitch"); continue
            c = 1200 * math.log2(h / (440 * 2 ** ((p - 69) / 12)))
            if abs(c) <= 50: continue
            since = t - on; until = off - t
            pos = "attack<60ms" if since < 0.06 else ("attack<150ms" if since < 0.15 else ("end<50ms" if until < 0.05 else "middle"))
            kind = "octave" if abs(abs(c) - 1200) < 100 or abs(abs(c) - 2400) < 100 else ("fifth" if abs(abs(c) - 700) < 60 or abs(abs(c) - 1900) < 60 else "other")
            add(f"err {pos} {kind}")
            add("err")
for k, v in sorted(tot.items()):
    print(f"{k:30s} {v:7d} {v / tot['frames']:.4f}")
