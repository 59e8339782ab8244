# ruff: noqa
# As run to build egynews_crosslingual_pairs.jsonl.gz (scratch paths under /tmp/label-xl; see
# ../README_crosslingual.md). Kept as the record of how the file was made, not a maintained tool.
import pickle
import time

import numpy as np

from clustering.embed import Embedder

r = pickle.load(open('/tmp/label-xl/reps.pkl', 'rb'))['ar']
r = [d for d in r if d['category'] != 'articles']  # opinion columns
e = Embedder(backend='onnx-int8')
for day in sorted({d['timestamp'][:10] for d in r}):
    xs = [d for d in r if d['timestamp'][:10] == day]
    t = time.time()
    v = e.encode_articles([d['title'] for d in xs], [d['body'] or '' for d in xs])
    np.savez(f'/tmp/label-xl/ar_{day}.npz', ids=np.array([d['id'] for d in xs]), v=v)
    print(day, len(xs), round(time.time() - t), flush=True)
