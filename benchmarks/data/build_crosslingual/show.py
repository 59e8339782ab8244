# ruff: noqa
# As run to build egynews_crosslingual_pairs.jsonl.gz (scratch paths under /tmp/label-xl; see
# ../README_crosslingual.md). Kept as the record of how the file was made, not a maintained tool.
import json
import pickle
import sys

DROP = {19, 20, 57, 65, 74}
en = [d for i, d in enumerate(pickle.load(open('/tmp/label-xl/en_sample.pkl', 'rb'))) if i not in DROP]
ar = {d['id']: d for d in pickle.load(open('/tmp/label-xl/reps.pkl', 'rb'))['ar']}
c = json.load(open('/tmp/label-xl/cands.json'))
lo, hi = int(sys.argv[1]), int(sys.argv[2])
cl = lambda s, n: ' '.join((s or '').split())[:n]
last = None
for o in c:
    if not lo <= o['k'] < hi: continue
    if o['k'] != last:
        d = en[o['k']]; last = o['k']
        print(f"\n## E{o['k']} {d['timestamp'][:16]} {cl(d['title'],120)} || {cl(d['body'],200)}")
    b = ar[o['id_b']]
    print(f"  {o['k']}.{o['id_b']} c={o['cosine']:.3f} {b['timestamp'][5:16]} {b['source'][:8]}: {cl(b['title'],110)} || {cl(b['body'],130)}")
