package tcp

import (
	"strconv"
	"testing"
	"time"

	"github.com/synack-tcp/synack/seq"
)

const ms = time.Millisecond

// rackEstablished: ISS 100, peer ISS 300, SACK permitted both ways, MSS
// 1000, and an RTT of 100 ms measured on the handshake (now = 100 ms).
func rackEstablished(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, sackConfig())
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN><SACKOK=>")
	f.step(100*ms, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><SACKOK=><WND=60000>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	if st := f.c.Status(); st.SRTT != 100*ms || st.RTO != time.Second {
		t.Fatalf("SRTT %v, RTO %v after the handshake", st.SRTT, st.RTO)
	}
	return f
}

// RFC 8985 7: the last two segments of a flight are lost and no duplicate
// ACK comes. The probe timeout (2*SRTT after the last ACK) retransmits the
// last segment; its SACK lets RACK mark the other lost, and both are
// repaired long before the 1 s RTO.
func TestTLPRepairsTailLoss(t *testing.T) {
	f := rackEstablished(t)
	f.write(bytesOf(4000))
	f.expect(Established, repeat("<CTL=ACK><LEN=1000>", 4)...)
	// Segments 1 and 2 arrive; 3 and 4 are lost.
	f.step(200*ms, "<SEQ=301><ACK=2101><CTL=ACK><WND=60000>", Established)
	if d := f.deadline(); d != 400*ms {
		t.Fatalf("next deadline %v, want the PTO at 400ms (2*SRTT after the ACK)", d)
	}
	f.step(399*ms, "", Established)
	f.step(400*ms, "", Established, "<SEQ=3101><ACK=301><CTL=ACK><LEN=1000>") // the probe: the last segment again
	// The probe arrives: its SACK shows segment 3 missing, sent long before.
	f.step(500*ms, "<SEQ=301><ACK=2101><CTL=ACK><WND=60000><SACK=3101-4101>", Established, "<SEQ=2101><ACK=301><CTL=ACK><LEN=1000>")
	f.step(600*ms, "<SEQ=301><ACK=4101><CTL=ACK><WND=60000>", Established)
	st := f.c.Status().Stats
	if st.TLPProbes != 1 || st.RACKLost != 1 || st.RTOExpirations != 0 || st.Retransmits != 2 {
		t.Fatalf("probes %d, RACK lost %d, RTOs %d, retransmits %d", st.TLPProbes, st.RACKLost, st.RTOExpirations, st.Retransmits)
	}
	if st.TLPRecoveries != 0 {
		t.Fatalf("%d TLP recoveries: the probe did not repair the loss alone", st.TLPRecoveries)
	}
	f.noDeadline()
}

// With one segment in flight its ACK may be delayed: the PTO waits
// WCDelAckT (200 ms) more. The probe alone repairs the loss; a later ACK
// beyond it, with no D-SACK, shows the loss was real and the window is
// reduced (RFC 8985 7.4).
func TestTLPSingleSegment(t *testing.T) {
	f := rackEstablished(t)
	f.write(bytesOf(1000))
	f.expect(Established, "<SEQ=101><CTL=ACK><LEN=1000>")
	if d := f.deadline(); d != 500*ms {
		t.Fatalf("PTO at %v, want 2*SRTT + 200ms = 500ms", d)
	}
	f.step(500*ms, "", Established, "<SEQ=101><CTL=ACK><LEN=1000>")
	f.step(600*ms, "<SEQ=301><ACK=1101><CTL=ACK><WND=60000>", Established)
	cwnd := f.c.Status().Cwnd
	f.write(bytesOf(1000))
	f.expect(Established, "<SEQ=1101><CTL=ACK><LEN=1000>")
	f.step(700*ms, "<SEQ=301><ACK=2101><CTL=ACK><WND=60000>", Established)
	st := f.c.Status()
	if st.Stats.TLPProbes != 1 || st.Stats.TLPRecoveries != 1 || st.Stats.RTOExpirations != 0 {
		t.Fatalf("probes %d, recoveries %d, RTOs %d", st.Stats.TLPProbes, st.Stats.TLPRecoveries, st.Stats.RTOExpirations)
	}
	if st.Cwnd >= cwnd {
		t.Fatalf("cwnd %d, was %d: the repaired tail loss did not reduce it", st.Cwnd, cwnd)
	}
}

// A probe whose original arrived too draws a D-SACK: the retransmission
// was redundant and the window stays (RFC 8985 7.4).
func TestTLPRedundantProbe(t *testing.T) {
	f := rackEstablished(t)
	f.write(bytesOf(1000))
	f.expect(Established, "<SEQ=101><CTL=ACK><LEN=1000>")
	f.step(500*ms, "", Established, "<SEQ=101><CTL=ACK><LEN=1000>")
	f.step(550*ms, "<SEQ=301><ACK=1101><CTL=ACK><WND=60000>", Established)
	f.step(600*ms, "<SEQ=301><ACK=1101><CTL=ACK><WND=60000><SACK=101-1101>", Established)
	cwnd := f.c.Status().Cwnd
	f.write(bytesOf(1000))
	f.expect(Established, "<SEQ=1101><CTL=ACK><LEN=1000>")
	f.step(700*ms, "<SEQ=301><ACK=2101><CTL=ACK><WND=60000>", Established)
	if st := f.c.Status(); st.Stats.TLPRecoveries != 0 || st.Cwnd < cwnd {
		t.Fatalf("recoveries %d, cwnd %d (was %d)", st.Stats.TLPRecoveries, st.Cwnd, cwnd)
	}
}

// RFC 8985 7.3: when unsent data is waiting (here for the congestion
// window) the probe is a new segment; its SACK then shows the whole flight
// lost, and RACK marks every segment of it.
func TestTLPProbesWithNewData(t *testing.T) {
	f := rackEstablished(t)
	f.write(bytesOf(12000))
	f.expect(Established, repeat("<CTL=ACK><LEN=1000>", 10)...) // the initial window
	f.step(300*ms, "", Established, "<SEQ=10101><CTL=ACK><LEN=1000>")
	segs := f.stepAny(400*ms, "<SEQ=301><ACK=101><CTL=ACK><WND=60000><SACK=10101-11101>", Established)
	if len(segs) == 0 || segs[0].h.Seq != 101 {
		t.Fatalf("after the probe's SACK sent %v, want the flight again from 101", formatAll(segs))
	}
	if st := f.c.Status().Stats; st.TLPProbes != 1 || st.RACKLost != 10 || st.Retransmits == 0 {
		t.Fatalf("probes %d, RACK lost %d", st.TLPProbes, st.RACKLost)
	}
}

// RFC 8985 6.2: one SACK (a single duplicate ACK) is enough once the
// segment before it has been outstanding RACK.rtt + reo_wnd (here 100 ms +
// min_RTT/4): the reordering timer marks it lost and it is retransmitted,
// without waiting for three duplicates or the RTO.
func TestRACKMarksLostByTime(t *testing.T) {
	f := rackEstablished(t)
	f.write(bytesOf(4000))
	f.expect(Established, repeat("<CTL=ACK><LEN=1000>", 4)...)
	f.step(200*ms, "<SEQ=301><ACK=101><CTL=ACK><WND=60000><SACK=1101-2101>", Established)
	if d := f.deadline(); d != 225*ms {
		t.Fatalf("next deadline %v, want the RACK timer at 225ms", d)
	}
	f.step(224*ms, "", Established)
	f.step(225*ms, "", Established, "<SEQ=101><ACK=301><CTL=ACK><LEN=1000>")
	st := f.c.Status().Stats
	if st.RACKLost != 1 || st.DupAcksIn != 1 || st.FastRetransmits != 1 || st.RTOExpirations != 0 {
		t.Fatalf("RACK lost %d, dup ACKs %d, fast retransmits %d, RTOs %d", st.RACKLost, st.DupAcksIn, st.FastRetransmits, st.RTOExpirations)
	}
	f.step(325*ms, "<SEQ=301><ACK=4101><CTL=ACK><WND=60000>", Established)
	if f.c.inRecov {
		t.Fatal("still in recovery after the full ACK")
	}
	// The original arrives after all: a D-SACK. The retransmission was
	// spurious, so the reordering window grows to 2 * min_RTT/4
	// (6.2 step 4).
	f.step(330*ms, "<SEQ=301><ACK=4101><CTL=ACK><WND=60000><SACK=101-1101>", Established)
	if w := f.c.rackReoWnd(); w != 50*ms {
		t.Fatalf("reo_wnd %v after a D-SACK, want 50ms", w)
	}
}

// Mild reordering: the first segment comes in just after the second,
// within reo_wnd. Nothing is retransmitted, and the reordering is noted.
func TestRACKToleratesReordering(t *testing.T) {
	f := rackEstablished(t)
	f.write(bytesOf(4000))
	f.expect(Established, repeat("<CTL=ACK><LEN=1000>", 4)...)
	f.step(200*ms, "<SEQ=301><ACK=101><CTL=ACK><WND=60000><SACK=1101-2101>", Established)
	f.step(210*ms, "<SEQ=301><ACK=2101><CTL=ACK><WND=60000>", Established)
	f.step(220*ms, "<SEQ=301><ACK=2101><CTL=ACK><WND=60000><SACK=3101-4101>", Established)
	f.step(230*ms, "<SEQ=301><ACK=4101><CTL=ACK><WND=60000>", Established)
	f.step(2*time.Second, "", Established)
	st := f.c.Status().Stats
	if st.Retransmits != 0 || st.RACKLost != 0 || st.FastRetransmits != 0 {
		t.Fatalf("retransmits %d, RACK lost %d, fast retransmits %d", st.Retransmits, st.RACKLost, st.FastRetransmits)
	}
	if !f.c.rack.reorderingSeen {
		t.Fatal("reordering not seen")
	}
}

// RFC 8985 2.2: a retransmission that is lost too is detected by time,
// because a segment sent after it was delivered; it goes a third time
// without waiting for the RTO.
func TestRACKLostRetransmission(t *testing.T) {
	f := rackEstablished(t)
	f.write(bytesOf(4000))
	f.expect(Established, repeat("<CTL=ACK><LEN=1000>", 4)...)
	f.step(200*ms, "<SEQ=301><ACK=101><CTL=ACK><WND=60000><SACK=1101-2101>", Established)
	f.advance(220 * ms)
	f.write(bytesOf(2000))
	f.expect(Established, "<SEQ=4101><CTL=ACK><LEN=1000>", "<SEQ=5101><CTL=ACK><LEN=1000>")
	f.step(225*ms, "", Established, "<SEQ=101><CTL=ACK><LEN=1000>") // lost again
	f.advance(226 * ms)
	f.write(bytesOf(1000))
	f.expect(Established, "<SEQ=6101><CTL=ACK><LEN=1000>")
	// Everything but segment 1 arrives; segment 7, sent after the
	// retransmission, is delivered: the retransmission is lost.
	f.step(330*ms, "<SEQ=301><ACK=101><CTL=ACK><WND=60000><SACK=1101-7101>", Established, "<SEQ=101><CTL=ACK><LEN=1000>")
	f.step(430*ms, "<SEQ=301><ACK=7101><CTL=ACK><WND=60000>", Established)
	st := f.c.Status().Stats
	if st.RACKLost != 2 || st.RTOExpirations != 0 || st.Retransmits != 2 {
		t.Fatalf("RACK lost %d, RTOs %d, retransmits %d", st.RACKLost, st.RTOExpirations, st.Retransmits)
	}
}

// The segment ring holds what is in flight and is reused: a long transfer
// leaves it empty between flights and never grows it past its first size.
func TestRACKRingReused(t *testing.T) {
	f := rackEstablished(t)
	data := bytesOf(5000)
	una := 101
	for round := 0; round < 50; round++ {
		f.write(data)
		if segs := f.stepAny(f.now, "", Established); len(segs) != 5 {
			t.Fatalf("round %d: sent %d segments", round, len(segs))
		}
		if f.c.rack.n != 5 {
			t.Fatalf("round %d: %d entries for 5 segments in flight", round, f.c.rack.n)
		}
		una += 5000
		f.step(f.now+100*ms, "<SEQ=301><ACK="+strconv.Itoa(una)+"><CTL=ACK><WND=60000>", Established)
		if f.c.rack.n != 0 {
			t.Fatalf("round %d: %d entries left with nothing in flight", round, f.c.rack.n)
		}
	}
	if n := len(f.c.rack.segs); n != rackMinSegs {
		t.Fatalf("ring of %d entries for 5 segments in flight", n)
	}
}

// Two SACK TCBs against each other under loss, duplication and
// reordering, seed after seed: RACK-TLP must deliver every byte, keep its
// segment ring consistent (CheckInvariants after every event) and close.
func TestRACKPairSweep(t *testing.T) {
	cfg := Config{MSS: 1000, SendBuf: 32 << 10, RecvBuf: 32 << 10, MSL: time.Minute, SACK: true, ECN: true}
	nodelay := cfg
	nodelay.NoDelay = true
	for seed := int64(1); seed <= 24; seed++ {
		c := cfg
		if seed%2 == 0 {
			c = nodelay
		}
		sc := pairScenario{
			name: "sack", seed: 100 + seed, loss: 0.02 * float64(seed%5), dup: 0.02,
			jitter: time.Duration(seed%4) * 7 * time.Millisecond, cfg: c,
			issA: 0xffffff00, issB: seq.Value(seed * 7919), aBytes: 120 << 10, bBytes: 90 << 10, anyOrder: true,
		}
		t.Run(strconv.Itoa(int(seed)), func(t *testing.T) { runPair(t, sc) })
	}
}
