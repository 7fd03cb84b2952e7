package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/synack-tcp/synack/link/pipe"
	"github.com/synack-tcp/synack/stack"
)

// synackPair is two synack stacks in this process joined by link/pipe, an
// in-memory link of the given MTU: a client at 10.0.0.1 and a server at
// 10.0.0.2. Defaults throughout (window scaling, timestamps and SACK on,
// CUBIC, Nagle off as package net has it); checksums are computed and
// verified in software on every packet, as on the gVisor link.
type synackPair struct {
	cli, srv *stack.Stack
	a, b     *pipe.Endpoint
	watch    *watcher // -observe
}

func newSynackPair(mtu int) (Pair, error) {
	a, b := pipe.NewQueue(mtu, 1<<20) // deep enough never to drop, like the gVisor link
	cli, err := stack.New(a, stack.Config{Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}})
	if err != nil {
		return nil, err
	}
	srv, err := stack.New(b, stack.Config{Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}})
	if err != nil {
		cli.Close()
		return nil, err
	}
	p := &synackPair{cli: cli, srv: srv, a: a, b: b}
	if observeMode {
		if p.watch, err = watch(cli, srv); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

func (p *synackPair) Listen(port uint16) (net.Listener, error) {
	return p.srv.Listen("tcp", fmt.Sprintf("10.0.0.2:%d", port))
}

func (p *synackPair) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	return p.cli.DialContext(ctx, "tcp", fmt.Sprintf("10.0.0.2:%d", port))
}

func (p *synackPair) Close() error {
	if p.watch != nil {
		p.watch.close()
	}
	p.cli.Close()
	return p.srv.Close()
}

// Stats implements statsReporter: trouble inside the stacks and the link.
func (p *synackPair) Stats() map[string]float64 {
	var rtx, rto float64
	for _, s := range []*stack.Stack{p.cli, p.srv} {
		for _, c := range s.Conns() {
			st := c.Status().Stats
			rtx += float64(st.Retransmits)
			rto += float64(st.RTOExpirations)
		}
	}
	return map[string]float64{
		"dropped":     float64(p.a.Stats().DroppedPackets + p.b.Stats().DroppedPackets),
		"retransmits": rtx,
		"timeouts":    rto,
	}
}
