package tcp

import (
	"testing"
	"time"
)

// Config.RTOSlop (FreeBSD's net.inet.tcp.rexmit_slop) on a SYN: the
// initial RTO goes as it is (RFC 6298 2.1), each backed-off one (5.5)
// gets the slop once, not compounded with the doubling, and the sum is
// capped at MaxRTO (2.5): 1 s, 2 s + 0.2, 4 s + 0.2, then 8 s (8.2
// capped), 8 s.
func TestTimeoutRTOSlopOnSynBackoff(t *testing.T) {
	cfg := testConfig()
	cfg.RTOSlop = 200 * ms
	cfg.MaxRTO = 8 * sec
	f := newFixture(t, cfg)
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN>")
	f.expectRetransmissionsAt(SynSent, "<SEQ=100><CTL=SYN>", 1*sec, 3200*ms, 7400*ms, 15400*ms, 23400*ms)
	if st := f.c.Status(); st.RTO != 8*sec {
		t.Fatalf("RTO %v, want MaxRTO", st.RTO)
	}
}

// The slop on an RTO computed from a sample (RFC 6298 2.3) and on its
// backoff: SRTT 100 ms, RTTVAR 50 ms give 300 ms, and 500 ms with the
// slop; backed off, 600 ms + 0.2, then 1200 ms + 0.2.
func TestTimeoutRTOSlopAfterSample(t *testing.T) {
	cfg := testConfig()
	cfg.MinRTO = 100 * ms
	cfg.RTOSlop = 200 * ms
	f := newFixture(t, cfg)
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN>")
	f.step(100*ms, "<SEQ=300><ACK=101><CTL=SYN,ACK>", Established, "<CTL=ACK>")
	if st := f.c.Status(); st.SRTT != 100*ms || st.RTTVar != 50*ms || st.RTO != 500*ms {
		t.Fatalf("SRTT %v RTTVAR %v RTO %v, want 100ms 50ms 500ms", st.SRTT, st.RTTVar, st.RTO)
	}
	f.write([]byte("x"))
	f.expect(Established, "<DATA=x>")
	f.expectRetransmissionsAt(Established, "<SEQ=101><ACK=301><CTL=ACK><DATA=x>", 600*ms, 1400*ms, 2800*ms)
	if st := f.c.Status(); st.RTO != 2600*ms {
		t.Fatalf("RTO %v after three backoffs, want 2.4s + 0.2", st.RTO)
	}
}

// Zero-window probes (SHLD-29, SHLD-30) back off from the RTO without the
// slop and add it once: 1.2 s, then 2.2 s, 4.2 s, 8.2 s apart.
func TestTimeoutRTOSlopOnPersist(t *testing.T) {
	cfg := testConfig()
	cfg.RTOSlop = 200 * ms
	f := establishedWith(t, cfg, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=0>", Established)
	f.write([]byte("waiting"))
	f.expect(Established)
	probe := "<SEQ=100><ACK=301><CTL=ACK>"
	for _, a := range []time.Duration{1200 * ms, 3400 * ms, 7600 * ms, 15800 * ms} {
		f.step(a-1, "", Established)
		f.step(a, "", Established, probe)
		f.step(a+50*ms, "<SEQ=301><ACK=101><CTL=ACK><WND=0>", Established)
	}
}
