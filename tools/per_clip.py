"""Per-clip tempo / beat / key table (development aid)."""
import json, sys, glob
inputs, preds = sys.argv[1], sys.argv[2]
s = json.load(open(f"{preds}/scores.json"))["per_clip"]
for cid in sorted(s):
    gt = json.load(open(f"{inputs}/gt/{cid}.json")); pr = json.load(open(f"{preds}/{cid}.json"))
    m = s[cid]
    print(f"{cid[7:]:10s} tempo {gt['tempo']:6.1f} est {pr['tempo']:6.1f} acc1 {m.get('tempo_acc1',0):.0f} beatF {m.get('beat_f',0):.2f} dbF {m.get('downbeat_f',0):.2f} | key {gt['key']:9s} est {pr['key']:9s} {m.get('key_weighted',0):.1f}")
