#!/usr/bin/env bash
# Compares the answers (status, content type, body) of two balena-sandbox binaries to the
# GET requests of requests.txt, on identical databases: scale seeding by OLD, then the
# awkward data of enrich.sql (needs the sqlite3 CLI), copied for each binary.
#
#   sandbox/bench/body-equality.sh OLD-BINARY NEW-BINARY [DEVICES RELEASES]
#
# Exit status 0 when every answer is byte-identical.
set -euo pipefail
old=$(realpath "${1:?OLD binary}")
new=$(realpath "${2:?NEW binary}")
devices=${3:-100000}
releases=${4:-10000}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# Starts BINARY on DB (in the background); sets $url and appends the pid to $pids.
start() {
    local bin=$1 db=$2 out=$2.out
    "$bin" --listen 127.0.0.1:0 --db "$db" --token tok-0123456789abc "${@:3}" >"$out" 2>"$db.err" &
    pids+=($!)
    for _ in $(seq 600); do
        [ "$(wc -l <"$out")" -ge 2 ] && break
        sleep 0.1
    done
    url=$(head -1 "$out")
}

stop_last() {
    local p=${pids[-1]}
    kill "$p"
    wait "$p" 2>/dev/null || true
    unset 'pids[-1]'
}

mkdir -p "$work/seed" "$work/old" "$work/new"
start "$old" "$work/seed/db.sqlite" --devices "$devices" --releases "$releases"
stop_last
sqlite3 "$work/seed/db.sqlite" <"$here/enrich.sql"
for side in old new; do
    cp "$work/seed/db.sqlite" "$work/$side/db.sqlite"
done

fetch() { # $1 = side
    local n=0 tok path auth
    while read -r tok path; do
        case "$tok" in '' | '#'*) continue ;; esac
        n=$((n + 1))
        case "$tok" in
            admin) auth=(-H "Authorization: Bearer tok-0123456789abc") ;;
            bob) auth=(-H "Authorization: Bearer bob-key-0123456789") ;;
            mallory) auth=(-H "Authorization: Bearer mallory-key-0123456789") ;;
            *) auth=() ;;
        esac
        curl -s "${auth[@]}" -o "$work/$1/$n.body" \
            -w '%{http_code} %{content_type}\n' "$url$path" >"$work/$1/$n.head"
        printf '%s %s\n' "$tok" "$path" >"$work/$1/$n.req"
    done <"$here/requests.txt"
    echo "$n"
}

start "$old" "$work/old/db.sqlite"
count=$(fetch old)
stop_last
start "$new" "$work/new/db.sqlite"
fetch new >/dev/null
stop_last

fail=0
for i in $(seq "$count"); do
    if ! cmp -s "$work/old/$i.head" "$work/new/$i.head" || ! cmp -s "$work/old/$i.body" "$work/new/$i.body"; then
        fail=1
        echo "DIFFERS: $(cat "$work/old/$i.req")"
        echo "  old: $(cat "$work/old/$i.head") $(head -c 300 "$work/old/$i.body")"
        echo "  new: $(cat "$work/new/$i.head") $(head -c 300 "$work/new/$i.body")"
    fi
done
bytes=$(cat "$work"/old/*.body | wc -c)
statuses=$(cat "$work"/old/*.head | cut -d' ' -f1 | sort | uniq -c | tr -s ' \n' ' ')
if [ "$fail" = 0 ]; then
    echo "all $count answers identical ($bytes body bytes; statuses:$statuses)"
fi
exit "$fail"
