package stack

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// The hostile-peer suite: an attacker that writes raw packets onto the
// link of synack stacks, one test per attack class, each deterministic
// under a virtual clock and asserting the bounds the stack promises:
// packets out per virtual second, legitimate connections that still
// succeed, memory, resets, and the integrity of the byte stream. The
// README's "Under attack" table lists them.

// vnet is a virtual network under one clock: each address belongs to a
// port (a link.Endpoint a stack attaches to, or a raw receiver), and a
// packet written anywhere arrives at its destination's port after delay.
// Packets to addresses nobody holds vanish, as the answers to spoofed
// sources do. Each port counts what it writes per virtual second.
type vnet struct {
	t     testing.TB
	clk   *clock.Virtual
	delay time.Duration
	ports map[netip.Addr]*vport
	sniff func(ip wire.IPHeader, h *wire.TCP, payload []byte) // an on-path observer
}

type vport struct {
	n    *vnet
	recv link.Receiver
	sent map[int]int // packets written, by virtual second
}

func newVnet(t testing.TB) *vnet {
	return &vnet{t: t, clk: clock.NewVirtual(), delay: time.Millisecond, ports: map[netip.Addr]*vport{}}
}

// port makes the port for addrs.
func (n *vnet) port(addrs ...netip.Addr) *vport {
	p := &vport{n: n, sent: map[int]int{}}
	for _, a := range addrs {
		n.ports[a] = p
	}
	return p
}

// stack makes a stack on a port of its own for addr.
func (n *vnet) stack(addr netip.Addr, cfg Config) (*Stack, *vport) {
	p := n.port(addr)
	cfg.Addrs, cfg.Clock = []netip.Addr{addr}, n.clk
	if cfg.Secret == nil {
		cfg.Secret = []byte(addr.String())
	}
	s, err := New(p, cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { s.Close() })
	return s, p
}

func (p *vport) MTU() int               { return 1500 }
func (p *vport) Attach(r link.Receiver) { p.recv = r }
func (p *vport) Close() error           { return nil }

// WritePackets implements link.Endpoint.
func (p *vport) WritePackets(pkts [][]byte, _ []link.PacketInfo) (int, error) {
	sec := int(p.n.clk.Now() / time.Second)
	for _, b := range pkts {
		p.sent[sec]++
		p.n.deliver([][]byte{append([]byte(nil), b...)})
	}
	return len(pkts), nil
}

// deliver carries packets (all to one destination) to their port.
func (n *vnet) deliver(pkts [][]byte) {
	ip, seg, err := wire.ParseIP(pkts[0])
	if err != nil {
		return
	}
	if n.sniff != nil {
		var h wire.TCP
		if p, err := h.Parse(seg); err == nil {
			n.sniff(ip, &h, p)
		}
	}
	p := n.ports[ip.Dst]
	if p == nil || p.recv == nil {
		return
	}
	n.clk.AfterFunc(n.delay, func() { p.recv.DeliverPackets(pkts, nil) })
}

// total is how many packets p wrote in virtual seconds [from, to).
func (p *vport) total(from, to int) int {
	n := 0
	for s := from; s < to; s++ {
		n += p.sent[s]
	}
	return n
}

// peak is the most packets p wrote in one virtual second of [from, to).
func (p *vport) peak(from, to int) int {
	m := 0
	for s := from; s < to; s++ {
		m = max(m, p.sent[s])
	}
	return m
}

// runFor advances the clock by d, calling poll (if set) after each event.
func (n *vnet) runFor(d time.Duration, poll func()) {
	end := n.clk.Now() + d
	for {
		at, ok := n.clk.Next()
		if !ok || at > end {
			break
		}
		n.clk.Step()
		if poll != nil {
			poll()
		}
	}
	n.clk.RunUntil(end)
}

// every runs f every interval from now until d has passed.
func (n *vnet) every(interval, d time.Duration, f func()) {
	end := n.clk.Now() + d
	var tick func()
	tick = func() {
		f()
		if n.clk.Now()+interval < end {
			n.clk.AfterFunc(interval, tick)
		}
	}
	n.clk.AfterFunc(0, tick)
}

// heapNow is the live heap: two collections, so that what sync.Pools
// dropped at the first (their victim caches) is gone too.
func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

var (
	hostSrv = netip.MustParseAddr("10.0.0.2")
	hostCli = netip.MustParseAddr("10.0.0.1")
)

// synOpts are the options a Linux or synack client puts on its SYN.
func synOpts(tsval uint32) wire.Options {
	return wire.Options{HasMSS: true, MSS: 1460, HasWScale: true, WScale: 7, SACKPermitted: true, HasTimestamps: true, TSVal: tsval}
}

// 100,000 spoofed SYNs per second for 2.5 s (RFC 4987): the SYN queue
// fills in 41 ms, every further SYN is answered with a cookie and no
// state, and 20 of 20 legitimate connections opened during the flood
// reach ESTABLISHED and are accepted within 3 s; the stack's heap grows by
// at most 16 MiB; the half-opens are gone 63 s after their SYNs. Without
// cookies (the second half) the legitimate connections fail, as the issue
// found.
func TestHostileSynFlood(t *testing.T) {
	for _, cookies := range []bool{true, false} {
		n := newVnet(t)
		srv, _ := n.stack(hostSrv, Config{})
		cli, _ := n.stack(hostCli, Config{})
		l, err := srv.ListenWith(ListenConfig{NoSynCookies: !cookies}, "tcp", ":80")
		if err != nil {
			t.Fatal(err)
		}
		before := heapNow()
		rng := rand.New(rand.NewPCG(1, 2))
		const perMs, flood = 100, 2500 * time.Millisecond
		dst := netip.AddrPortFrom(hostSrv, 80)
		n.every(time.Millisecond, flood, func() {
			batch := make([][]byte, perMs)
			for i := range batch {
				src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(rng.UintN(256)), byte(rng.UintN(256))}), uint16(1024+rng.UintN(60000)))
				h := wire.TCP{Seq: rng.Uint32(), Flags: wire.SYN, Window: 64240, Options: synOpts(rng.Uint32())}
				batch[i] = rawSeg(src, dst, h, nil)
			}
			n.deliver(batch)
		})
		type legit struct {
			c      *Conn
			opened time.Duration
			est    time.Duration
		}
		conns := make([]*legit, 20)
		for i := range conns {
			i := i
			n.clk.AfterFunc(100*time.Millisecond+time.Duration(i)*100*time.Millisecond, func() {
				c, err := cli.Open(dst)
				if err != nil {
					t.Error(err)
					return
				}
				conns[i] = &legit{c: c, opened: n.clk.Now()}
			})
		}
		accepted := map[netip.AddrPort]time.Duration{}
		var peak uint64
		poll := func() {
			for {
				c, _ := l.TryAccept()
				if c == nil {
					break
				}
				accepted[c.RemoteAddr().(*net.TCPAddr).AddrPort()] = n.clk.Now()
			}
			for _, lc := range conns {
				if lc != nil && lc.est == 0 && lc.c.State() == tcp.Established {
					lc.est = n.clk.Now()
				}
			}
		}
		n.runFor(flood, poll)
		peak = heapNow()
		n.runFor(3*time.Second, poll)
		ok, worst := 0, time.Duration(0)
		for _, lc := range conns {
			at, acc := accepted[lc.c.LocalAddr().(*net.TCPAddr).AddrPort()]
			if lc.est != 0 && acc && at-lc.opened <= 3*time.Second {
				ok++
				worst = max(worst, at-lc.opened)
			}
		}
		st := srv.Stats()
		grow := int64(peak) - int64(before)
		half := srv.NumConns() - ok
		t.Logf("cookies %v: %d of 20 legitimate connects succeeded (slowest %v); heap grew %.1f MiB with %d half-open (%d bytes each); %d SYNs in, %d cookies sent, %d valid, %d overflowed",
			cookies, ok, worst, float64(grow)/(1<<20), half, grow/int64(max(half, 1)), st.PacketsIn.Load(), st.SynCookiesSent.Load(), st.SynCookiesValid.Load(), st.ListenOverflow.Load())
		if cookies {
			if ok != 20 {
				t.Fatalf("%d of 20 legitimate connects succeeded within 3 s", ok)
			}
			if grow > 16<<20 {
				t.Fatalf("heap grew %d bytes during the flood, more than 16 MiB", grow)
			}
			if st.SynCookiesValid.Load() != 20 {
				t.Fatalf("%d valid cookies, want the 20 legitimate connects", st.SynCookiesValid.Load())
			}
			// The flood's half-opens give up after 5 SYN,ACK retries
			// (63 s from their SYN), leaving the 20 legitimate ones.
			n.runFor(61*time.Second, nil)
			if srv.NumConns() != 20 {
				t.Fatalf("%d connections 66.5 s after the flood began, want the 20 legitimate ones", srv.NumConns())
			}
		} else if ok != 0 {
			t.Fatalf("without cookies %d legitimate connects succeeded; the test no longer floods", ok)
		}
	}
}

// runUntil advances the clock, calling poll after each event, until cond
// holds or limit of virtual time has passed; it reports whether cond held.
func (n *vnet) runUntil(limit time.Duration, poll func(), cond func() bool) bool {
	end := n.clk.Now() + limit
	if poll != nil {
		poll()
	}
	for !cond() {
		at, ok := n.clk.Next()
		if !ok || at > end {
			return cond()
		}
		n.clk.Step()
		if poll != nil {
			poll()
		}
	}
	return true
}

// pair opens a connection from a client stack to a server stack on the
// network and returns both ends, ESTABLISHED.
func (n *vnet) pair(cfg Config) (cs, ss *Stack, cc, sc *Conn, cp, sp *vport) {
	t := n.t
	ss, sp = n.stack(hostSrv, cfg)
	cs, cp = n.stack(hostCli, cfg)
	l, err := ss.ListenTCP("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	cc, err = cs.Open(netip.AddrPortFrom(hostSrv, 80))
	if err != nil {
		t.Fatal(err)
	}
	if !n.runUntil(5*time.Second, func() {
		if sc == nil {
			sc, _ = l.TryAccept()
		}
	}, func() bool { return sc != nil && cc.State() == tcp.Established }) {
		t.Fatal("no connection")
	}
	return cs, ss, cc, sc, cp, sp
}

// exchange moves size bytes each way over a and b and checks that each
// side read exactly what the other wrote: the stream is intact.
func (n *vnet) exchange(a, b *Conn, size int, seed uint64) {
	t := n.t
	sa := &side{c: a, out: randomBytes(seed, size)}
	sb := &side{c: b, out: randomBytes(seed+1, size)}
	ok := n.runUntil(60*time.Second, func() { sa.pump(); sb.pump() },
		func() bool { return len(sa.got) >= size && len(sb.got) >= size })
	if sa.err != nil || sb.err != nil || !ok {
		t.Fatalf("exchange: errors %v, %v; got %d and %d of %d", sa.err, sb.err, len(sa.got), len(sb.got), size)
	}
	if string(sa.got) != string(sb.out) || string(sb.got) != string(sa.out) {
		t.Fatal("exchange: the stream was corrupted")
	}
}
