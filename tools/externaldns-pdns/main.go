// Command externaldns-pdns runs one reconciliation of external-dns's
// PowerDNS provider against a PowerDNS-compatible HTTP API, the way
// external-dns's controller does: it reads the zone's records, plans the
// changes from the desired records given on the command line with the
// sync policy, and applies them. It prints the plan's changes as JSON, so
// a caller can tell a run that changed nothing from one that did.
//
// The API key is read from $PDNS_API_KEY so it never appears in a process
// listing.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/pkg/apis/externaldns"
	"sigs.k8s.io/external-dns/plan"
	"sigs.k8s.io/external-dns/provider/pdns"
)

// records collects repeated -a / -txt flags as name=value pairs.
type records []string

func (r *records) String() string     { return strings.Join(*r, ",") }
func (r *records) Set(v string) error { *r = append(*r, v); return nil }

// summary is what one run prints: the names of the records each kind of
// change touched.
type summary struct {
	Create    []string `json:"create"`
	UpdateOld []string `json:"updateOld"`
	UpdateNew []string `json:"updateNew"`
	Delete    []string `json:"delete"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "externaldns-pdns:", err)
		os.Exit(1)
	}
}

func run() error {
	server := flag.String("server", "", "base URL of the PowerDNS API, e.g. https://localhost:8444")
	serverID := flag.String("server-id", "localhost", "PowerDNS server id")
	caFile := flag.String("ca", "", "CA certificate file trusted for the API's TLS certificate")
	domain := flag.String("domain", "", "domain filter: the zone whose A and TXT records this run manages (required)")
	var aRecords, txtRecords records
	flag.Var(&aRecords, "a", "desired A record name=address (repeatable)")
	flag.Var(&txtRecords, "txt", `desired TXT record name="text", the content quoted as PowerDNS returns it (repeatable)`)
	flag.Parse()
	if *server == "" || *domain == "" {
		return errors.New("-server and -domain are required")
	}
	apiKey := os.Getenv("PDNS_API_KEY")
	if apiKey == "" {
		return errors.New("$PDNS_API_KEY is not set")
	}

	desired, err := desiredEndpoints(aRecords, txtRecords)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	filter := endpoint.NewDomainFilter([]string{*domain})
	p, err := pdns.New(ctx, &externaldns.Config{
		PDNSServer: *server, PDNSServerID: *serverID, PDNSAPIKey: apiKey, TLSCA: *caFile,
	}, filter)
	if err != nil {
		return fmt.Errorf("provider: %w", err)
	}

	current, err := p.Records(ctx)
	if err != nil {
		return fmt.Errorf("reading records: %w", err)
	}
	if desired, err = p.AdjustEndpoints(desired); err != nil {
		return fmt.Errorf("adjusting endpoints: %w", err)
	}
	pl := (&plan.Plan{
		Current:        current,
		Desired:        desired,
		Policies:       []plan.Policy{&plan.SyncPolicy{}},
		DomainFilter:   endpoint.MatchAllDomainFilters{filter},
		ManagedRecords: []string{endpoint.RecordTypeA, endpoint.RecordTypeTXT},
	}).Calculate()
	if pl.Changes.HasChanges() {
		if err := p.ApplyChanges(ctx, pl.Changes); err != nil {
			return fmt.Errorf("applying changes: %w", err)
		}
	}
	return json.NewEncoder(os.Stdout).Encode(summarize(pl.Changes))
}

// desiredEndpoints turns name=value flags into endpoints of their type.
func desiredEndpoints(a, txt records) ([]*endpoint.Endpoint, error) {
	var eps []*endpoint.Endpoint
	for _, set := range []struct {
		rrtype string
		values records
	}{{endpoint.RecordTypeA, a}, {endpoint.RecordTypeTXT, txt}} {
		for _, v := range set.values {
			name, value, ok := strings.Cut(v, "=")
			if !ok || name == "" || value == "" {
				return nil, fmt.Errorf("%s record %q: want name=value", set.rrtype, v)
			}
			eps = append(eps, endpoint.NewEndpoint(name, set.rrtype, value))
		}
	}
	return eps, nil
}

func summarize(c *plan.Changes) summary {
	names := func(eps []*endpoint.Endpoint) []string {
		out := []string{}
		for _, ep := range eps {
			out = append(out, ep.RecordType+" "+ep.DNSName)
		}
		return out
	}
	return summary{Create: names(c.Create), UpdateOld: names(c.UpdateOld), UpdateNew: names(c.UpdateNew), Delete: names(c.Delete)}
}
