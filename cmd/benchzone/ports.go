package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
)

// portsCmd prints loopback ports free for both TCP and UDP, holding each
// until all are found so it does not print the same port twice.
func portsCmd(args []string) error {
	fs := flag.NewFlagSet("ports", flag.ExitOnError)
	n := fs.Int("n", 1, "how many ports")
	fs.Parse(args)
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	var ports []int
	for tries := 0; len(ports) < *n; tries++ {
		if tries > 100 {
			return errors.New("ports: no free loopback ports")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			l.Close()
			continue
		}
		closers = append(closers, func() { l.Close(); u.Close() })
		ports = append(ports, port)
	}
	for _, p := range ports {
		fmt.Println(p)
	}
	return nil
}
