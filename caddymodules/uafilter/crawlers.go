package uafilter

import "sort"

// crawler is a well-known crawler whose User-Agent claim can be checked
// against the client's address. A request whose User-Agent contains one of
// its tokens (as a whole word) claims to be it; with verify_bots the claim
// holds only if the address is in one of its published ranges (range
// files the operator configures, see rangesURLs) or its forward-confirmed
// reverse DNS name ends in one of rdns.
type crawler struct {
	name       string   // metric label and configuration name
	tokens     []string // User-Agent product tokens
	category   string
	rdns       []string // documented reverse-DNS suffixes; none: not documented
	rangesURLs []string // documented range files, in the JSON format below
	doc        string   // the operator's documentation of its verification
}

// crawlers is the built-in table, sorted by name. Every entry cites the
// operator's documentation of the token and of the verification method.
//
// Range files are the {"creationTime": ..., "prefixes": [{"ipv4Prefix":
// ...}, {"ipv6Prefix": ...}]} files Google, Bing, OpenAI and others
// publish; Caddy never fetches them (deploy/caddy-bot-ranges.sh does).
var crawlers = []crawler{
	{
		// https://support.apple.com/en-us/119829
		name: "applebot", tokens: []string{"Applebot"}, category: catSearch,
		rdns:       []string{"applebot.apple.com"},
		rangesURLs: []string{"https://search.developer.apple.com/applebot.json"},
		doc:        "https://support.apple.com/en-us/119829",
	},
	{
		// https://www.baidu.com/search/spider_english.html ("The hostname
		// of Baiduspider is *.baidu.com or *.baidu.jp").
		name: "baiduspider", tokens: []string{"Baiduspider"}, category: catSearch,
		rdns: []string{"baidu.com", "baidu.jp"},
		doc:  "https://www.baidu.com/search/spider_english.html",
	},
	{
		// https://www.bing.com/webmasters/help/how-to-verify-bingbot-3905dc26
		name: "bingbot", tokens: []string{"bingbot"}, category: catSearch,
		rdns:       []string{"search.msn.com"},
		rangesURLs: []string{"https://www.bing.com/toolbox/bingbot.json"},
		doc:        "https://www.bing.com/webmasters/help/how-to-verify-bingbot-3905dc26",
	},
	{
		// https://commoncrawl.org/ccbot (ranges and reverse DNS).
		name: "ccbot", tokens: []string{"CCBot"}, category: catAITraining,
		rdns:       []string{"crawl.commoncrawl.org"},
		rangesURLs: []string{"https://index.commoncrawl.org/ccbot.json"},
		doc:        "https://commoncrawl.org/ccbot",
	},
	{
		// https://platform.openai.com/docs/bots (ranges only).
		name: "chatgpt-user", tokens: []string{"ChatGPT-User"}, category: catAIUser,
		rangesURLs: []string{"https://openai.com/chatgpt-user.json"},
		doc:        "https://platform.openai.com/docs/bots",
	},
	{
		// Anthropic documents the token but neither ranges nor reverse
		// DNS: verified only with operator-supplied ranges or rdns.
		name: "claudebot", tokens: []string{"ClaudeBot"}, category: catAITraining,
		doc: anthropicDoc,
	},
	{
		// https://duckduckgo.com/duckduckgo-help-pages/results/duckduckbot
		// (ranges only).
		name: "duckduckbot", tokens: []string{"DuckDuckBot"}, category: catSearch,
		rangesURLs: []string{"https://duckduckgo.com/duckduckbot.json"},
		doc:        "https://duckduckgo.com/duckduckgo-help-pages/results/duckduckbot",
	},
	{
		// https://developers.google.com/search/docs/crawling-indexing/verifying-googlebot
		// "Googlebot" also covers Googlebot-Image, -News and -Video (the
		// hyphen ends the word); all crawl from googlebot.json.
		name: "googlebot", tokens: []string{"Googlebot"}, category: catSearch,
		rdns:       []string{"googlebot.com", "google.com"},
		rangesURLs: []string{"https://developers.google.com/static/search/apis/ipranges/googlebot.json"},
		doc:        "https://developers.google.com/search/docs/crawling-indexing/verifying-googlebot",
	},
	{
		// https://platform.openai.com/docs/bots (ranges only).
		name: "gptbot", tokens: []string{"GPTBot"}, category: catAITraining,
		rangesURLs: []string{"https://openai.com/gptbot.json"},
		doc:        "https://platform.openai.com/docs/bots",
	},
	{
		// https://platform.openai.com/docs/bots (ranges only).
		name: "oai-searchbot", tokens: []string{"OAI-SearchBot"}, category: catAISearch,
		rangesURLs: []string{"https://openai.com/searchbot.json"},
		doc:        "https://platform.openai.com/docs/bots",
	},
	{
		// https://docs.perplexity.ai/guides/bots (ranges only).
		name: "perplexity-user", tokens: []string{"Perplexity-User"}, category: catAIUser,
		rangesURLs: []string{"https://www.perplexity.com/perplexity-user.json"},
		doc:        "https://docs.perplexity.ai/guides/bots",
	},
	{
		// https://docs.perplexity.ai/guides/bots (ranges only).
		name: "perplexitybot", tokens: []string{"PerplexityBot"}, category: catAISearch,
		rangesURLs: []string{"https://www.perplexity.com/perplexitybot.json"},
		doc:        "https://docs.perplexity.ai/guides/bots",
	},
	{
		// https://yandex.com/support/webmaster/robot-workings/check-yandex-robots.html
		name: "yandexbot", tokens: []string{"YandexBot"}, category: catSearch,
		rdns: []string{"yandex.ru", "yandex.net", "yandex.com"},
		doc:  "https://yandex.com/support/webmaster/robot-workings/check-yandex-robots.html",
	},
}

// crawlerIndex returns the index of the named crawler, or -1.
func crawlerIndex(name string) int {
	i := sort.Search(len(crawlers), func(i int) bool { return crawlers[i].name >= name })
	if i < len(crawlers) && crawlers[i].name == name {
		return i
	}
	return -1
}

// crawlerNames returns the names of the table, sorted.
func crawlerNames() []string {
	names := make([]string, len(crawlers))
	for i, c := range crawlers {
		names[i] = c.name
	}
	return names
}
