// Package integration drives the real bin/caddy and bin/coredns built by
// `make build`. The tests run when EDGE_BIN_DIR names the directory holding
// them (make test sets it) and skip otherwise.
package integration
