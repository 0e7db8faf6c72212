package uafilter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/metacircular/edge/internal/filewatch"
)

// parseListFile parses the contents of a list file.
func parseListFile(name string, data []byte) ([]string, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	var out []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for j := 1; j < len(line); j++ {
			if line[j] == '#' && (line[j-1] == ' ' || line[j-1] == '\t') {
				line = line[:j]
				break
			}
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if err := validatePattern(line); err != nil {
			return nil, listParseError{fmt.Errorf("list_file %s:%d: %v", name, i+1, err)}
		}
		out = append(out, line)
	}
	return out, nil
}

// listParseError is a list file whose contents are invalid, as opposed to
// one that cannot be read.
type listParseError struct{ error }

func (e listParseError) Unwrap() error { return e.error }

// listEntry is a pattern of a list file and the category of the clients
// it names, if the file says.
type listEntry struct {
	pattern  string
	category string
}

// parseUAList parses a User-Agent list file: robots.json if it starts with
// "{", otherwise one pattern per line.
func parseUAList(name string, data []byte) (fileContent, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		entries, err := parseRobotsJSON(name, data)
		return fileContent{entries: entries}, err
	}
	pats, err := parseListFile(name, data)
	if err != nil {
		return fileContent{}, err
	}
	entries := make([]listEntry, len(pats))
	for i, p := range pats {
		entries[i] = listEntry{pattern: p}
	}
	return fileContent{entries: entries}, nil
}

// parseRobotsJSON parses ai.robots.txt's robots.json: an object keyed by
// User-Agent token whose values describe the bot ("operator", "function",
// "description", ...). The keys are the patterns, in file order; the
// category is taken from "function" where it says what the bot does.
func parseRobotsJSON(name string, data []byte) ([]listEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, listParseError{fmt.Errorf("list_file %s: not a JSON object", name)}
	}
	var out []listEntry
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, listParseError{fmt.Errorf("list_file %s: %v", name, err)}
		}
		key, _ := tok.(string)
		var bot struct {
			Function    string `json:"function"`
			Description string `json:"description"`
		}
		if err := dec.Decode(&bot); err != nil {
			return nil, listParseError{fmt.Errorf("list_file %s: entry %q: %v", name, key, err)}
		}
		key = strings.TrimSpace(key)
		if err := validatePattern(key); err != nil {
			return nil, listParseError{fmt.Errorf("list_file %s: entry %q: %v", name, key, err)}
		}
		out = append(out, listEntry{pattern: key, category: robotsCategory(bot.Function)})
	}
	if _, err := dec.Token(); err != nil {
		return nil, listParseError{fmt.Errorf("list_file %s: %v", name, err)}
	}
	return out, nil
}

// robotsCategory maps robots.json's free-text "function" of a bot to a
// category, or "" when it does not say: "AI Search Crawlers" and "Search
// result generation" are ai_search; "AI Assistants", "AI Agents" and
// user-prompted fetches ai_user; training, data scrapers and data
// providers ai_training.
func robotsCategory(function string) string {
	f := strings.ToLower(function)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(f, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("search"):
		return catAISearch
	case has("assistant", "agent", "user", "prompt"):
		return catAIUser
	case has("train", "scraper", "data provider", "dataset", "machine learning"):
		return catAITraining
	}
	return ""
}

// fileContent is what a watched file holds: User-Agent patterns or
// address prefixes.
type fileContent struct {
	entries  []listEntry
	prefixes []netip.Prefix
}

func (c fileContent) size() int { return len(c.entries) + len(c.prefixes) }

// readWatched reads and parses a watched file. what names the option in
// errors ("list_file", "ranges").
func readWatched(name, what string, parse func(string, []byte) (fileContent, error)) (fileContent, filewatch.Stamp, error) {
	f, err := os.Open(name)
	if err != nil {
		return fileContent{}, filewatch.Stamp{}, fmt.Errorf("%s %s: %v", what, name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fileContent{}, filewatch.Stamp{}, fmt.Errorf("%s %s: %v", what, name, err)
	}
	if fi.IsDir() {
		return fileContent{}, filewatch.Stamp{}, fmt.Errorf("%s %s: is a directory", what, name)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return fileContent{}, filewatch.Stamp{}, fmt.Errorf("%s %s: %v", what, name, err)
	}
	c, err := parse(name, buf.Bytes())
	if err != nil {
		return fileContent{}, filewatch.Stamp{}, err
	}
	return c, filewatch.StampOf(fi), nil
}

// listFile is a watched file — a User-Agent list or a crawler's range
// file — and its last good contents.
type listFile struct {
	path    string
	label   string
	what    string // option name for messages: list_file or ranges
	crawler int    // for range files, the crawler's index; else -1
	parse   func(string, []byte) (fileContent, error)
	watch   filewatch.Watcher
	content fileContent
	errs    filewatch.ErrorState
}

// noun names the kind of file in log messages.
func (f *listFile) noun() string {
	if f.crawler < 0 {
		return "User-Agent list file"
	}
	return "crawler range file"
}

func (f *listFile) read() (fileContent, filewatch.Stamp, error) {
	return readWatched(f.path, f.what, f.parse)
}
