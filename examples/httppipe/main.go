// Command httppipe serves HTTP on one synack stack and fetches it through
// another, the two joined by an in-memory link: no kernel, no root.
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/netip"

	"github.com/synack-tcp/synack/link/pipe"
	"github.com/synack-tcp/synack/stack"
)

func main() {
	// Two stacks joined by an in-memory link (link/tun reaches the kernel).
	ea, eb := pipe.New(1500)
	server, err := stack.New(eb, stack.Config{Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}})
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	client, err := stack.New(ea, stack.Config{Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// Serve HTTP on a synack listener...
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s\n", netip.MustParseAddrPort(r.RemoteAddr).Addr())
	}))

	// ...and fetch it through a synack dialer.
	hc := &http.Client{Transport: &http.Transport{DialContext: client.DialContext}}
	resp, err := hc.Get("http://10.0.0.2/")
	if err != nil {
		log.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s", resp.Status, body)
}
