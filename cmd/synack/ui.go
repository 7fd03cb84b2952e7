package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/link/pcap"
	"github.com/synack-tcp/synack/observe"
	"github.com/synack-tcp/synack/stack"
)

// listenUI binds --ui's host address (nil without --ui). The error is one
// line, prefixed with cmd.
func (o *tunOptions) listenUI(cmd string) (net.Listener, error) {
	if o.ui == "" {
		return nil, nil
	}
	ln, err := bindUI(cmd, o.ui)
	if err != nil {
		return nil, err
	}
	o.extras = append(o.extras, func() { ln.Close() })
	return ln, nil
}

// bindUI listens on a host TCP address for the observe page.
func bindUI(cmd, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err
		}
		return nil, fmt.Errorf("%s: --ui %s: cannot listen there: %v", cmd, addr, err)
	}
	return ln, nil
}

// serveUI attaches an observer to st and serves its page on ln (nil: no
// --ui).
func (o *tunOptions) serveUI(cmd string, ln net.Listener, st *stack.Stack) {
	if ln == nil {
		return
	}
	obs := observe.New(observe.Options{})
	obs.Attach(strings.TrimPrefix(cmd, "synack "), st)
	stop := startPage(ln, obs)
	o.extras = append(o.extras, stop)
	if o.out != nil {
		fmt.Fprintf(o.out, "%s: watch it live at http://%s/ (also /conns, /events, /metrics)\n", cmd, ln.Addr())
	}
}

// startPage serves obs's handler on ln until the returned stop is called.
func startPage(ln net.Listener, obs *observe.Observer) (stop func()) {
	srv := &http.Server{Handler: obs.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return func() {
		obs.Close() // ends the /events streams
		srv.Close()
		<-done
	}
}

// capture tees ep's packets into --pcap's file (ep itself without it).
func (o *tunOptions) capture(cmd string, ep link.Endpoint, clk clock.Clock) (link.Endpoint, error) {
	if o.pcap == "" {
		return ep, nil
	}
	f, err := os.Create(o.pcap)
	if err != nil {
		ep.Close()
		return nil, fmt.Errorf("%s: --pcap: %v", cmd, err)
	}
	pe, err := pcap.New(ep, f, clk)
	if err != nil {
		f.Close()
		ep.Close()
		return nil, fmt.Errorf("%s: --pcap %s: %v", cmd, o.pcap, err)
	}
	// The stack's Close closes pe, which flushes; then the file closes.
	o.extras = append(o.extras, func() { f.Close() })
	return pe, nil
}

// closeExtras stops what open started beside the stack (the page, the
// capture file), newest first. Call it after closing the stack.
func (o *tunOptions) closeExtras() {
	for i := len(o.extras) - 1; i >= 0; i-- {
		o.extras[i]()
	}
	o.extras = nil
}
