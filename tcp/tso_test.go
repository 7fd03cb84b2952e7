package tcp

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/synack-tcp/synack/wire"
)

// tsoConfig is testConfig with room for a flight of 16 segments and TSO
// allowed up to max bytes per segment.
func tsoConfig(max int, nodelay bool) Config {
	cfg := testConfig()
	cfg.SendBuf, cfg.RecvBuf, cfg.TSOMax, cfg.NoDelay = 64000, 64000, max, nodelay
	return cfg
}

// tsoEstablished is established against a peer offering MSS 1000 and a
// window of wnd.
func tsoEstablished(t *testing.T, cfg Config, wnd int) *fixture {
	return establishedWith(t, cfg, fmt.Sprintf("<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=%d>", wnd))
}

// sizes lists the payload size and flags of each segment sent since the
// last call.
func (f *fixture) sizes() []string {
	var r []string
	for _, s := range f.out.segs {
		r = append(r, fmt.Sprintf("%d%s", len(s.data), flagSuffix(s.h.Flags)))
	}
	f.out.segs = nil
	return r
}

func flagSuffix(fl wire.Flags) string {
	s := ""
	if fl&wire.PSH != 0 {
		s += "P"
	}
	if fl&wire.FIN != 0 {
		s += "F"
	}
	return s
}

func wantSizes(t *testing.T, f *fixture, what string, want ...string) {
	t.Helper()
	got := f.sizes()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: sent %v, want %v", what, got, want)
	}
}

// TestTSOWholePieces: with Nagle on (SHLD-7), a write of 5.5 MSS leaves as
// one segment of five whole MSS pieces without PSH (the queue goes on);
// the half piece waits, as it would sent one by one, until the flight is
// acknowledged, then goes with PSH (MUST-61).
func TestTSOWholePieces(t *testing.T) {
	f := tsoEstablished(t, tsoConfig(64000, false), 60000)
	f.write(bytesOf(5500))
	wantSizes(t, f, "write", "5000")
	f.c.Segment(f.now, &wire.TCP{Seq: 301, Ack: 5101, Flags: wire.ACK, Window: 60000}, nil)
	wantSizes(t, f, "after the ACK", "500P")
}

// TestTSONoDelayTail: with Nagle off (MUST-17) the tail piece joins: one
// segment, PSH on it (the kernel puts it on the last piece only).
func TestTSONoDelayTail(t *testing.T) {
	f := tsoEstablished(t, tsoConfig(64000, true), 60000)
	f.write(bytesOf(5500))
	wantSizes(t, f, "write", "5500P")
}

// TestTSOFin: a queued FIN lets the tail go at once and rides on the
// super-segment (RFC 9293 3.10.4: FIN after all queued data).
func TestTSOFin(t *testing.T) {
	f := tsoEstablished(t, tsoConfig(64000, false), 60000)
	if _, err := f.c.Send(f.now, bytesOf(5500)); err != nil {
		t.Fatal(err)
	}
	f.out.segs = nil // the first 5000 went already
	f.close()
	wantSizes(t, f, "close", "500PF")
}

// TestTSOCork: corked, even with Nagle off, only whole pieces go; the
// tail waits for the cork to come off.
func TestTSOCork(t *testing.T) {
	f := tsoEstablished(t, tsoConfig(64000, true), 60000)
	f.c.SetCork(f.now, true)
	f.write(bytesOf(5500))
	wantSizes(t, f, "corked write", "5000")
	f.c.SetCork(f.now, false)
	wantSizes(t, f, "uncorked", "500P")
}

// TestTSOWindows: the super-segment stays within the peer's window
// (MUST-34), the congestion window and TSOMax, in whole MSS pieces: the
// window's odd 500 bytes are not filled by a short piece (MUST-38).
func TestTSOWindows(t *testing.T) {
	f := tsoEstablished(t, tsoConfig(64000, true), 3500)
	f.write(bytesOf(8000))
	wantSizes(t, f, "peer window 3500", "3000")

	f = tsoEstablished(t, tsoConfig(4500, true), 60000)
	f.write(bytesOf(20000))
	cwnd := f.c.Status().Cwnd
	var want []string
	for sent := 0; sent+1000 <= cwnd; sent += 4000 {
		want = append(want, fmt.Sprint(min(4000, (cwnd-sent)/1000*1000)))
	}
	wantSizes(t, f, fmt.Sprintf("TSOMax 4500, cwnd %d", cwnd), want...)
}

// TestTSORetransmitOneMSS: after a timeout the data is resent one MSS at a
// time (RFC 6298 5.4: the earliest segment), not as the super-segment it
// left in.
func TestTSORetransmitOneMSS(t *testing.T) {
	f := tsoEstablished(t, tsoConfig(64000, true), 60000)
	f.write(bytesOf(6000))
	wantSizes(t, f, "write", "6000P")
	f.advance(f.deadline())
	segs := f.out.segs
	if len(segs) != 1 || len(segs[0].data) != 1000 || segs[0].h.Seq != 101 {
		t.Fatalf("after the RTO: %v", formatAll(segs))
	}
}

// cut splits a super-segment as the kernel's GSO does: pieces of mss
// bytes, each with the header's sequence number advanced, PSH and FIN
// only on the last.
func cut(segs []sent, mss int) []sent {
	var r []sent
	for _, s := range segs {
		if len(s.data) <= mss {
			r = append(r, s)
			continue
		}
		last := s.h.Flags & (wire.PSH | wire.FIN)
		for off := 0; off < len(s.data); off += mss {
			p := s
			p.h.Seq = s.h.Seq + uint32(off)
			p.data = s.data[off:min(off+mss, len(s.data))]
			p.h.Flags &^= wire.PSH | wire.FIN
			if off+mss >= len(s.data) {
				p.h.Flags |= last
			}
			r = append(r, p)
		}
	}
	return r
}

// TestTSOSameAsPieces drives one connection with TSO and one without
// through the same random writes, closes, windows and ACKs: what the TSO
// sender emits, cut at the MSS as the kernel cuts it, is segment for
// segment (sequence numbers, flags, bytes) what the other sends, so
// Nagle (SHLD-7), sender SWS avoidance (MUST-38), the windows (MUST-34) and
// PSH (MUST-61) hold per piece.
func TestTSOSameAsPieces(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		nodelay := rng.IntN(2) == 0
		wnd := []int{2500, 7000, 30000, 60000}[rng.IntN(4)]
		plain := tsoEstablished(t, tsoConfig(0, nodelay), wnd)
		tso := tsoEstablished(t, tsoConfig(1000+rng.IntN(40000), nodelay), wnd)
		acked, high := uint32(101), uint32(101)
		closed := false
		for round := 0; round < 30; round++ {
			switch op := rng.IntN(10); {
			case op < 5 && !closed:
				p := bytesOf(1 + rng.IntN(7000))
				plain.c.Send(plain.now, p)
				tso.c.Send(tso.now, p)
			case op == 5 && !closed && round > 10:
				plain.close()
				tso.close()
				closed = true
			default:
				// The peer acknowledges everything sent so far, with a
				// window that may move.
				acked = high
				if rng.IntN(3) == 0 {
					wnd = []int{2500, 7000, 30000, 60000}[rng.IntN(4)]
				}
				h := wire.TCP{Seq: 301, Ack: acked, Flags: wire.ACK, Window: uint16(wnd)}
				h2 := h
				plain.c.Segment(plain.now, &h, nil)
				tso.c.Segment(tso.now, &h2, nil)
			}
			want, got := plain.out.segs, cut(tso.out.segs, 1000)
			for _, s := range want {
				e := s.h.Seq + uint32(len(s.data))
				if s.h.Flags&wire.FIN != 0 {
					e++
				}
				if e-high < 1<<31 {
					high = e
				}
			}
			if len(got) != len(want) {
				t.Fatalf("seed %d round %d: TSO sent %v (cut: %d), one by one %v", seed, round, formatAll(tso.out.segs), len(got), formatAll(want))
			}
			for i := range want {
				w, g := want[i], got[i]
				if w.h.Seq != g.h.Seq || w.h.Flags != g.h.Flags || !bytes.Equal(w.data, g.data) {
					t.Fatalf("seed %d round %d piece %d: TSO %s, one by one %s", seed, round, i, format(g), format(w))
				}
			}
			plain.out.segs, tso.out.segs = nil, nil
			plain.check()
			tso.check()
		}
	}
}

// TestTSOPairTransfer runs the pair transfers of TestPairTransfer with
// TSO on both ends, the network cutting every super-segment at the MSS as
// the kernel does and then losing, duplicating and reordering the pieces
// one by one: both byte streams arrive whole and every byte is
// acknowledged (RFC 9293 3.8.1, RFC 6675 and RFC 8985 repairing pieces of
// one transmission), and so without the cutting (a peer taking the
// super-segment as it came, as over GRO). Then a sweep of seeds.
func TestTSOPairTransfer(t *testing.T) {
	base := Config{MSS: 1000, SendBuf: 64 << 10, RecvBuf: 64 << 10, MSL: time.Minute, WindowScale: true, SACK: true, Timestamps: true, TSOMax: 16000}
	nodelay := base
	nodelay.NoDelay = true
	small := base
	small.SendBuf, small.RecvBuf = 4<<10, 3<<10 // zero windows, persist probing
	scs := []pairScenario{
		{name: "clean", seed: 11, cfg: base, cut: 1000, issA: 1000, issB: 2000000, aBytes: 300 << 10, bBytes: 200 << 10},
		{name: "lossy", seed: 22, loss: 0.03, dup: 0.02, jitter: 15 * time.Millisecond, cfg: base, cut: 1000, issA: 0xffffff00, issB: 5, aBytes: 300 << 10, bBytes: 300 << 10, wantLoss: true},
		{name: "lossy nodelay", seed: 20, loss: 0.05, dup: 0.02, jitter: 25 * time.Millisecond, cfg: nodelay, cut: 1000, issA: 77, issB: 0xfffffff0, aBytes: 200 << 10, bBytes: 300 << 10, wantLoss: true},
		{name: "heavy loss", seed: 14, loss: 0.12, dup: 0.05, jitter: 30 * time.Millisecond, cfg: base, cut: 1000, issA: 1, issB: 2, aBytes: 100 << 10, bBytes: 100 << 10, wantLoss: true},
		{name: "uncut lossy", seed: 27, loss: 0.05, dup: 0.02, jitter: 15 * time.Millisecond, cfg: base, issA: 9, issB: 10, aBytes: 200 << 10, bBytes: 200 << 10, wantLoss: true},
	}
	for seed := int64(100); seed < 140; seed++ {
		for _, c := range []Config{base, nodelay, small} {
			scs = append(scs, pairScenario{name: fmt.Sprintf("sweep %d", seed), seed: seed, loss: 0.06, dup: 0.02, jitter: 20 * time.Millisecond,
				cfg: c, cut: 1000 * int(seed%2), issA: 0xffffff00, issB: 3, aBytes: 60 << 10, bBytes: 90 << 10, anyOrder: true})
		}
	}
	for _, sc := range scs {
		t.Run(sc.name, func(t *testing.T) { runPair(t, sc) })
	}
}
