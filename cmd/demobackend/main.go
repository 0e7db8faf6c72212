// Command demobackend stands in for the metacrypt-web backend on "rift" in
// local runs and tests: an HTTPS server with a certificate from a test CA
// that answers every request with a small page naming itself, after
// ?delay=DURATION if one is asked for.
//
//	demobackend -addr 127.0.0.1:18443 -cert backend.pem -key backend-key.pem
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18443", "listen address")
	cert := flag.String("cert", "", "TLS certificate (PEM)")
	key := flag.String("key", "", "TLS key (PEM)")
	name := flag.String("name", "metacrypt-web", "name shown on the page")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("demobackend: ")
	if *cert == "" || *key == "" {
		log.Fatal("-cert and -key are required")
	}
	srv := &http.Server{
		Addr:              *addr,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// ?delay=2s keeps a request in flight, for reload tests.
			if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil && d > 0 && d <= time.Minute {
				select {
				case <-time.After(d):
				case <-r.Context().Done():
					return
				}
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "%s: %s %s via %s\n", *name, r.Method, r.URL.Path, r.Proto)
		}),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("serving https://%s", *addr)
	if err := srv.ListenAndServeTLS(*cert, *key); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
