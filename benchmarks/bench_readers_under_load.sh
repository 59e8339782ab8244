#!/usr/bin/env bash
# Readers (export, stories; new processes) while a writer runs a large input: every reader must
# exit 0 with the last committed state. PY=.venv/bin/python INPUT=... OUT=... bash this.sh
set -u
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=$PWD
PY=${PY:-python}
D=${OUT:-/tmp/readers-under-load}; mkdir -p "$D"; rm -f "$D"/n.duckdb "$D"/n.duckdb.*
$PY -m clustering.cli run data/seed-page/similar_articles_page_ar.txt --db $D/n.duckdb --stories none > /dev/null 2>&1
T0=$(date +%s.%N)
$PY -m clustering.cli run ${INPUT:-../shared/data/egynews2013/egynews2013_2013-02-01_to_02-14.jsonl.gz} --db $D/n.duckdb --stories none > $D/writer.txt 2>&1 &
W=$!
sleep 5
while kill -0 $W 2>/dev/null; do
  s=$(date +%s.%N); n=$($PY -m clustering.cli export --db $D/n.duckdb --format jsonl 2>$D/err.txt | wc -l); rc=${PIPESTATUS[0]}
  $PY -m clustering.cli stories --db $D/n.duckdb > /dev/null 2>>$D/err.txt; rc2=$?
  e=$(date +%s.%N); echo "t=$(echo "$s - $T0" | bc) export_rows=$n export_rc=$rc stories_rc=$rc2 reader_s=$(echo "$e - $s" | bc) writer_alive=$(kill -0 $W 2>/dev/null && echo y || echo n)"
done
wait $W; echo "writer rc=$? wall=$(echo "$(date +%s.%N) - $T0" | bc)"
cat $D/err.txt | sort | uniq -c | head
ls -la $D
