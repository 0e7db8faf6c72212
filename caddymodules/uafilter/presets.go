package uafilter

import "sort"

// A preset is a built-in, curated list of case-insensitive User-Agent
// substrings. Entries are product tokens as their operators document them
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

// presets maps preset names to their lists.
var presets = map[string]preset{
	"ai_crawlers": {
		description: "Crawlers and fetchers operated for AI model training, AI search and AI assistants.",
		entries: []presetEntry{
			// OpenAI.
			{"GPTBot", "https://platform.openai.com/docs/bots"},
			{"ChatGPT-User", "https://platform.openai.com/docs/bots"},
			{"OAI-SearchBot", "https://platform.openai.com/docs/bots"},
			// Common Crawl.
			{"CCBot", "https://commoncrawl.org/ccbot"},
			// Anthropic.
			{"ClaudeBot", "https://support.claude.com/en/articles/8896518-does-anthropic-crawl-data-from-the-web-and-how-can-site-owners-block-the-crawler"},
			{"Claude-User", "https://support.claude.com/en/articles/8896518-does-anthropic-crawl-data-from-the-web-and-how-can-site-owners-block-the-crawler"},
			{"Claude-SearchBot", "https://support.claude.com/en/articles/8896518-does-anthropic-crawl-data-from-the-web-and-how-can-site-owners-block-the-crawler"},
			// Older Anthropic agent tokens, as listed by ai.robots.txt.
			{"Claude-Web", "https://github.com/ai-robots-txt/ai.robots.txt"},
			{"anthropic-ai", "https://github.com/ai-robots-txt/ai.robots.txt"},
			// ByteDance (no official documentation).
			{"Bytespider", "https://github.com/ai-robots-txt/ai.robots.txt"},
			// Perplexity.
			{"PerplexityBot", "https://docs.perplexity.ai/guides/bots"},
			{"Perplexity-User", "https://docs.perplexity.ai/guides/bots"},
			// Google-Extended and Applebot-Extended are robots.txt product
			// tokens; Google and Apple crawl with Googlebot and Applebot, so
			// these two only match clients that send the token itself.
			{"Google-Extended", "https://developers.google.com/search/docs/crawling-indexing/google-common-crawlers#google-extended"},
			{"Applebot-Extended", "https://support.apple.com/en-us/119829"},
			// Meta.
			{"meta-externalagent", "https://developers.facebook.com/docs/sharing/webmasters/web-crawlers"},
			{"meta-externalfetcher", "https://developers.facebook.com/docs/sharing/webmasters/web-crawlers"},
			{"FacebookBot", "https://developers.facebook.com/docs/sharing/bot/"},
			// Amazon.
			{"Amazonbot", "https://developer.amazon.com/amazonbot"},
			// Diffbot.
			{"Diffbot", "https://www.diffbot.com/"},
			// Hive ImageSift.
			{"ImagesiftBot", "https://imagesift.com/about"},
			// Cohere.
			{"cohere-ai", "https://github.com/ai-robots-txt/ai.robots.txt"},
			{"cohere-training-data-crawler", "https://github.com/ai-robots-txt/ai.robots.txt"},
			// You.com.
			{"YouBot", "https://about.you.com/youbot/"},
			// Timpi.
			{"Timpibot", "https://timpi.io/"},
			// Allen Institute for AI.
			{"AI2Bot", "https://allenai.org/crawler"},
			// DuckDuckGo.
			{"DuckAssistBot", "https://duckduckgo.com/duckduckgo-help-pages/results/duckassistbot"},
			// Mistral AI.
			{"MistralAI-User", "https://docs.mistral.ai/robots"},
			// Webz.io (Omgili).
			{"omgilibot", "https://webz.io/bot.html"},
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

// presetNames returns the names of all presets, sorted.
func presetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// presetPatterns returns the patterns of a preset, or false.
func presetPatterns(name string) ([]string, bool) {
	p, ok := presets[name]
	if !ok {
		return nil, false
	}
	out := make([]string, len(p.entries))
	for i, e := range p.entries {
		out[i] = e.pattern
	}
	return out, true
}
