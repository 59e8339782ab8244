# ruff: noqa
# As run to build egynews_crosslingual_pairs.jsonl.gz (scratch paths under /tmp/label-xl; see
# ../README_crosslingual.md). Kept as the record of how the file was made, not a maintained tool.
import gzip
import json
import pickle

DROP = {19, 20, 57, 65, 74}
en = [d for i, d in enumerate(pickle.load(open('/tmp/label-xl/en_sample.pkl', 'rb'))) if i not in DROP]
ar = {d['id']: d for d in pickle.load(open('/tmp/label-xl/reps.pkl', 'rb'))['ar']}
SKIP = {80}  # a sports item that slipped through the keyword buckets
c = json.load(open('/tmp/label-xl/cands.json'))
lab = {}
for line in open('/tmp/label-xl/labels.txt'):
    k, v = line.split(':'); lab[int(k)] = v.split()
M = {'s': 'same', 'n': 'near', 'o': 'other'}
rank = {}
out = []
for o in c:
    k = o['k']
    if k not in lab or k in SKIP: continue
    r = rank.get(k, 0); rank[k] = r + 1
    t = lab[k][r]
    a, b = en[k], ar[o['id_b']]
    out.append({'id_a': a['id'], 'source_a': a['source'], 'timestamp_a': a['timestamp'], 'title_a': a['title'],
                'body_a': a['body'] or '', 'id_b': b['id'], 'source_b': b['source'], 'timestamp_b': b['timestamp'],
                'title_b': b['title'], 'body_b': b['body'] or '', 'label': M[t[0]], 'cosine': round(o['cosine'], 4),
                'doubt': t.endswith('?')})
assert all(len(v) == 5 for v in lab.values()), [k for k, v in lab.items() if len(v) != 5]
with gzip.open('/work/wt-label-xl/benchmarks/data/egynews_crosslingual_pairs.jsonl.gz', 'wt', encoding='utf-8') as f:
    for r in out: f.write(json.dumps(r, ensure_ascii=False) + '\n')
import collections

print(len(out), collections.Counter(r['label'] for r in out), 'doubt', sum(r['doubt'] for r in out),
      'en', len({r['id_a'] for r in out}), 'en with same', len({r['id_a'] for r in out if r['label'] == 'same'}))
