# ruff: noqa
# As run to build egynews_crosslingual_pairs.jsonl.gz (scratch paths under /tmp/label-xl; see
# ../README_crosslingual.md). Kept as the record of how the file was made, not a maintained tool.
import collections
import gzip
import json
import pickle
import re
import time

from clustering import Deduplicator

AR = re.compile('[\u0600-\u06FF]'); LAT = re.compile('[A-Za-z]')
def lang(d):
    s = (d['title'] or '') + ' ' + (d['body'] or '')[:400]
    a, l = len(AR.findall(s)), len(LAT.findall(s))
    return 'ar' if a > l else 'en'
rows = [json.loads(l) for l in gzip.open('/work/shared/data/egynews2013/egynews2013_2013-02-01_to_02-14.jsonl.gz', 'rt')]
rows = [d for d in rows if '2013-02-03' <= d['timestamp'][:10] <= '2013-02-14' and (d['title'] or '').strip()]
for d in rows: d['lang'] = lang(d)
out = {}
for L in ('en', 'ar'):
    side = [d for d in rows if d['lang'] == L]
    t = time.time()
    dd = Deduplicator()
    feed = [{'id': d['id'], 'title': d['title'], 'text': d['body'] or '', 'source': d['source'],
             'published': d['timestamp'].replace(' ', 'T') + 'Z'} for d in side]
    lab = dd.fit_predict(feed)
    reps = set(dd.representatives_.values())
    byid = {d['id']: d for d in side}
    keep = [byid[i] for i in reps if i in byid]
    sizes = collections.Counter(lab.tolist())
    for d, l in zip(side, lab.tolist()):
        d['group'] = l; d['group_size'] = sizes[l]
    print(L, len(side), 'groups', len(reps), 'kept', len(keep), round(time.time() - t, 1), 's', flush=True)
    out[L] = keep
pickle.dump(out, open('/tmp/label-xl/reps.pkl', 'wb'))
