#!/bin/sh
# Downloads the IP range files that crawler operators publish, for
# uafilter's verify_bots (caddymodules/uafilter/README.md, "Verified
# crawlers"), into $BOT_RANGES_DIR (default /var/lib/caddy/bots) as
# <crawler>.json, and replaces each one atomically: the download goes to a
# temporary file in the same directory, is checked, and is renamed over the
# old file, which Caddy then reloads. A failed or invalid download keeps the
# old file and makes the run fail. Run daily by caddy-bot-ranges.timer.
set -eu
dir=${BOT_RANGES_DIR:-/var/lib/caddy/bots}
mkdir -p "$dir"

# is_range_file FILE: a JSON range file with at least one prefix, not an
# error page.
is_range_file() {
	head -c 1 "$1" | grep -q '{' &&
		grep -q '"prefixes"' "$1" &&
		grep -Eq '"ipv[46]Prefix"[[:space:]]*:[[:space:]]*"[0-9a-fA-F:.]+/[0-9]+"' "$1"
}

status=0
# crawler name (as in uafilter's table) and the operator's URL.
while read -r name url; do
	tmp=$(mktemp "$dir/.$name.json.XXXXXX")
	if curl --fail --silent --show-error --location --proto '=https' \
		--max-time 60 --retry 3 --output "$tmp" "$url" && is_range_file "$tmp"; then
		chmod 0644 "$tmp"
		mv -f "$tmp" "$dir/$name.json"
		echo "caddy-bot-ranges: $name: updated from $url"
	else
		echo "caddy-bot-ranges: $name: $url failed or is not a range file; keeping $dir/$name.json" >&2
		rm -f "$tmp"
		status=1
	fi
done <<'LIST'
applebot https://search.developer.apple.com/applebot.json
bingbot https://www.bing.com/toolbox/bingbot.json
ccbot https://index.commoncrawl.org/ccbot.json
chatgpt-user https://openai.com/chatgpt-user.json
duckduckbot https://duckduckgo.com/duckduckbot.json
googlebot https://developers.google.com/static/search/apis/ipranges/googlebot.json
gptbot https://openai.com/gptbot.json
oai-searchbot https://openai.com/searchbot.json
perplexity-user https://www.perplexity.com/perplexity-user.json
perplexitybot https://www.perplexity.com/perplexitybot.json
LIST
exit $status
