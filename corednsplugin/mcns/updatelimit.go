package mcns

import (
	"strconv"

	"github.com/coredns/caddy"
)

// defaultMaxUpdateRecords bounds the records of one UPDATE when the
// Corefile does not: one transaction, one journal entry and one generation
// of the zone per UPDATE, so their size is the client's to choose only up
// to this.
const defaultMaxUpdateRecords = 1000

// updateRecordLimit is the most records an UPDATE may carry in its
// prerequisite and update sections together (as the dynupdate plugin's
// max_update_records counts them).
func (c config) updateRecordLimit() int {
	if c.maxUpdateRecords > 0 {
		return c.maxUpdateRecords
	}
	return defaultMaxUpdateRecords
}

// parseMaxUpdateRecords reads "max_update_records COUNT".
func parseMaxUpdateRecords(c *caddy.Controller, cfg *config) error {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return c.ArgErr()
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n <= 0 {
		return c.Errf("max_update_records %q: must be a positive integer", args[0])
	}
	cfg.maxUpdateRecords = n
	return nil
}
