# ruff: noqa
# As run to build egynews_crosslingual_pairs.jsonl.gz (scratch paths under /tmp/label-xl; see
# ../README_crosslingual.md). Kept as the record of how the file was made, not a maintained tool.
"""Top-5 Arabic candidates (same day or next) for each sampled English article."""
import datetime
import json
import os
import pickle

import numpy as np

from clustering.embed import Embedder

DROP = {19, 20, 57, 65, 74}  # opinion/feature/sport items caught on reading the list
en = [d for i, d in enumerate(pickle.load(open('/tmp/label-xl/en_sample.pkl', 'rb'))) if i not in DROP]
ar = {d['id']: d for d in pickle.load(open('/tmp/label-xl/reps.pkl', 'rb'))['ar']}
if os.path.exists('/tmp/label-xl/en_vec.npy'):
    ev = np.load('/tmp/label-xl/en_vec.npy')
else:
    ev = Embedder(backend='onnx-int8').encode_articles([d['title'] for d in en], [d['body'] or '' for d in en])
    np.save('/tmp/label-xl/en_vec.npy', ev)
def load(day):
    p = f'/tmp/label-xl/ar_{day}.npz'
    if not os.path.exists(p): return None
    z = np.load(p); return list(z['ids']), z['v']
out = []
for k, d in enumerate(en):
    day = d['timestamp'][:10]
    nxt = (datetime.date.fromisoformat(day) + datetime.timedelta(days=1)).isoformat()
    a, b = load(day), load(nxt)
    if a is None or b is None: continue
    ids = a[0] + b[0]; V = np.vstack([a[1], b[1]])
    c = V @ ev[k]
    for j in np.argsort(-c)[:5]:
        out.append({'k': k, 'id_a': d['id'], 'id_b': ids[j], 'cosine': float(c[j])})
json.dump(out, open('/tmp/label-xl/cands.json', 'w'))
print(len(out), 'pairs for', len({o['k'] for o in out}), 'English articles')
