package tcp

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

func sackConfig() Config {
	cfg := testConfig()
	cfg.SACK, cfg.SendBuf, cfg.RecvBuf = true, 64000, 64000
	return cfg
}

// sackEstablished: ISS 100, peer ISS 300, SACK permitted both ways, MSS 1000.
func sackEstablished(t *testing.T) *fixture {
	f := newFixture(t, sackConfig())
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN><SACKOK=>")
	f.step(0, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><SACKOK=><WND=60000>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	if !f.c.Status().SACK {
		t.Fatal("SACK not negotiated")
	}
	return f
}

// RFC 2018 4: out-of-order data is reported, the block holding the latest
// arrival first; RFC 2883: a duplicate is reported in a D-SACK block.
func TestSACKReceiver(t *testing.T) {
	f := sackEstablished(t)
	f.step(0, "<SEQ=1301><ACK=101><CTL=ACK><LEN=1000>", Established, "<SEQ=101><ACK=301><CTL=ACK><SACK=1301-2301>")
	f.step(0, "<SEQ=3301><ACK=101><CTL=ACK><LEN=1000>", Established, "<SEQ=101><ACK=301><CTL=ACK><SACK=3301-4301,1301-2301>")
	f.step(0, "<SEQ=2301><ACK=101><CTL=ACK><LEN=1000>", Established, "<SEQ=101><ACK=301><CTL=ACK><SACK=1301-4301>")
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><LEN=1000>", Established, "<SEQ=101><ACK=4301><CTL=ACK>")
	// The first segment again: a duplicate, reported as a D-SACK block.
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><LEN=1000>", Established, "<SEQ=101><ACK=4301><CTL=ACK><SACK=301-1301>")
	if f.c.Status().Stats.DSACKsSent != 1 {
		t.Fatal("D-SACK not counted")
	}
}

// RFC 6675: with the first of ten segments lost, SACKs for the rest mark it
// lost; it alone is retransmitted, and the full ACK ends recovery.
func TestSACKRecoveryRetransmitsOnlyTheHole(t *testing.T) {
	f := sackEstablished(t)
	f.write(bytesOf(10000))
	if segs := f.expect(Established, repeat("<CTL=ACK><LEN=1000>", 10)...); len(segs) != 10 {
		t.Fatal("initial window")
	}
	// Segments 2..4 arrive: three ACKs of SND.UNA with growing SACK blocks.
	f.step(time.Millisecond, "<SEQ=301><ACK=101><CTL=ACK><WND=60000><SACK=1101-2101>", Established)
	f.step(time.Millisecond, "<SEQ=301><ACK=101><CTL=ACK><WND=60000><SACK=1101-3101>", Established)
	segs := f.stepAny(time.Millisecond, "<SEQ=301><ACK=101><CTL=ACK><WND=60000><SACK=1101-4101>", Established)
	if len(segs) == 0 || segs[0].h.Seq != 101 || len(segs[0].data) != 1000 {
		t.Fatalf("recovery sent %v, want the hole at 101 first", formatAll(segs))
	}
	for _, s := range segs[1:] {
		if seq.Value(s.h.Seq).LessThan(11101) {
			t.Fatalf("retransmitted SACKed data: %s", format(s))
		}
	}
	f.step(2*time.Millisecond, "<SEQ=301><ACK=10101><CTL=ACK><WND=60000>", Established)
	st := f.c.Status()
	if st.Stats.SACKRetransmits != 1 || st.Stats.RTOExpirations != 0 || f.c.inRecov {
		t.Fatalf("SACK retransmits %d, RTOs %d, in recovery %v", st.Stats.SACKRetransmits, st.Stats.RTOExpirations, f.c.inRecov)
	}
}

// After a timeout the sender goes back to SND.UNA but skips what the peer
// SACKed: SACKed data is never resent by the RTO.
func TestRTOSkipsSACKed(t *testing.T) {
	f := sackEstablished(t)
	f.write(bytesOf(4000))
	f.expect(Established, repeat("<CTL=ACK><LEN=1000>", 4)...)
	f.step(time.Millisecond, "<SEQ=301><ACK=101><CTL=ACK><WND=60000><SACK=1101-2101>", Established)
	segs := f.stepAny(time.Second+time.Millisecond, "", Established)
	f.advance(5 * time.Second)
	segs = append(segs, f.out.segs...)
	f.out.segs = nil
	for _, s := range segs {
		if s.h.Seq == 1101 {
			t.Fatalf("RTO resent the SACKed segment: %v", formatAll(segs))
		}
	}
	if len(segs) == 0 || segs[0].h.Seq != 101 {
		t.Fatalf("after the timeout sent %v", formatAll(segs))
	}
}

// A hostile peer's confetti of SACK blocks costs bounded memory: the
// scoreboard holds at most maxScoreboard ranges, and invariants hold.
func TestSACKScoreboardBounded(t *testing.T) {
	f := sackEstablished(t)
	f.write(bytesOf(60000))
	f.stepAny(0, "", Established)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		h := wire.TCP{Seq: 301, Ack: 101, Flags: wire.ACK, Window: 60000}
		for b := 0; b < 4; b++ {
			l := 101 + r.Uint32N(60000)
			h.Options.SACK[b] = wire.SACKBlock{Left: l, Right: l + 1 + r.Uint32N(3)}
		}
		h.Options.NumSACK = 4
		f.c.Segment(f.now, &h, nil)
		f.check()
		f.out.segs = nil
	}
	if n := len(f.c.board.ranges); n > maxScoreboard {
		t.Fatalf("%d ranges", n)
	}
}

func repeat(s string, n int) []string {
	r := make([]string, n)
	for i := range r {
		r[i] = s
	}
	return r
}
