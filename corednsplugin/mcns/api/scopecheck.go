package api

import (
	"net/http"
	"strings"

	"github.com/miekg/dns"
)

// The /v1 handlers call these before touching the store, so a request
// outside the principal's scopes changes nothing.

// errZoneHidden answers a scoped principal asking for a zone outside its
// scopes exactly as for a zone that does not exist, so scopes do not reveal
// which other zones are served.
func errZoneHidden(zone string) error {
	return &httpError{status: http.StatusNotFound, code: "not_found", msg: "zone " + zone + " not found"}
}

// checkSee returns an error unless the request's principal may read zone.
func checkSee(r *http.Request, zone string) error {
	if p := principalFrom(r.Context()); p != nil && !p.MaySee(zone) {
		return errZoneHidden(zone)
	}
	return nil
}

// checkChange returns a 403 unless the request's principal may change
// records of type rrtype (a mnemonic) owned by name in zone.
func checkChange(r *http.Request, zone, name, rrtype string) error {
	p := principalFrom(r.Context())
	if p == nil {
		return nil
	}
	code := dns.StringToType[strings.ToUpper(rrtype)]
	if !p.MayChange(zone, name, code) {
		return &httpError{status: http.StatusForbidden, code: "forbidden",
			msg: "the token's scopes do not cover " + strings.ToUpper(rrtype) + " records at " + name}
	}
	return nil
}

// checkManage returns a 403 unless the request's principal may create,
// delete or reconfigure zones.
func checkManage(r *http.Request) error {
	if p := principalFrom(r.Context()); p != nil && !p.MayManageZones() {
		return &httpError{status: http.StatusForbidden, code: "forbidden",
			msg: "a scoped token may not create, delete or reconfigure zones"}
	}
	return nil
}
