# benchmarks/lib/warm-launcher.sh: warm_launcher COWHERD DIR (source it after wait.sh; bash 5).
# The launcher cli/cowherd gives `seed` and `fetch` a class-data archive: a command's first run
# lists the classes it loads and the next one dumps the archive (about 1.6 s) before it starts
# (docs/distribution.md). A benchmark measures hosts that have run cowherd before, so no measured
# run may list or dump: this runs a seed and a `fetch --serve --seed-after` of a small bundle on
# loopback twice (their archives then exist; when they already did, two short runs), in DIR.
warm_launcher() {
  local c=$1 dir=$2 port k seed fetch
  rm -rf "$dir"; mkdir -p "$dir"
  head -c $((4 << 20)) /dev/urandom > "$dir/disk.raw"
  "$c" bundle create --into "$dir/b/warm" -f raw "$dir/disk.raw" > /dev/null || return 1
  port=$((20000 + RANDOM % 20000))
  for k in 1 2; do
    "$c" seed "$dir/b/warm" --embedded-tracker "127.0.0.1:$port" --bind 127.0.0.1 --torrent "$dir/warm.torrent" \
      --initial-seeding > "$dir/seed$k.out" 2>&1 & seed=$!
    wait_for_line "$dir/seed$k.out" 'seeding *' "$seed" || { echo "warm_launcher: the seed did not start:" >&2; cat "$dir/seed$k.out" >&2; return 1; }
    rm -rf "$dir/f"
    "$c" fetch "$dir/warm.torrent" --into "$dir/f" --bind 127.0.0.2 --serve --seed-after > "$dir/fetch$k.out" 2>&1 & fetch=$!
    wait_for_line "$dir/fetch$k.out" 'fetched *' "$fetch" || { echo "warm_launcher: the fetch failed:" >&2; cat "$dir/fetch$k.out" >&2; return 1; }
    kill "$fetch" "$seed"; wait "$fetch" "$seed" 2>/dev/null || true
  done
  rm -rf "$dir"
}
