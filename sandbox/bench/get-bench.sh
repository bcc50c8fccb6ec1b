#!/usr/bin/env bash
# Times the sandbox's heavy GET requests with curl (median of N runs, seconds), against a
# running sandbox seeded with `--devices 100000 --releases 10000` (fleet `admin/scale-fleet`,
# id 1).
#
#   sandbox/bench/get-bench.sh URL TOKEN [N]
set -euo pipefail
url=${1:?URL}
token=${2:?TOKEN}
n=${3:-10}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

time_get() {
    local label=$1 path=$2
    curl -sf -o /dev/null -H "Authorization: Bearer $token" "$url$path" # warm-up
    local size
    size=$(curl -s -H "Authorization: Bearer $token" "$url$path" | wc -c)
    local m
    m=$(for _ in $(seq "$n"); do
        curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "$url$path"
    done | median)
    printf '%-34s %10s s %10s bytes\n' "$label" "$m" "$size"
}

app='/v7/application?$select=id,slug&$filter=slug%20eq%20%27admin%2Fscale-fleet%27&$expand=owns__release($expand=release_tag($select=tag_key,value);$orderby=created_at%20desc)'
time_get "application+10k releases" "$app"

keyset() { # $1 = device_name, $2 = id of the last device of the previous page
    printf '%s' "/v7/device?\$select=id,uuid,device_name,status,is_online,supervisor_version,os_version&\$filter=(belongs_to__application%20eq%201)%20and%20(device_name%20ge%20%27$1%27)%20and%20((device_name%20gt%20%27$1%27)%20or%20(id%20gt%20$2))&\$expand=is_of__device_type(\$select=slug),is_running__release(\$select=id,commit,raw_version),should_be_running__release(\$select=id,commit,raw_version),is_pinned_on__release(\$select=id)&\$orderby=device_name%20asc,id%20asc&\$top=1000"
}
time_get "keyset page at scale-device-1 (start)" "$(keyset scale-device-1 2)"
time_get "keyset page at scale-device-5" "$(keyset scale-device-5 6)"
time_get "keyset page at scale-device-99 (end)" "$(keyset scale-device-99 100)"

bulk() { # $1 = K
    printf '%s' "/v7/device?\$select=id,uuid,device_name&\$filter=(belongs_to__application%20eq%201)%20and%20(id%20gt%20$1)&\$expand=is_pinned_on__release(\$select=id,commit,raw_version)&\$orderby=id%20asc&\$top=1000"
}
time_get "bulk page id gt 0" "$(bulk 0)"
time_get "bulk page id gt 98000" "$(bulk 98000)"
time_get "count fleet devices" '/v7/device/$count?$filter=belongs_to__application%20eq%201'
time_get "count keyset filter" "/v7/device/\$count?\$filter=(belongs_to__application%20eq%201)%20and%20(device_name%20ge%20%27scale-device-5%27)%20and%20((device_name%20gt%20%27scale-device-5%27)%20or%20(id%20gt%206))"
