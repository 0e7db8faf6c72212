package geofilter

import (
	"errors"
	"net/netip"
	"strconv"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
	"go.uber.org/zap"
)

// Request variables the handler sets, read as {http.vars.geo.country},
// {http.vars.geo.asn} and {http.vars.geo.asn_org}.
const (
	varCountry = "geo.country"
	varASN     = "geo.asn"
	varASNOrg  = "geo.asn_org"
)

// The values are stored as ready-made interface values: storing a string
// into the vars map would otherwise allocate on every request.
var (
	emptyVar    any = ""
	countryVars     = func() (t [26 * 26]any) {
		for i := range t {
			t[i] = country(i).String()
		}
		return t
	}()
)

func (c country) varValue() any {
	if c >= 26*26 {
		return emptyVar
	}
	return countryVars[c]
}

// asnInfo is an AS as placeholder values, cached per database record.
type asnInfo struct {
	off    uintptr
	num    uint32
	numVar any // decimal string, "" for none
	orgVar any
}

// asnInfoCache is direct-mapped by record offset, like offsetCache.
type asnInfoCache [1 << cacheBits]atomic.Pointer[asnInfo]

// asnInfo returns the AS of ip with its name, or nil if unknown.
func (v *dbVersion) asnInfo(ip netip.Addr) (*asnInfo, error) {
	if v.asnInfos == nil {
		return nil, nil
	}
	res, found, err := v.lookup(ip)
	if !found {
		return nil, err
	}
	return v.asnInfoAt(res)
}

// asnInfoAt is the AS of the record lookup found.
func (v *dbVersion) asnInfoAt(res maxminddb.Result) (*asnInfo, error) {
	off := res.Offset()
	entry := &v.asnInfos[slot(off)]
	if e := entry.Load(); e != nil && e.off == off {
		return e, nil
	}
	var rec struct {
		ASN uint32 `maxminddb:"autonomous_system_number"`
		Org string `maxminddb:"autonomous_system_organization"`
	}
	if err := res.Decode(&rec); err != nil {
		return nil, err
	}
	e := &asnInfo{off: off, num: rec.ASN, numVar: emptyVar, orgVar: rec.Org}
	if rec.ASN != 0 {
		e.numVar = strconv.FormatUint(uint64(rec.ASN), 10)
	}
	entry.Store(e)
	return e, nil
}

// located is the country and AS of ip from one walk of v's tree, for a
// database that holds both.
func (v *dbVersion) located(ip netip.Addr) (country, *asnInfo, error) {
	res, found, err := v.lookup(ip)
	if !found {
		return noCountry, nil, err
	}
	c, cerr := v.countryAt(res)
	a, aerr := v.asnInfoAt(res)
	return c, a, errors.Join(cerr, aerr)
}

// asnInfo returns the AS of the first database that knows ip.
func (p *policy) asnInfo(ip netip.Addr) *asnInfo {
	for _, db := range p.asnDBs {
		a, err := db.cur.Load().asnInfo(ip)
		if err != nil {
			p.logger.Warn("database lookup failed", zap.String("db", db.path), zap.Stringer("client", ip), zap.Error(err))
			continue
		}
		if a != nil && a.num != 0 {
			return a
		}
	}
	return nil
}

// locate looks ip up in every database, for the placeholders; judge then
// reuses what it found. The usual setup, one database with countries and
// ASNs, is walked once for both.
func (p *policy) locate(ip netip.Addr, v *verdict) {
	*v = verdict{country: noCountry, located: true}
	if len(p.countryDBs) == 1 && len(p.asnDBs) == 1 && p.countryDBs[0] == p.asnDBs[0] {
		db := p.countryDBs[0]
		c, a, err := db.cur.Load().located(ip)
		if err != nil {
			p.logger.Warn("database lookup failed", zap.String("db", db.path), zap.Stringer("client", ip), zap.Error(err))
		}
		v.country = c
		if a != nil && a.num != 0 {
			v.as, v.asn = a, a.num
		}
		return
	}
	if len(p.countryDBs) > 0 {
		v.country = p.country(ip)
	}
	if len(p.asnDBs) > 0 {
		if v.as = p.asnInfo(ip); v.as != nil {
			v.asn = v.as.num
		}
	}
}

// setGeoVars stores what locate found in the request's variables: the
// country when a database has countries, the AS when one has ASNs ("" for
// a client the databases do not know).
func (p *policy) setGeoVars(vars map[string]any, v *verdict) {
	if vars == nil {
		return
	}
	if len(p.countryDBs) > 0 {
		vars[varCountry] = v.country.varValue()
	}
	if len(p.asnDBs) > 0 {
		if v.as != nil {
			vars[varASN], vars[varASNOrg] = v.as.numVar, v.as.orgVar
		} else {
			vars[varASN], vars[varASNOrg] = emptyVar, emptyVar
		}
	}
}
