package uafilter

import "sort"

// A preset is a built-in, curated list of User-Agent product tokens, one
// per category of client: each entry belongs to exactly one preset, whose
// name is its category. Entries are tokens as their operators document them
// (see the source next to each entry); they are chosen so that no current
// browser User-Agent contains any of them (see presets_test.go). Ordinary
// search-engine crawlers (Googlebot, Bingbot, ...) are deliberately in no
// preset.
type preset struct {
	description string
	entries     []presetEntry
}

type presetEntry struct {
	pattern string
	source  string
}

// Categories of clients. The preset names are the categories, except
// "search" (ordinary search-engine crawlers, which no preset blocks).
const (
	catScanners   = "scanners"
	catAITraining = "ai_training"
	catAISearch   = "ai_search"
	catAIUser     = "ai_user"
	catSEO        = "seo"
	catSearch     = "search"
)

// presetAliases are preset names that stand for several categories.
// ai_crawlers predates the split of AI clients into three categories.
var presetAliases = map[string][]string{
	"ai_crawlers": {catAITraining, catAISearch, catAIUser},
}

// presetCategories returns the categories a preset name stands for, or
// false.
func presetCategories(name string) ([]string, bool) {
	if cats, ok := presetAliases[name]; ok {
		return cats, true
	}
	if _, ok := presets[name]; ok {
		return []string{name}, true
	}
	return nil, false
}

const anthropicDoc = "https://support.claude.com/en/articles/8896518-does-anthropic-crawl-data-from-the-web-and-how-can-site-owners-block-the-crawler"

// presets maps categories to their entries.
var presets = map[string]preset{
	catAITraining: {
		description: "Crawlers that collect content to train AI models, or to build the data sets they are trained on.",
		entries: []presetEntry{
			{"GPTBot", "https://platform.openai.com/docs/bots"},
			{"CCBot", "https://commoncrawl.org/ccbot"},
			{"ClaudeBot", anthropicDoc},
			// An older Anthropic token, as listed by ai.robots.txt.
			{"anthropic-ai", "https://github.com/ai-robots-txt/ai.robots.txt"},
			// ByteDance (no official documentation).
			{"Bytespider", "https://github.com/ai-robots-txt/ai.robots.txt"},
			// Google-Extended and Applebot-Extended are robots.txt product
			// tokens; Google and Apple crawl with Googlebot and Applebot, so
			// these two only match clients that send the token itself.
			{"Google-Extended", "https://developers.google.com/search/docs/crawling-indexing/google-common-crawlers#google-extended"},
			{"Applebot-Extended", "https://support.apple.com/en-us/119829"},
			{"meta-externalagent", "https://developers.facebook.com/docs/sharing/webmasters/web-crawlers"},
			{"FacebookBot", "https://developers.facebook.com/docs/sharing/bot/"},
			{"Amazonbot", "https://developer.amazon.com/amazonbot"},
			{"Diffbot", "https://www.diffbot.com/"},
			{"ImagesiftBot", "https://imagesift.com/about"},
			{"cohere-training-data-crawler", "https://github.com/ai-robots-txt/ai.robots.txt"},
			{"Timpibot", "https://timpi.io/"},
			{"AI2Bot", "https://allenai.org/crawler"},
			// Webz.io (Omgili) sells its crawl as training data.
			{"omgilibot", "https://webz.io/bot.html"},
		},
	},
	catAISearch: {
		description: "Crawlers that index content for AI search engines and AI answers.",
		entries: []presetEntry{
			{"OAI-SearchBot", "https://platform.openai.com/docs/bots"},
			{"Claude-SearchBot", anthropicDoc},
			{"PerplexityBot", "https://docs.perplexity.ai/guides/bots"},
			{"YouBot", "https://about.you.com/youbot/"},
			{"DuckAssistBot", "https://duckduckgo.com/duckduckgo-help-pages/results/duckassistbot"},
		},
	},
	catAIUser: {
		description: "Fetchers that AI assistants send when a user asks them to read a page.",
		entries: []presetEntry{
			{"ChatGPT-User", "https://platform.openai.com/docs/bots"},
			{"Claude-User", anthropicDoc},
			// An older Anthropic token, as listed by ai.robots.txt.
			{"Claude-Web", "https://github.com/ai-robots-txt/ai.robots.txt"},
			{"Perplexity-User", "https://docs.perplexity.ai/guides/bots"},
			{"MistralAI-User", "https://docs.mistral.ai/robots"},
			{"meta-externalfetcher", "https://developers.facebook.com/docs/sharing/webmasters/web-crawlers"},
			{"cohere-ai", "https://github.com/ai-robots-txt/ai.robots.txt"},
		},
	},
	catSEO: {
		description: "Crawlers of SEO and backlink tools.",
		entries: []presetEntry{
			{"AhrefsBot", "https://ahrefs.com/robot"},
			{"SemrushBot", "https://www.semrush.com/bot/"},
			{"MJ12bot", "https://mj12bot.com/"},
			{"DotBot", "https://moz.com/help/moz-procedures/crawlers/dotbot"},
			{"rogerbot", "https://moz.com/help/moz-procedures/crawlers/rogerbot"},
			{"BLEXBot", "https://webmeup-crawler.com/"},
			{"DataForSeoBot", "https://dataforseo.com/dataforseo-bot"},
			{"serpstatbot", "https://serpstatbot.com/"},
		},
	},
	"scanners": {
		description: "Port, vulnerability, content-discovery and injection scanners.",
		entries: []presetEntry{
			// Most entries follow the OWASP Core Rule Set's curated
			// scanners-user-agents.data (rule 913100):
			// https://github.com/coreruleset/coreruleset/blob/main/rules/scanners-user-agents.data
			{"zgrab", "https://github.com/zmap/zgrab2"},
			{"masscan", "https://github.com/robertdavidgraham/masscan"},
			{"Nuclei", "https://github.com/projectdiscovery/nuclei"},
			// Matches projectdiscovery/httpx and python-httpx clients.
			{"httpx", "https://github.com/projectdiscovery/httpx"},
			{"Nmap Scripting Engine", "https://nmap.org/book/nse.html"},
			{"sqlmap", "https://sqlmap.org/"},
			{"Nikto", "https://github.com/sullo/nikto"},
			{"WPScan", "https://wpscan.com/"},
			{"DirBuster", "https://owasp.org/www-project-dirbuster/"},
			{"gobuster", "https://github.com/OJ/gobuster"},
			// ffuf sends "Fuzz Faster U Fool v2.1.0"; "ffuf" catches variants.
			{"Fuzz Faster U Fool", "https://github.com/ffuf/ffuf"},
			{"ffuf", "https://github.com/ffuf/ffuf"},
			{"feroxbuster", "https://github.com/epi052/feroxbuster"},
			{"wfuzz", "https://github.com/xmendez/wfuzz"},
			{"Acunetix", "https://www.acunetix.com/"},
			{"Nessus", "https://www.tenable.com/products/nessus"},
			{"OpenVAS", "https://github.com/greenbone/openvas-scanner"},
			{"WhatWeb", "https://github.com/urbanadventurer/WhatWeb"},
			{"Arachni", "https://github.com/Arachni/arachni"},
			{"w3af.org", "https://github.com/andresriancho/w3af"},
			{"wapiti", "https://github.com/wapiti-scanner/wapiti"},
			{"commix", "https://github.com/commixproject/commix"},
			{"TsunamiSecurityScanner", "https://github.com/google/tsunami-security-scanner"},
			{"ZmEu", "https://github.com/coreruleset/coreruleset/blob/main/rules/scanners-user-agents.data"},
		},
	},
}

// presetNames returns the names the preset option accepts, sorted.
func presetNames() []string {
	names := make([]string, 0, len(presets)+len(presetAliases))
	for n := range presets {
		names = append(names, n)
	}
	for n := range presetAliases {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
