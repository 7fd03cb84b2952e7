package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"

	"github.com/synack-tcp/synack/internal/netns"
)

// veth workloads: the reference the TUN pairs (tun.go) are measured
// against. The kernel's TCP (Go's package net) on both ends, client and
// server in two network namespaces made for the run and joined by a veth
// pair, so every byte crosses the veth and both ends' IP and TCP layers,
// as it would between two containers. The client owns 10.98.0.1/24 on
// bv0, the server 10.98.0.2/24 on bv1; both ends take the case's MTU (1500,
// or 65535 for bulk65535: a veth's largest).
//
//	veth        the veth's default offloads: TSO, GSO and checksum offload on, so
//	            segments up to 64 KiB cross unsplit and are never checksummed; GRO
//	            stays off, the veth's default (turning it on moves receive to NAPI)
//	veth-nooff  offloads off on both ends, as `ethtool -K IF tso off gso off gro off
//	            tx off rx off` sets them: every segment is MSS-sized and checksummed
//	            in software
//
// They are not in stackOrder, so not in the default -stacks; ask for them:
//
//	go run . -stacks veth,veth-nooff -only bulk,pingpong
func init() {
	for _, v := range []struct {
		name    string
		offload bool
		title   string
	}{
		{"veth", true, "kernel → kernel over veth (offloads)"},
		{"veth-nooff", false, "kernel → kernel over veth (no offloads)"},
	} {
		factories[v.name] = func(mtu int) (Pair, error) { return newVethPair(mtu, v.offload) }
		stackTitle[v.name] = v.title
	}
}

var (
	vethCliAddr = netip.MustParseAddr("10.98.0.1")
	vethSrvAddr = netip.MustParseAddr("10.98.0.2")
)

// The veth's two ends: vethCliIf in the client's namespace, vethSrvIf in
// the server's.
const (
	vethCliIf = "bv0"
	vethSrvIf = "bv1"
)

// vethPair is the kernel's TCP in two namespaces joined by a veth pair.
type vethPair struct {
	cli, srv *netns.NS
}

func newVethPair(mtu int, offload bool) (Pair, error) {
	cli, err := netns.New("bench-veth-cli")
	if err != nil {
		return nil, err
	}
	srv, err := netns.New("bench-veth-srv")
	if err != nil {
		cli.Close()
		return nil, err
	}
	p := &vethPair{cli: cli, srv: srv}
	if err := p.setUp(mtu, offload); err != nil {
		return nil, errors.Join(err, p.Close())
	}
	return p, nil
}

// setUp creates the veth inside the client's namespace with its peer in
// the server's (it never exists in this process's own namespace), gives
// both ends their address and MTU, sets the offloads and brings both up.
func (p *vethPair) setUp(mtu int, offload bool) error {
	ip := ipCommand()
	m := strconv.Itoa(mtu)
	if _, err := p.cli.Run(ip, "link", "add", vethCliIf, "mtu", m, "type", "veth",
		"peer", "name", vethSrvIf, "mtu", m, "netns", p.srv.Name()); err != nil {
		return fmt.Errorf("veth: %w", err)
	}
	for _, end := range []struct {
		ns   *netns.NS
		ifc  string
		addr netip.Addr
	}{{p.cli, vethCliIf, vethCliAddr}, {p.srv, vethSrvIf, vethSrvAddr}} {
		if _, err := end.ns.Run(ip, "addr", "add", netip.PrefixFrom(end.addr, 24).String(), "dev", end.ifc); err != nil {
			return fmt.Errorf("veth: %w", err)
		}
		if err := end.ns.Do(func() error { return checkOffloads(end.ifc, offload) }); err != nil {
			return fmt.Errorf("veth %s: %w", end.ifc, err)
		}
		if _, err := end.ns.Run(ip, "link", "set", end.ifc, "up"); err != nil {
			return fmt.Errorf("veth: %w", err)
		}
	}
	return nil
}

// checkOffloads turns the offloads of ifc off when !offload, and makes
// sure they are what the pair's name says: all off, or TSO and checksum
// offload on.
func checkOffloads(ifc string, offload bool) error {
	if !offload {
		if err := offloadsOff(ifc); err != nil {
			return err
		}
	}
	f, err := readOffloads(ifc)
	if err != nil {
		return err
	}
	switch {
	case offload && !(f.TSO && f.TxCsum):
		return fmt.Errorf("the kernel gave no TSO or checksum offload: %s", f)
	case !offload && f.any():
		return fmt.Errorf("offloads still on after turning them off: %s", f)
	}
	return nil
}

// ipCommand is iproute2's ip, found as internal/netns finds it (sbin may
// be missing from PATH).
func ipCommand() string {
	if p, err := exec.LookPath("ip"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "ip"
}

func (p *vethPair) Listen(port uint16) (net.Listener, error) {
	var l net.Listener
	err := p.srv.Do(func() (err error) {
		l, err = net.Listen("tcp4", netip.AddrPortFrom(vethSrvAddr, port).String())
		return err
	})
	return l, err
}

func (p *vethPair) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	var c net.Conn
	err := p.cli.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp4", netip.AddrPortFrom(vethSrvAddr, port).String())
		return err
	})
	return c, err
}

// Close deletes both namespaces; the veth goes with them.
func (p *vethPair) Close() error {
	return errors.Join(p.cli.Close(), p.srv.Close())
}

// Stats implements statsReporter: the kernel's own counters, summed over
// both namespaces (fresh for the run, so nothing else moves them):
// retransmitted segments, retransmission timeouts, and packets either end
// of the veth dropped. If a counter cannot be read it reports none.
func (p *vethPair) Stats() map[string]float64 {
	s := map[string]float64{"dropped": 0, "retransmits": 0, "timeouts": 0}
	for _, end := range []struct {
		ns  *netns.NS
		ifc string
	}{{p.cli, vethCliIf}, {p.srv, vethSrvIf}} {
		err := end.ns.Do(func() error {
			c, err := readKernelCounters(end.ifc)
			if err != nil {
				return err
			}
			s["dropped"] += c.dropped
			s["retransmits"] += c.retransmits
			s["timeouts"] += c.timeouts
			return nil
		})
		if err != nil {
			return nil // no figures rather than wrong ones
		}
	}
	return s
}
