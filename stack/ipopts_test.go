package stack

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// ipRec records the IP-level facts of the data packets a stack writes, as
// their headers say them, and whether the PacketInfo agreed.
type ipRec struct {
	*sim.Endpoint
	data     []link.PacketInfo
	mismatch int
}

func (r *ipRec) WritePackets(pkts [][]byte, info []link.PacketInfo) (int, error) {
	for i, p := range pkts {
		hi := link.ReadInfo(p)
		if len(info) != len(pkts) || info[i] != hi {
			r.mismatch++
		}
		if _, seg, err := wire.ParseIP(p); err == nil && len(seg) > 32 {
			r.data = append(r.data, hi)
		}
	}
	return r.Endpoint.WritePackets(pkts, info)
}

// MUST-48 and MUST-49 (RFC 9293 3.9.1.9, 3.9.2): an application sets the
// DS field and the TTL (IPv4) or hop limit (IPv6) of its connection's
// segments, in mid-connection too (SHLD-21), with x/net/ipv4 and ipv6's
// method names; the DS bits reach IP unchanged (SHLD-22) and the ECN bits
// stay the stack's. The wrong family's call fails with ENOPROTOOPT, an
// out-of-range value with EINVAL, and -1 restores the default.
func TestIPOptionsPerConnection(t *testing.T) {
	a6, b6 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	for _, v6 := range []bool{false, true} {
		clk := clock.NewVirtual()
		ea, eb := sim.New(clk, 1, sim.Config{Delay: time.Millisecond}, sim.Config{Delay: time.Millisecond})
		rec := &ipRec{Endpoint: ea}
		a, _ := New(rec, Config{Addrs: []netip.Addr{addrA, a6}, Clock: clk})
		b, _ := New(eb, Config{Addrs: []netip.Addr{addrB, b6}, Clock: clk})
		to := netip.AddrPortFrom(addrB, 80)
		if v6 {
			to = netip.AddrPortFrom(b6, 80)
		}
		b.ListenTCP("tcp", to.String())
		n := &simNet{t: t, clk: clk, a: a, b: b}
		c, _ := a.Open(to)
		n.run(time.Second, func() bool { return c.State() == tcp.Established })
		set, get, wrongSet := c.SetTTL, c.TTL, c.SetHopLimit
		setDS, getDS := c.SetTOS, c.TOS
		if v6 {
			set, get, wrongSet = c.SetHopLimit, c.HopLimit, c.SetTTL
			setDS, getDS = c.SetTrafficClass, c.TrafficClass
		}
		if err := wrongSet(9); !errors.Is(err, syscall.ENOPROTOOPT) {
			t.Fatalf("v6=%v: the other family's setter: %v", v6, err)
		}
		for _, bad := range []int{0, 256, -2} {
			if err := set(bad); !errors.Is(err, syscall.EINVAL) {
				t.Fatalf("v6=%v: set(%d): %v", v6, bad, err)
			}
		}
		if err := set(7); err != nil {
			t.Fatal(err)
		}
		if err := setDS(0xb8 | 3); err != nil { // EF (DSCP 46), with ECN bits the stack ignores
			t.Fatal(err)
		}
		c.TryWrite(make([]byte, 1000))
		n.run(2*time.Second, func() bool { return false })
		if v, _ := get(); v != 7 {
			t.Fatalf("v6=%v: get %d", v6, v)
		}
		if v, _ := getDS(); v != 0xb8 {
			t.Fatalf("v6=%v: DS octet %#x", v6, v)
		}
		last := rec.data[len(rec.data)-1]
		if last.TTL != 7 || last.DS != 46 || last.ECN != 0 || last.DF == v6 {
			t.Fatalf("v6=%v: data packet %+v", v6, last)
		}
		set(-1)
		setDS(-1)
		c.TryWrite(make([]byte, 1000))
		n.run(4*time.Second, func() bool { return false })
		if last := rec.data[len(rec.data)-1]; last.TTL != 64 || last.DS != 0 {
			t.Fatalf("v6=%v: after -1: %+v", v6, last)
		}
		if rec.mismatch != 0 {
			t.Fatalf("v6=%v: %d packets with a PacketInfo unlike their header", v6, rec.mismatch)
		}
	}
}
