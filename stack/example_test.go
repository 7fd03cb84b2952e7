package stack_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/netip"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link/pipe"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

// twoStacks joins a client stack (10.0.0.1) and a server stack (10.0.0.2)
// by an in-memory link.
func twoStacks() (client, server *stack.Stack) {
	ea, eb := pipe.New(1500)
	client, err := stack.New(ea, stack.Config{Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}})
	if err != nil {
		log.Fatal(err)
	}
	server, err = stack.New(eb, stack.Config{Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}})
	if err != nil {
		log.Fatal(err)
	}
	return client, server
}

// An echo server (RFC 862) and a client: Listen, Accept, Dial, a
// half-close, and the echo read back to EOF.
func ExampleStack_Listen() {
	client, server := twoStacks()
	defer client.Close()
	defer server.Close()

	ln, err := server.Listen("tcp", "10.0.0.2:7")
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // the listener closed
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
				c.(*stack.Conn).CloseWrite() // our FIN after the peer's
			}()
		}
	}()

	c, err := client.Dial("tcp", "10.0.0.2:7")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "hello, synack")
	c.(*stack.Conn).CloseWrite() // a half-close: the peer reads EOF
	echo, err := io.ReadAll(c)
	fmt.Printf("%q %v\n", echo, err)
	// Output: "hello, synack" <nil>
}

// net/http serving on a synack listener and fetching through a synack
// dialer; the remote address the handler sees is the client stack's.
func ExampleStack_DialContext_http() {
	client, server := twoStacks()
	defer client.Close()
	defer server.Close()

	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s from %s\n", r.Method, r.URL.Path, netip.MustParseAddrPort(r.RemoteAddr).Addr())
	}))

	// A custom DialContext turns HTTP/2 off unless ForceAttemptHTTP2 is
	// set (it matters for https URLs).
	hc := &http.Client{Transport: &http.Transport{DialContext: client.DialContext, ForceAttemptHTTP2: true}}
	resp, err := hc.Get("http://10.0.0.2/hello")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s %s: %s", resp.Proto, resp.Status, body)
	// Output: HTTP/1.1 200 OK: GET /hello from 10.0.0.1
}

// Watching one connection walk the state diagram with OnEvent. The stacks
// run over link/sim under a virtual clock, driven from this goroutine, so
// the walk and its virtual times are the same on every run.
func ExampleConfig_onEvent() {
	clk := clock.NewVirtual()
	lc := sim.Config{Delay: 5 * time.Millisecond, MTU: 1500}
	ea, eb := sim.New(clk, 1, lc, lc)
	watch := func(name string) func(stack.Event) {
		return func(e stack.Event) {
			// OnEvent runs under the connection's lock: print, do not call
			// into the stack.
			fmt.Printf("%v %s: %v -> %v (%s)\n", e.Time, name, e.From, e.To, e.Cause)
		}
	}
	tc := tcp.Config{MSL: time.Second} // TIME-WAIT lasts 2 s
	client, _ := stack.New(ea, stack.Config{Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}, Clock: clk, TCP: tc, OnEvent: watch("client")})
	server, _ := stack.New(eb, stack.Config{Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, Clock: clk, TCP: tc})

	ln, _ := server.ListenTCP("tcp", "10.0.0.2:80")
	c, _ := client.Open(netip.MustParseAddrPort("10.0.0.2:80")) // SYN-SENT at once
	var sc *stack.Conn
	for sc == nil && clk.Step() {
		sc, _ = ln.TryAccept()
	}
	c.Close() // the client closes first, so it is the one in TIME-WAIT
	for clk.Step() && sc.State() != tcp.CloseWait {
	}
	sc.Close()
	for clk.Step() {
	}
	// Output:
	// 0s client: CLOSED -> SYN-SENT (user OPEN (active))
	// 10ms client: SYN-SENT -> ESTABLISHED (rcv SYN,ACK)
	// 15ms client: ESTABLISHED -> FIN-WAIT-1 (user CLOSE)
	// 25ms client: FIN-WAIT-1 -> FIN-WAIT-2 (rcv ACK)
	// 25ms client: FIN-WAIT-2 -> TIME-WAIT (rcv FIN,ACK)
	// 2.025s client: TIME-WAIT -> CLOSED (timeout 2MSL)
}
