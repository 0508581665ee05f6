#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Prometheus for real: promtool checks the engine's /metrics output and the shipped alerting
# rules; Debian's prometheus scrapes the engine's --metrics listener on loopback with a
# configuration of its own and the shipped rules, and its HTTP API answers `up`,
# podfence_verdicts_total, the verdict latency histogram and the Audit count; every metric the
# Grafana dashboard and the rules use exists in the engine's output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
need_cmd promtool prometheus
setup_web_pod

cat >"$TMP/p.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web, namespace: shop}
spec:
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Reject
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 443}]
---
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: trial, namespace: shop}
spec:
  mode: Audit
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Deny
YAML
load_policies "$TMP/p.yaml" || fail "loading policies"
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
MPORT=$(free_port)
start_engine --metrics "127.0.0.1:$MPORT"
register "$WEB" shop web c-web
expect "$WEB" 10.99.0.1 80 ok
expect "$WEB" 10.99.0.1 443 refused

curl -sf "http://127.0.0.1:$MPORT/metrics" >"$TMP/metrics" || fail "GET /metrics"
promtool check metrics <"$TMP/metrics" >"$TMP/promtool.out" 2>&1 || fail "promtool check metrics: $(cat "$TMP/promtool.out")"
[ ! -s "$TMP/promtool.out" ] || fail "promtool check metrics complains: $(cat "$TMP/promtool.out")"
grep -q '^# TYPE podfence_verdict_duration_seconds histogram$' "$TMP/metrics" || fail "no latency histogram"
count=$(awk '$1 == "podfence_verdict_duration_seconds_count" {print $2}' "$TMP/metrics")
inf=$(awk '$1 == "podfence_verdict_duration_seconds_bucket{le=\"+Inf\"}" {print $2}' "$TMP/metrics")
[ "$count" -ge 2 ] && [ "$count" = "$inf" ] || fail "histogram count $count, +Inf bucket $inf"
grep -q '^podfence_events_total{mode="Audit"} [1-9]' "$TMP/metrics" || fail "no Audit count: $(grep events_total "$TMP/metrics")"
grep -q '^podfence_cache_rules{mode="Audit"} 1$' "$TMP/metrics" && grep -q '^podfence_cache_rules{mode="Enforce"} 1$' "$TMP/metrics" ||
	fail "cache_rules: $(grep cache_rules "$TMP/metrics")"
pass "promtool check metrics passes on /metrics: histogram, Audit counts, rules by mode"

RULES=$top_srcdir/packaging/prometheus/podfence-alerts.yml
promtool check rules "$RULES" >"$TMP/rules.out" 2>&1 || fail "promtool check rules: $(cat "$TMP/rules.out")"
grep -q 'SUCCESS: 5 rules found' "$TMP/rules.out" || fail "rules: $(cat "$TMP/rules.out")"
# Every podfence_ metric the rules and the dashboard name is one the engine serves.
"$PY" - "$TMP/metrics" "$RULES" "$top_srcdir/packaging/prometheus/podfence-dashboard.json" <<'PY' || fail "names"
import json, re, sys
have = {l.split()[2] for l in open(sys.argv[1]) if l.startswith("# TYPE ")}
def names(text):
    out = set()
    for n in re.findall(r"podfence_[a-z_]+", text):
        base = re.sub(r"_(bucket|sum|count)$", "", n)
        out.add(base if base in have else n)
    return out
d = json.load(open(sys.argv[3]))
exprs = " ".join(t["expr"] for p in d["panels"] for t in p["targets"])
used = names(open(sys.argv[2]).read()) | names(exprs)
missing = sorted(used - have)
assert used and not missing, missing
PY
pass "promtool check rules passes; the rules and the dashboard use only metrics the engine serves"

# A real Prometheus, its own configuration, scraping the engine on loopback.
PPORT=$(free_port)
cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [$RULES]
scrape_configs:
- job_name: podfence
  static_configs:
  - targets: ['127.0.0.1:$MPORT']
EOF
promtool check config "$TMP/prometheus.yml" >/dev/null || fail "promtool check config"
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$TMP/prometheus.log" 2>&1 &
PROM_PID=$!
on_exit "kill $PROM_PID; wait $PROM_PID"
API=http://127.0.0.1:$PPORT/api/v1
# query EXPR: the first result's value, or nothing
query() { curl -sf --max-time 5 "$API/query" --data-urlencode "query=$1" |
	"$PY" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null; }
query_is() { [ "$(query "$1")" = "$2" ]; }
wait_for_s() { local end=$((SECONDS + $1)); shift; until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.5; done; }
wait_for_s 60 query_is 'up{job="podfence"}' 1 || fail "prometheus never scraped the engine: $(tail -5 "$TMP/prometheus.log")"
[ "$(query 'podfence_verdicts_total{action="reject"}')" = 1 ] || fail "podfence_verdicts_total{action=reject}: $(query 'podfence_verdicts_total')"
[ "$(query 'sum(podfence_verdicts_total)')" -ge 2 ] || fail "sum of verdicts"
[ -n "$(query 'histogram_quantile(0.99, sum by (le) (podfence_verdict_duration_seconds_bucket))')" ] || fail "latency quantile"
[ "$(query 'podfence_events_total{mode="Audit"}')" -ge 1 ] || fail "Audit count in prometheus"
curl -sf "$API/rules" | "$PY" -c 'import json,sys
g = json.load(sys.stdin)["data"]["groups"]
names = sorted(r["name"] for x in g for r in x["rules"])
assert names == ["PodfenceCacheBuildFailing", "PodfenceEngineDown", "PodfenceEventDrops", "PodfenceQueueDrops", "PodfenceVerdictsSlow"], names
assert all(r["health"] in ("ok", "unknown") for x in g for r in x["rules"]), g' || fail "rules not loaded by prometheus"
pass "prometheus scrapes the engine (up = 1) and answers podfence_verdicts_total, the latency quantile, the Audit count; the shipped rules load"

# The engine stops: the EngineDown expression turns true.
stop_engine
wait_for_s 30 query_is 'up{job="podfence"}' 0 || fail "up did not drop to 0"
pass "with the engine stopped up = 0 (what PodfenceEngineDown fires on)"
