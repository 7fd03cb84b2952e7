package stack

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// rawPeer is an attacker that is itself the peer: a hand-driven TCP end
// writing raw segments from its own address to a synack server.
type rawPeer struct {
	n         *vnet
	port      *vport
	addr, srv netip.AddrPort
	nxt, rcv  uint32 // our SND.NXT, and the server's sequence number we expect
	onSeg     func(h *wire.TCP, payload []byte)
}

func (n *vnet) rawPeer(addr, srv netip.AddrPort) *rawPeer {
	p := &rawPeer{n: n, addr: addr, srv: srv, nxt: 5000}
	p.port = n.port(addr.Addr())
	p.port.Attach(link.ReceiverFunc(func(pkts [][]byte, _ []link.PacketInfo) {
		for _, b := range pkts {
			_, seg, err := wire.ParseIP(b)
			if err != nil {
				continue
			}
			var h wire.TCP
			payload, err := h.Parse(seg)
			if err == nil && p.onSeg != nil {
				p.onSeg(&h, payload)
			}
		}
	}))
	return p
}

// send writes one segment to the server.
func (p *rawPeer) send(h wire.TCP, payload []byte) {
	if h.Window == 0 {
		h.Window = 65535
	}
	p.port.WritePackets([][]byte{rawSeg(p.addr, p.srv, h, payload)}, nil)
}

// connect completes a handshake with the server's listener l, with opts
// on the SYN, and returns the server's end.
func (p *rawPeer) connect(t *testing.T, l *Listener, opts wire.Options) *Conn {
	t.Helper()
	done := false
	p.onSeg = func(h *wire.TCP, _ []byte) {
		if h.Flags == wire.SYN|wire.ACK && !done {
			done = true
			p.rcv = h.Seq + 1
			p.nxt++
			p.send(wire.TCP{Seq: p.nxt, Ack: p.rcv, Flags: wire.ACK}, nil)
		}
	}
	p.send(wire.TCP{Seq: p.nxt, Flags: wire.SYN, Options: opts}, nil)
	var c *Conn
	if !p.n.runUntil(3*time.Second, func() {
		if c == nil {
			c, _ = l.TryAccept()
		}
	}, func() bool { return c != nil }) {
		t.Fatal("raw peer: no connection")
	}
	p.onSeg = nil
	return c
}

// Land attack: a SYN from the server's own address and port to itself,
// with timestamps. It is a martian (martian.go) and draws nothing: no
// packet in the first second (target: under 20), none in ten, no loop.
func TestHostileLandAttack(t *testing.T) {
	n := newVnet(t)
	srv, sp := n.stack(hostSrv, Config{})
	if _, err := srv.ListenTCP("tcp", ":80"); err != nil {
		t.Fatal(err)
	}
	self := netip.AddrPortFrom(hostSrv, 80)
	n.deliver([][]byte{rawSeg(self, self, wire.TCP{Seq: 1, Flags: wire.SYN, Window: 65535, Options: synOpts(77)}, nil)})
	n.runFor(10*time.Second, nil)
	t.Logf("land: %d packets in the first second, %d in ten; %d martians", sp.total(0, 1), sp.total(0, 10), srv.Stats().Martian.Load())
	if sp.total(0, 1) >= 20 || sp.total(0, 10) != 0 || srv.Stats().Martian.Load() != 1 || srv.NumConns() != 0 {
		t.Fatalf("land attack drew %d packets (first second %d), %d conns", sp.total(0, 10), sp.total(0, 1), srv.NumConns())
	}
}

// Two synack peers whose TS.Recent an on-path attacker poisoned at both
// ends (one valid-looking segment each way with a TSval 2^30 ahead): each
// end's segments now fail the other's PAWS test (RFC 7323 5.3) and draw
// an ACK that fails PAWS in turn. The rate limit keeps that under 10
// packets per second each way (it was 900-3,500).
func TestHostilePoisonedTSRecent(t *testing.T) {
	n := newVnet(t)
	_, _, cc, sc, cp, sp := n.pair(Config{})
	last := map[netip.Addr]wire.TCP{}
	n.sniff = func(ip wire.IPHeader, h *wire.TCP, _ []byte) { last[ip.Src] = *h }
	n.exchange(cc, sc, 1000, 1) // some traffic for the attacker to see
	n.runFor(time.Second, nil)
	for _, dir := range [][2]netip.Addr{{hostCli, hostSrv}, {hostSrv, hostCli}} {
		h := last[dir[0]]
		h.Options.TSVal += 1 << 30
		h.Options.NumSACK = 0
		h.Flags = wire.ACK
		n.deliver([][]byte{rawSeg(netip.AddrPortFrom(dir[0], h.SrcPort), netip.AddrPortFrom(dir[1], h.DstPort), h, nil)})
	}
	n.sniff = nil
	n.runFor(time.Second, nil)
	start := int(n.clk.Now()/time.Second) + 1
	n.runFor(time.Second-n.clk.Now()%time.Second, nil)
	cc.TryWrite([]byte("after the poisoning"))
	sc.TryWrite([]byte("both ways"))
	n.runFor(10*time.Second, nil)
	pc, ps := cp.peak(start, start+10), sp.peak(start, start+10)
	t.Logf("poisoned TS.Recent: client peak %d/s (%d in 10 s), server peak %d/s (%d in 10 s); PAWS drops %d/%d",
		pc, cp.total(start, start+10), ps, sp.total(start, start+10), cc.Status().Stats.PAWSDrops, sc.Status().Stats.PAWSDrops)
	if cc.Status().Stats.PAWSDrops == 0 || sc.Status().Stats.PAWSDrops == 0 {
		t.Fatal("the attack did not poison both ends")
	}
	if pc >= 10 || ps >= 10 {
		t.Fatalf("%d and %d packets per second, want under 10 each way", pc, ps)
	}
}

// A reflector: a peer that answers every segment with an ACK of data
// never sent (RFC 5961 5.2: unacceptable, answered with an ACK). Each
// answer would draw another; the rate limit keeps the server at 2 such
// answers a second (it was 1,001).
func TestHostileReflector(t *testing.T) {
	n := newVnet(t)
	srv, sp := n.stack(hostSrv, Config{})
	l, _ := srv.ListenTCP("tcp", ":80")
	p := n.rawPeer(netip.MustParseAddrPort("10.0.0.66:4000"), netip.AddrPortFrom(hostSrv, 80))
	c := p.connect(t, l, wire.Options{HasMSS: true, MSS: 1460})
	acks := map[int]int{}
	p.onSeg = func(h *wire.TCP, payload []byte) {
		if len(payload) == 0 {
			acks[int(p.n.clk.Now()/time.Second)]++
		}
		p.send(wire.TCP{Seq: p.nxt, Ack: h.Seq + 1_000_000, Flags: wire.ACK}, nil)
	}
	n.runFor(time.Second-n.clk.Now()%time.Second, nil)
	start := int(n.clk.Now() / time.Second)
	c.TryWrite([]byte("hello"))
	n.runFor(10*time.Second, nil)
	peak := 0
	for s := start; s < start+10; s++ {
		peak = max(peak, acks[s])
	}
	t.Logf("reflector: server sent %d packets in 10 s (peak %d/s), %d ACKs peak per second", sp.total(start, start+10), sp.peak(start, start+10), peak)
	if peak > 2 || sp.peak(start, start+10) > 4 {
		t.Fatalf("server answered %d/s (%d packets/s in all)", peak, sp.peak(start, start+10))
	}
}

// SACK blocks that leave 1-byte holes: the peer SACKs every segment but
// its first byte. Retransmissions still go out in whole segments: none
// under 48 bytes (Linux's tcp_min_snd_mss) unless the data ends there
// (there were 578).
func TestHostileSACKOneByteHoles(t *testing.T) {
	n := newVnet(t)
	srv, _ := n.stack(hostSrv, Config{})
	l, _ := srv.ListenTCP("tcp", ":80")
	p := n.rawPeer(netip.MustParseAddrPort("10.0.0.66:4000"), netip.AddrPortFrom(hostSrv, 80))
	c := p.connect(t, l, wire.Options{HasMSS: true, MSS: 1460, SACKPermitted: true})
	const size = 256 << 10
	dataEnd := p.rcv + size
	var highest uint32 = p.rcv
	var blocks []wire.SACKBlock
	tiny, segs, rtx := 0, 0, 0
	p.onSeg = func(h *wire.TCP, payload []byte) {
		if len(payload) == 0 {
			return
		}
		segs++
		end := h.Seq + uint32(len(payload))
		if seq.Value(h.Seq).LessThan(seq.Value(highest)) {
			rtx++
			if len(payload) < 48 && end != dataEnd {
				tiny++
			}
		}
		if seq.Value(end).GreaterThan(seq.Value(highest)) {
			highest = end
		}
		if len(payload) > 1 {
			blocks = append([]wire.SACKBlock{{Left: h.Seq + 1, Right: end}}, blocks...)
		}
		ack := wire.TCP{Seq: p.nxt, Ack: p.rcv, Flags: wire.ACK}
		for i := 0; i < len(blocks) && i < 4; i++ {
			ack.Options.SACK[i] = blocks[i]
			ack.Options.NumSACK++
		}
		p.send(ack, nil)
	}
	w := &side{c: c, out: randomBytes(9, size)}
	n.runUntil(20*time.Second, w.pump, func() bool { return w.sent == size && rtx > 50 })
	t.Logf("SACK 1-byte holes: %d data segments, %d retransmissions, %d under 48 bytes", segs, rtx, tiny)
	if rtx == 0 {
		t.Fatal("no retransmissions: the attack did not bite")
	}
	if tiny != 0 {
		t.Fatalf("%d retransmissions under 48 bytes", tiny)
	}
}

// A peer announcing a 1-byte MSS (MUST-15, MUST-16 bound what we send by
// it) cannot make the server spray 1-byte segments: the send MSS has a
// floor of 64 bytes, so 10 KB goes out in at most 160 segments.
func TestHostileTinyMSS(t *testing.T) {
	n := newVnet(t)
	srv, _ := n.stack(hostSrv, Config{})
	l, _ := srv.ListenTCP("tcp", ":80")
	p := n.rawPeer(netip.MustParseAddrPort("10.0.0.66:4000"), netip.AddrPortFrom(hostSrv, 80))
	c := p.connect(t, l, wire.Options{HasMSS: true, MSS: 1})
	got, segs, small := 0, 0, 0
	p.onSeg = func(h *wire.TCP, payload []byte) {
		if len(payload) == 0 || h.Seq != p.rcv {
			return
		}
		segs++
		if len(payload) < 64 {
			small++
		}
		got += len(payload)
		p.rcv += uint32(len(payload))
		p.send(wire.TCP{Seq: p.nxt, Ack: p.rcv, Flags: wire.ACK}, nil)
	}
	w := &side{c: c, out: randomBytes(3, 10_000)}
	n.runUntil(30*time.Second, w.pump, func() bool { return got == 10_000 })
	t.Logf("tiny MSS: 10000 bytes in %d segments, %d under 64 bytes", segs, small)
	if got != 10_000 || segs > 160 || small > 1 {
		t.Fatalf("%d bytes in %d segments (%d small)", got, segs, small)
	}
}

// Out-of-order and SACK floods from the peer itself: 20,000 segments at
// random offsets of the window that never fill its first byte, then
// 20,000 ACKs with random SACK blocks. Reassembly stays within the
// receive buffer, the server's answers are bounded, and once the hole is
// filled the server reads exactly the stream the peer wrote.
func TestHostileOutOfOrderAndSACKFloods(t *testing.T) {
	n := newVnet(t)
	srv, sp := n.stack(hostSrv, Config{})
	l, _ := srv.ListenTCP("tcp", ":80")
	p := n.rawPeer(netip.MustParseAddrPort("10.0.0.66:4000"), netip.AddrPortFrom(hostSrv, 80))
	c := p.connect(t, l, wire.Options{HasMSS: true, MSS: 1460, SACKPermitted: true})
	p.onSeg = func(*wire.TCP, []byte) {}
	stream := randomBytes(5, 60_000)
	r := rand.New(rand.NewPCG(4, 4))
	before := heapNow()
	n.runFor(time.Second-n.clk.Now()%time.Second, nil)
	start := int(n.clk.Now() / time.Second)
	n.every(100*time.Microsecond, 2*time.Second, func() {
		off := 1 + r.IntN(len(stream)-1001)
		p.send(wire.TCP{Seq: p.nxt + uint32(off), Ack: p.rcv, Flags: wire.ACK}, stream[off:off+1+r.IntN(1000)])
	})
	n.runFor(2*time.Second, nil)
	grow := int64(heapNow()) - int64(before)
	st := c.Status()
	w := &side{c: c, out: randomBytes(6, 200_000)}
	p.onSeg = func(h *wire.TCP, payload []byte) {
		ack := wire.TCP{Seq: p.nxt, Ack: p.rcv, Flags: wire.ACK}
		for i := 0; i < 4; i++ {
			l := h.Seq + r.Uint32N(100_000)
			ack.Options.SACK[i] = wire.SACKBlock{Left: l, Right: l + 1 + r.Uint32N(3000)}
		}
		ack.Options.NumSACK = 4
		p.send(ack, nil)
	}
	n.runUntil(2*time.Second, w.pump, func() bool { return false })
	sackOut := sp.total(start+2, start+4)
	p.onSeg = nil
	for off := 0; off < len(stream); off += 1000 { // now the stream, in order
		p.send(wire.TCP{Seq: p.nxt + uint32(off), Ack: p.rcv, Flags: wire.ACK | wire.PSH}, stream[off:min(off+1000, len(stream))])
	}
	rd := &side{c: c}
	n.runUntil(5*time.Second, rd.pump, func() bool { return len(rd.got) >= len(stream) })
	t.Logf("floods: 20000 out-of-order segments (%d beyond what reassembly tracks), heap %+.1f MiB; server sent %d packets under 2 s of SACK flood",
		st.Stats.ReassemblyOverflowSegs, float64(grow)/(1<<20), sackOut)
	if grow > 4<<20 || st.RecvBuf > 4<<20 {
		t.Fatalf("heap grew %d, receive buffer %d", grow, st.RecvBuf)
	}
	if sackOut > 400 {
		t.Fatalf("server sent %d packets under the SACK flood", sackOut)
	}
	if len(rd.got) < len(stream) || string(rd.got[:len(stream)]) != string(stream) {
		t.Fatalf("read %d bytes, not the peer's stream", len(rd.got))
	}
	if c.State() != tcp.Established {
		t.Fatalf("state %v", c.State())
	}
}

// Malformed packets: 100,000 mutations of valid segments (bit flips with
// the checksum fixed, truncations, random bytes, bad option lengths) into
// a server with a listener and an established connection. No panic, every
// TCB invariant holds, and the connection's stream is intact afterwards.
func TestHostileMalformedPackets(t *testing.T) {
	n := newVnet(t)
	_, ss, cc, sc, _, _ := n.pair(Config{})
	r := rand.New(rand.NewPCG(8, 8))
	from := netip.AddrPortFrom(hostCli, cc.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port())
	to := netip.AddrPortFrom(hostSrv, 80)
	st := sc.Status()
	base := []wire.TCP{
		{Seq: uint32(st.RcvNxt), Ack: uint32(st.SndNxt), Flags: wire.ACK, Window: 1000, Options: guessTS(r)},
		{Seq: 1, Flags: wire.SYN, Window: 1000, Options: synOpts(1)},
		{Seq: uint32(st.RcvNxt), Flags: wire.RST},
	}
	for i := 0; i < 100_000; i++ {
		h := base[r.IntN(len(base))]
		src := from
		if r.IntN(2) == 0 {
			src = netip.AddrPortFrom(hostCli, uint16(r.UintN(65536)))
		}
		b := rawSeg(src, to, h, randomBytes(uint64(i), r.IntN(40)))
		switch r.IntN(4) {
		case 0: // flip bits in the TCP header, fix the checksum
			for j := 0; j < 1+r.IntN(4); j++ {
				b[20+r.IntN(len(b)-20)] ^= 1 << r.UintN(8)
			}
			wire.SetTCPChecksum(src.Addr(), to.Addr(), b[20:])
		case 1: // truncate
			b = b[:r.IntN(len(b))]
		case 2: // random bytes after a valid IP header
			for j := 20; j < len(b); j++ {
				b[j] = byte(r.Uint32())
			}
			wire.SetTCPChecksum(src.Addr(), to.Addr(), b[20:])
		case 3: // flip anything
			b[r.IntN(len(b))] ^= 1 << r.UintN(8)
		}
		ss.DeliverPackets([][]byte{b}, nil)
	}
	for _, c := range ss.Conns() {
		c.mu.Lock()
		err := c.tcb.CheckInvariants()
		c.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	st2 := ss.Stats()
	t.Logf("malformed: %d in, %d bad IP, %d bad TCP, %d bad checksum", st2.PacketsIn.Load(), st2.MalformedIP.Load(), st2.MalformedTCP.Load(), st2.BadChecksum.Load())
	if sc.State() != tcp.Established && sc.State() != tcp.Closed {
		t.Fatalf("state %v", sc.State())
	}
	if sc.State() == tcp.Established {
		n.exchange(cc, sc, 50_000, 8)
	}
}
