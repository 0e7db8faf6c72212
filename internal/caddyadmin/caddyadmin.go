// Package caddyadmin talks to a running Caddy's admin API in tests.
package caddyadmin

import (
	"io"
	"net/http"
	"strings"
)

// Load posts a config to http://ADDR/load and returns the status and the
// raw response body (Caddy's JSON error for a refused config).
func Load(addr, config, contentType string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/load", strings.NewReader(config))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", contentType)
	// Every load, even a refused one, replaces Caddy's admin server and
	// shuts the old one down: a kept-alive connection to it may be reset
	// under the next request.
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}
