package mcnsdns

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/libdns/libdns"
)

const (
	// requestTimeout bounds one API call when the caller's context has no
	// earlier deadline.
	requestTimeout = 30 * time.Second
	// maxAnswerBytes bounds what is read of an answer.
	maxAnswerBytes = 16 << 20
	// attempts is how often an idempotent call (GET, DELETE) is tried
	// when the API cannot be reached or answers 502, 503 or 504.
	attempts  = 3
	retryWait = 500 * time.Millisecond
)

// client calls the mcns management API.
type client struct {
	base  *url.URL
	token string
	http  *http.Client
}

func newClient(base *url.URL, token, caFile string) (*client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("mcns: ca_cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mcns: ca_cert %s: no PEM certificate in it", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &client{
		base:  base,
		token: token,
		http: &http.Client{
			Transport: tr,
			Timeout:   requestTimeout,
			// The token must go to the configured endpoint only.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// apiError is an answer of the API other than 2xx.
type apiError struct {
	Method, URL string
	Status      int
	Code, Msg   string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("mcns: %s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Msg != "" {
		msg += ": " + e.Msg
	}
	switch e.Status {
	case http.StatusUnauthorized:
		msg += "; check the token"
	case http.StatusForbidden:
		// The API's message says which: the role, a scope that does not
		// cover the name, or a zone outside allow_zones.
		msg += "; the token needs the admin role and a scope covering the name"
	}
	return msg
}

// zonePath is /v1/zones/ZONE with the zone's trailing dot dropped.
func zonePath(zone string) (string, error) {
	z := strings.TrimSuffix(strings.TrimSpace(zone), ".")
	if z == "" {
		return "", errors.New("mcns: zone is empty")
	}
	return "/v1/zones/" + url.PathEscape(z), nil
}

// do sends one call and decodes a 2xx answer into out (unless nil).
func (c *client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = ""
	if query != nil {
		u.RawQuery = query.Encode()
	}
	target := u.String()
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	tries := 1
	if method == http.MethodGet || method == http.MethodDelete {
		tries = attempts
	}
	var err error
	for try := 1; ; try++ {
		var retry bool
		retry, err = c.once(ctx, method, target, payload, out)
		if err == nil || !retry || try >= tries {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mcns: %s %s: %w (after: %v)", method, target, ctx.Err(), err)
		case <-time.After(time.Duration(try) * retryWait):
		}
	}
}

// once sends the call once; retry tells whether a failure may be retried.
func (c *client) once(ctx context.Context, method, target string, payload []byte, out any) (retry bool, err error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return false, fmt.Errorf("mcns: %s %s: %w", method, target, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "caddy-dns-mcns")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error already names the method and URL. A certificate
		// the CA does not vouch for will not get better by retrying.
		var cv *tls.CertificateVerificationError
		return ctx.Err() == nil && !errors.As(err, &cv), fmt.Errorf("mcns: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("mcns: %s %s: reading the answer: %w", method, target, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &apiError{Method: method, URL: target, Status: resp.StatusCode}
		var body struct{ Error, Code string }
		if json.Unmarshal(data, &body) == nil {
			e.Code, e.Msg = body.Code, body.Error
		}
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true, e
		}
		return false, e
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return false, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("mcns: %s %s: decoding the answer: %w", method, target, err)
	}
	return false, nil
}

// records lists the zone's records, only those at fqdn and of typ where
// they are not empty.
func (c *client) records(ctx context.Context, zone, fqdn, typ string) ([]apiRecord, error) {
	path, err := zonePath(zone)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if fqdn != "" {
		q.Set("name", fqdn)
	}
	if typ != "" {
		q.Set("type", typ)
	}
	var answer struct {
		Records []apiRecord `json:"records"`
	}
	if err := c.do(ctx, http.MethodGet, path+"/records", q, nil, &answer); err != nil {
		return nil, err
	}
	return answer.Records, nil
}

type recordBody struct {
	Name  *string `json:"name,omitempty"`
	Type  *string `json:"type,omitempty"`
	Value *string `json:"value,omitempty"`
	TTL   *int64  `json:"ttl,omitempty"`
}

// create adds one record.
func (c *client) create(ctx context.Context, zone string, w *want) (apiRecord, error) {
	var rec apiRecord
	if w.typ == "" || w.value == "" {
		return rec, fmt.Errorf("mcns: add %s: type and value are required", w.fqdn)
	}
	path, err := zonePath(zone)
	if err != nil {
		return rec, err
	}
	err = c.do(ctx, http.MethodPost, path+"/records", nil, recordBody{Name: &w.fqdn, Type: &w.typ, Value: &w.value, TTL: w.ttl}, &rec)
	return rec, err
}

// setTTL changes one record's TTL.
func (c *client) setTTL(ctx context.Context, zone string, id, ttl int64) (apiRecord, error) {
	var rec apiRecord
	path, err := zonePath(zone)
	if err != nil {
		return rec, err
	}
	err = c.do(ctx, http.MethodPut, path+"/records/"+strconv.FormatInt(id, 10), nil, recordBody{TTL: &ttl}, &rec)
	return rec, err
}

// remove deletes one record by id; gone is false when it was already
// gone (404), which is not an error.
func (c *client) remove(ctx context.Context, zone string, id int64) (gone bool, err error) {
	path, err := zonePath(zone)
	if err != nil {
		return false, err
	}
	err = c.do(ctx, http.MethodDelete, path+"/records/"+strconv.FormatInt(id, 10), nil, nil, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && ae.Code == "not_found" {
		return false, nil
	}
	return err == nil, err
}

// zones lists the zones.
func (c *client) zones(ctx context.Context) ([]libdns.Zone, error) {
	var answer struct {
		Zones []struct {
			Name string `json:"name"`
		} `json:"zones"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/zones", nil, nil, &answer); err != nil {
		return nil, err
	}
	out := make([]libdns.Zone, 0, len(answer.Zones))
	for _, z := range answer.Zones {
		out = append(out, libdns.Zone{Name: z.Name})
	}
	return out, nil
}
