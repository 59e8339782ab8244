# ruff: noqa
# As run to build egynews_crosslingual_pairs.jsonl.gz (scratch paths under /tmp/label-xl; see
# ../README_crosslingual.md). Kept as the record of how the file was made, not a maintained tool.
import pickle
import random
import re

r = pickle.load(open('/tmp/label-xl/reps.pkl', 'rb'))['en']
r = [d for d in r if '2013-02-03' <= d['timestamp'][:10] <= '2013-02-13' and len(d['body'] or '') > 150]
def has(d, words):
    s = (d['title'] + ' ' + (d['body'] or '')[:300]).lower()
    return any(re.search(r'\b' + w + r'\b', s) for w in words)
SPORT = 'league|cup|match|coach|football|soccer|tennis|scorers|zamalek|ahly|striker|fifa|midfielder|goal|goalkeeper|goalie|champions|olympic|squash|handball|basketball|nations cup|pharaohs|friendly|player|players|club|derby|rally|racing|golf|boxing|athletics'.split('|')
ARTS = 'film|films|actor|actress|opera|art|arts|music|musician|festival|book|novel|cinema|theatre|theater|concert|exhibition|singer|album|series|poet|poetry|dance|museum'.split('|')
OPIN = 'opinion|column|op-ed|i think|analysis:|commentary'.split('|')
ECON = 'economy|economic|bank|imf|pound|stocks|stock|profit|gdp|bourse|oil|investment|investor|loan|budget|inflation|tourism|market|markets|trade|exports|prices|fuel|shares|egx30|currency|deficit|debt|revenue'.split('|')
EGY = 'egypt|egyptian|cairo|morsi|brotherhood|alexandria|port said|salafist|nour|tahrir|sinai|giza|suez|fjp|nsf|mubarak'.split('|')
def bucket(d):
    if has(d, SPORT): return 'sport'
    if has(d, ARTS): return 'arts'
    if has(d, OPIN): return 'opinion'
    if has(d, ECON): return 'economy'
    if has(d, EGY): return 'egypt'
    return 'world'
random.seed(7)
picked = []
quota = {'egypt': 5, 'economy': 2, 'world': 4}
for day in sorted({d['timestamp'][:10] for d in r}):
    for b, q in quota.items():
        xs = [d for d in r if d['timestamp'][:10] == day and bucket(d) == b]
        picked += [dict(d, bucket=b) for d in random.sample(xs, min(q, len(xs)))]
print(len(picked))
for i, d in enumerate(picked):
    print(i, d['timestamp'][:10], d['bucket'], d['source'], '|', d['title'][:100])
pickle.dump(picked, open('/tmp/label-xl/en_sample.pkl', 'wb'))
