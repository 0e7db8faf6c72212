package api

// JSON shapes of PowerDNS's HTTP API (v1) as mcns serves them. Fields
// PowerDNS has but mcns has no use for (DNSSEC, catalogs, TSIG keys) are
// answered with PowerDNS's values for a zone without them, so clients that
// read them see a consistent zone.

type pdnsServer struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	DaemonType string `json:"daemon_type"`
	Version    string `json:"version"`
	URL        string `json:"url"`
	ConfigURL  string `json:"config_url"`
	ZonesURL   string `json:"zones_url"`
}

type pdnsZone struct {
	ID             string      `json:"id"`
	Name           string      `json:"name"`
	Type           string      `json:"type"`
	URL            string      `json:"url"`
	Kind           string      `json:"kind"`
	Serial         uint32      `json:"serial"`
	NotifiedSerial uint32      `json:"notified_serial"`
	EditedSerial   uint32      `json:"edited_serial"`
	Masters        []string    `json:"masters"`
	DNSSEC         bool        `json:"dnssec"`
	NSEC3Param     string      `json:"nsec3param"`
	NSEC3Narrow    bool        `json:"nsec3narrow"`
	Presigned      bool        `json:"presigned"`
	SOAEdit        string      `json:"soa_edit"`
	SOAEditAPI     string      `json:"soa_edit_api"`
	APIRectify     bool        `json:"api_rectify"`
	Account        string      `json:"account"`
	Catalog        string      `json:"catalog"`
	LastCheck      int64       `json:"last_check"`
	MasterTSIGKeys []string    `json:"master_tsig_key_ids"`
	SlaveTSIGKeys  []string    `json:"slave_tsig_key_ids"`
	RRsets         []pdnsRRset `json:"rrsets,omitempty"`
	Nameservers    []string    `json:"nameservers,omitempty"`
}

type pdnsRRset struct {
	Name       string        `json:"name"`
	Type       string        `json:"type"`
	TTL        *uint32       `json:"ttl,omitempty"`
	ChangeType string        `json:"changetype,omitempty"`
	Records    []pdnsRecord  `json:"records"`
	Comments   []pdnsComment `json:"comments"`
}

type pdnsRecord struct {
	Content  string `json:"content"`
	Disabled bool   `json:"disabled"`
}

type pdnsComment struct {
	Content    string `json:"content"`
	Account    string `json:"account"`
	ModifiedAt int64  `json:"modified_at"`
}

// pdnsPatch is the body of PATCH /zones/{id}.
type pdnsPatch struct {
	RRsets []pdnsRRset `json:"rrsets"`
}

// pdnsNewZone is the body of POST /zones.
type pdnsNewZone struct {
	Name        string      `json:"name"`
	Kind        string      `json:"kind"`
	Nameservers []string    `json:"nameservers"`
	RRsets      []pdnsRRset `json:"rrsets"`
	Masters     []string    `json:"masters"`
	DNSSEC      bool        `json:"dnssec"`
}
