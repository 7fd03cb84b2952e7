package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/synack-tcp/synack/internal/netns"
	"github.com/synack-tcp/synack/link/tun"
	"github.com/synack-tcp/synack/stack"
)

// TUN workloads: synack on a TUN device against the kernel's TCP (Go's
// package net) inside a network namespace made for the run, so the
// packets cross a real device: every bulk byte goes through read(2) or
// write(2) on /dev/net/tun and the kernel's IP and TCP layers. The kernel
// owns 10.99.0.1/24 on the device and synack answers as 10.99.0.2.
//
//	tun-tx         synack dials and sends (the client side of a workload), the kernel listens
//	tun-rx         the kernel dials and sends, synack listens
//	               (both as tun.Open defaults them: offloads, a queue per GOMAXPROCS)
//	tun-tx-nooff,  the same with the device's virtio-net offloads forced off
//	tun-rx-nooff   (tun.Config.NoOffload): one packet per system call, software checksums
//	tun-tx-1q,     with offloads and a single queue (tun.Config.Queues 1)
//	tun-rx-1q
//
// The kernel against itself over a veth pair between two namespaces is
// the reference column for them: veth (the veth's offloads) and veth-nooff
// (offloads off), in veth.go. None of these is in stackOrder, so not in
// the default -stacks; ask for them, side by side in one run:
//
//	go run . -stacks tun-tx,tun-rx,tun-tx-nooff,tun-rx-nooff,veth,veth-nooff -only bulk,pingpong
//
// The device's MTU is the case's (1500, or 65535 for bulk65535).
func init() {
	for _, v := range []struct {
		name      string
		synackCli bool
		offload   bool
		queues    int
		title     string
	}{
		{"tun-tx", true, true, 0, "synack → kernel over TUN (offloads)"},
		{"tun-rx", false, true, 0, "kernel → synack over TUN (offloads)"},
		{"tun-tx-nooff", true, false, 0, "synack → kernel over TUN (no offloads)"},
		{"tun-rx-nooff", false, false, 0, "kernel → synack over TUN (no offloads)"},
		{"tun-tx-1q", true, true, 1, "synack → kernel over TUN (offloads, 1 queue)"},
		{"tun-rx-1q", false, true, 1, "kernel → synack over TUN (offloads, 1 queue)"},
	} {
		factories[v.name] = func(mtu int) (Pair, error) { return newTunPair(mtu, v.synackCli, v.offload, v.queues) }
		stackTitle[v.name] = v.title
	}
}

var (
	tunHost = netip.MustParseAddr("10.99.0.1")
	tunAddr = netip.MustParseAddr("10.99.0.2")
)

// tunPair is synack on a TUN device in a fresh namespace and the kernel's
// TCP in that namespace; synackCli says which one is the client side.
type tunPair struct {
	ns        *netns.NS
	ep        *tun.Endpoint
	st        *stack.Stack
	synackCli bool
}

func newTunPair(mtu int, synackCli, offload bool, queues int) (Pair, error) {
	ns, err := netns.New("bench-tun")
	if err != nil {
		return nil, err
	}
	ep, err := tun.Open(tun.Config{Name: "bench0", MTU: mtu, NetNS: ns.Name(), HostAddr: netip.PrefixFrom(tunHost, 24), NoOffload: !offload, Queues: queues})
	if err != nil {
		ns.Close()
		return nil, err
	}
	if o := ep.Offloads(); offload && !o.TSO {
		ep.Close()
		ns.Close()
		return nil, fmt.Errorf("the kernel granted no TSO on the TUN device: %+v", o)
	}
	st, err := stack.New(ep, stack.Config{Addrs: []netip.Addr{tunAddr}})
	if err != nil {
		ep.Close()
		ns.Close()
		return nil, err
	}
	return &tunPair{ns: ns, ep: ep, st: st, synackCli: synackCli}, nil
}

// kernelListen listens with the kernel's TCP on the namespace's side of
// the TUN device.
func kernelListen(ns *netns.NS, port uint16) (net.Listener, error) {
	var l net.Listener
	err := ns.Do(func() (err error) {
		l, err = net.Listen("tcp4", netip.AddrPortFrom(tunHost, port).String())
		return err
	})
	return l, err
}

// kernelDial dials the userspace stack at tunAddr from the kernel's TCP
// inside ns.
func kernelDial(ctx context.Context, ns *netns.NS, port uint16) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp4", netip.AddrPortFrom(tunAddr, port).String())
		return err
	})
	return c, err
}

func (p *tunPair) Listen(port uint16) (net.Listener, error) {
	if p.synackCli {
		return kernelListen(p.ns, port)
	}
	return p.st.Listen("tcp", netip.AddrPortFrom(tunAddr, port).String())
}

func (p *tunPair) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	if p.synackCli {
		return p.st.DialContext(ctx, "tcp", netip.AddrPortFrom(tunHost, port).String())
	}
	return kernelDial(ctx, p.ns, port)
}

func (p *tunPair) Close() error {
	p.st.Close() // closes the device too
	return p.ns.Close()
}

// Stats implements statsReporter: synack's retransmissions and timeouts,
// and the packets the device lost.
func (p *tunPair) Stats() map[string]float64 {
	var rtx, rto float64
	for _, c := range p.st.Conns() {
		st := c.Status().Stats
		rtx += float64(st.Retransmits)
		rto += float64(st.RTOExpirations)
	}
	s := p.ep.Stats()
	return map[string]float64{
		"dropped":     float64(s.WriteErrors + s.ReadErrors),
		"retransmits": rtx,
		"timeouts":    rto,
	}
}
