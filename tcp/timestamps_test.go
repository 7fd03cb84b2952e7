package tcp

import (
	"fmt"
	"testing"
	"time"

	"github.com/synack-tcp/synack/wire"
)

func tsConfig() Config {
	cfg := testConfig()
	cfg.Timestamps, cfg.TSOffset = true, 5000
	return cfg
}

// tsEstablished opens actively with timestamps at t=0: our TSval 5000, the
// peer's 700.
func tsEstablished(t *testing.T) *fixture {
	f := newFixture(t, tsConfig())
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN><TS=5000,0>")
	f.step(10*time.Millisecond, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><TS=700,5000>", Established,
		"<SEQ=101><ACK=301><CTL=ACK><TS=5010,700>")
	return f
}

// RFC 7323 3.2: negotiated when both SYNs carry the option; then every
// segment carries it, TSecr echoing TS.Recent; MUST-16: the effective MSS
// leaves room for it; 4.2: the SYN's echo gave an RTT sample.
func TestTimestampsNegotiated(t *testing.T) {
	f := tsEstablished(t)
	st := f.c.Status()
	if !st.Timestamps || st.SendMSS != 1000-12 {
		t.Fatalf("timestamps %v, send MSS %d (want 988)", st.Timestamps, st.SendMSS)
	}
	if st.SRTT != 10*time.Millisecond {
		t.Fatalf("SRTT %v after the handshake, want 10ms", st.SRTT)
	}
	f.write(bytesOf(1000))
	f.expect(Established, "<SEQ=101><ACK=301><CTL=ACK><LEN=988><TS=5010,700>", "<SEQ=1089><ACK=301><CTL=ACK><LEN=12><TS=5010,700>")
	f.step(30*time.Millisecond, "<SEQ=301><ACK=1101><CTL=ACK><TS=720,5010>", Established)
	f.write([]byte("x"))
	f.expect(Established, "<SEQ=1101><ACK=301><CTL=ACK><DATA=x><TS=5030,720>")
}

// Without the peer's option nothing is stamped (3.2).
func TestTimestampsNotNegotiated(t *testing.T) {
	f := newFixture(t, tsConfig())
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN><TS=5000,0>")
	f.step(0, "<SEQ=300><ACK=101><CTL=SYN,ACK>", Established, "<SEQ=101><ACK=301><CTL=ACK><NOTS=>")
	if f.c.Status().Timestamps {
		t.Fatal("negotiated without the peer")
	}
	// A passive side answers a SYN without the option without it.
	p := newFixture(t, tsConfig())
	p.c.OpenPassive(300)
	p.step(0, "<SEQ=100><CTL=SYN>", SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK><NOTS=>")
}

// A window-closing ACK whose TSval was corrupted far ahead (a change the
// checksum missed: soak seed 726510) becomes TS.Recent, and PAWS then drops
// every later segment of the peer, the answers to our zero-window probes
// among them. The probes go unanswered, so the connection gives up after
// R2 instead of probing for ever (MUST-37 protects answered probes only).
func TestZeroWindowProbesLockedOutByPAWS(t *testing.T) {
	f := tsEstablished(t)
	// 700 + 2^30: newer than TS.Recent in serial arithmetic, so accepted.
	f.step(20*time.Millisecond, "<SEQ=301><ACK=101><CTL=ACK><WND=0><TS=1073742524,5010>", Established)
	f.write([]byte("waiting"))
	f.expect(Established)
	for i := 0; i < 100 && f.c.State() == Established; i++ {
		f.advance(f.deadline())
		segs := f.out.segs
		f.out.segs = nil
		for _, s := range segs {
			if s.h.Flags&wire.RST == 0 && f.c.State() == Established {
				// The peer answers the probe, opening its window; PAWS
				// drops the answer (and acknowledges it, RFC 7323 5.3).
				f.stepAny(f.now+10*time.Millisecond, fmt.Sprintf("<SEQ=301><ACK=101><CTL=ACK><WND=4000><TS=%d,%d>", 720+i, s.h.Options.TSVal), Established)
			}
		}
	}
	if f.c.State() != Closed || f.c.Err() != ErrTimeout || f.now < 5*time.Minute || f.now > 7*time.Minute {
		t.Fatalf("%v, %v at %v", f.c.State(), f.c.Err(), f.now)
	}
	if st := f.c.Status().Stats; st.ZeroWindowProbes < 3 || st.PAWSDrops == 0 {
		t.Fatalf("%+v", st)
	}
}

// RFC 7323 5.3: PAWS drops a segment whose TSval is older than TS.Recent
// (an old duplicate from a previous wrap of the sequence space) and
// acknowledges; its data is not delivered.
func TestPAWS(t *testing.T) {
	f := tsEstablished(t)
	f.step(20*time.Millisecond, "<SEQ=301><ACK=101><CTL=ACK><DATA=new><TS=800,5010>", Established, "<SEQ=101><ACK=304><CTL=ACK><TS=5020,800>")
	// Same sequence space, older timestamp: dropped even though in window.
	f.step(21*time.Millisecond, "<SEQ=304><ACK=101><CTL=ACK><DATA=old><TS=799,5010>", Established, "<SEQ=101><ACK=304><CTL=ACK><TS=5021,800>")
	if got, _ := f.read(); got != "new" {
		t.Fatalf("delivered %q", got)
	}
	if f.c.ts.pawsDrops != 1 {
		t.Fatalf("PAWS drops %d", f.c.ts.pawsDrops)
	}
	// A reset is exempt from PAWS (5.3 R1).
	f.step(22*time.Millisecond, "<SEQ=304><CTL=RST><TS=1,0>", Closed)
}

// RFC 7323 5.3 acknowledges a segment PAWS drops, within the one limit on
// answers to unacceptable segments (RFC 5961 7; Linux's TCPACKSKIPPEDPAWS):
// at most one per 500 ms. When corrupted timestamps have pushed both ends'
// TS.Recent ahead of the other's clock, each drops the other's ACKs:
// answering every one made an ACK war of two segments per round trip until
// R2, 600,000 segments in five minutes (FuzzConnPair input
// c2005dad6b334377).
func TestPAWSDropAckThrottled(t *testing.T) {
	const ms = time.Millisecond
	f := tsEstablished(t) // TS.Recent 700
	ack := func(tsval int) string { return fmt.Sprintf("<SEQ=101><ACK=301><CTL=ACK><TS=%d,700>", tsval) }
	f.step(20*ms, "<SEQ=301><ACK=101><CTL=ACK><TS=699,5010>", Established, ack(5020))
	f.step(21*ms, "<SEQ=301><ACK=101><CTL=ACK><TS=699,5010>", Established)
	f.step(400*ms, "<SEQ=301><ACK=101><CTL=ACK><TS=699,5010>", Established)
	// Text too: one limit for every answer to an unacceptable segment
	// (RFC 5961 7, ratelimit.go), at most one per 500 ms.
	f.step(401*ms, "<SEQ=301><ACK=101><CTL=ACK><DATA=old><TS=699,5010>", Established)
	f.step(520*ms, "<SEQ=301><ACK=101><CTL=ACK><TS=699,5010>", Established, ack(5520))
	st := f.c.Status().Stats
	if st.ThrottledAcks != 3 || f.c.ts.pawsDrops != 5 {
		t.Fatalf("ThrottledAcks %d, PAWS drops %d; want 3, 5", st.ThrottledAcks, f.c.ts.pawsDrops)
	}
	if got, _ := f.read(); got != "" {
		t.Fatalf("delivered %q", got)
	}
}

// 3.2: once negotiated, a non-RST segment without the option is dropped.
func TestTimestampsMissingDropped(t *testing.T) {
	f := tsEstablished(t)
	f.step(20*time.Millisecond, "<SEQ=301><ACK=101><CTL=ACK><DATA=zz>", Established)
	if got, _ := f.read(); got != "" {
		t.Fatalf("delivered %q", got)
	}
}

// 4.2: after a retransmission Karn's rule discards the timed sample, but
// the echoed timestamp names the transmission that was acknowledged.
func TestTimestampRTTAfterRetransmission(t *testing.T) {
	f := tsEstablished(t)
	srtt := f.c.Status().SRTT
	f.write([]byte("abc"))
	f.expect(Established, "<SEQ=101><ACK=301><CTL=ACK><DATA=abc><TS=5010,700>")
	f.step(10*time.Millisecond+time.Second, "", Established, "<SEQ=101><ACK=301><CTL=ACK><DATA=abc><TS=6010,700>")
	// The ACK echoes the retransmission's TSval 6010, 50 ms later.
	f.step(10*time.Millisecond+time.Second+50*time.Millisecond, "<SEQ=301><ACK=104><CTL=ACK><TS=900,6010>", Established)
	if got := f.c.Status().SRTT; got == srtt || got < 10*time.Millisecond || got > 50*time.Millisecond {
		t.Fatalf("SRTT %v (was %v): want a 50 ms timestamp sample folded in", got, srtt)
	}
}

// Regression: callers on different goroutines may hand in instants out of
// order; TSval must still never go backwards, or the peer's PAWS drops our
// segments as old duplicates.
func TestTSValNeverBackwards(t *testing.T) {
	f := tsEstablished(t)
	f.now = 50 * time.Millisecond
	f.write([]byte("a"))
	f.expect(Established, "<SEQ=101><ACK=301><CTL=ACK><DATA=a><TS=5050,700>")
	f.now = 40 * time.Millisecond // an earlier instant, read before a lock was taken
	f.write([]byte("b"))
	f.expect(Established, "<SEQ=102><ACK=301><CTL=ACK><DATA=b><TS=5050,700>")
}

// Regression: without window scaling the field caps the window at 65535;
// a read that frees buffer behind that cap changes nothing the peer can
// see, and an update repeating the window would count as a duplicate ACK
// (RFC 5681 2) and trigger a spurious fast retransmit.
func TestNoWindowUpdateBehindTheCap(t *testing.T) {
	cfg := testConfig()
	cfg.RecvBuf = 200000
	f := established(t, cfg)
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><LEN=1000>", Established, "<SEQ=101><ACK=1301><CTL=ACK><WND=65535>")
	f.read()
	f.expect(Established) // the window was 65535 and still is: nothing to say
}
