package mcns

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/metacircular/edge/corednsplugin/mcns/api"
	"github.com/metacircular/edge/internal/testutil"
)

// apiToken is the admin bearer token the API tests use.
const apiToken = "apidns-admin-token-0123456789abcdefghijklmnop"

// quietLog keeps the API's per-write audit lines out of test output.
type quietLog struct{}

func (quietLog) Infof(string, ...any)    {}
func (quietLog) Warningf(string, ...any) {}
func (quietLog) Errorf(string, ...any)   {}

// writeTokenFile writes a tokens file granting apiToken the admin role.
func writeTokenFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(p, []byte(api.TokenLine(apiToken, "ops", []string{api.RoleAdmin})+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// freePort is testutil.FreePort, for Corefiles that must name their
// ports up front.
func freePort(t testing.TB) int { return testutil.FreePort(t) }

// apiClient drives the management API over HTTP with the admin token.
type apiClient struct {
	base string
	hc   *http.Client
}

func newAPIClient(addr string) *apiClient {
	return &apiClient{
		base: "http://" + addr,
		hc: &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 16},
		},
	}
}

// do sends one call and decodes a JSON answer into out (when not nil). It
// returns when the whole answer has been read, i.e. when a client would
// consider the call done.
func (c *apiClient) do(method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode, nil
}

// apiRecord is a record as the API returns it.
type apiRecord struct {
	ID    int64  `json:"id"`
	FQDN  string `json:"fqdn"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// apiZone is the part of a zone answer the tests read.
type apiZone struct {
	Serial uint32 `json:"serial"`
}
