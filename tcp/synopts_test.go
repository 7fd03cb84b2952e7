package tcp

import (
	"errors"
	"testing"
	"time"
)

// Config.SynOptRetries (FreeBSD's net.inet.tcp.rexmit_drop_options):
// two retransmissions of the SYN still offer window scaling, timestamps
// and SACK; the third and later carry the MSS option alone (SHLD-5), and
// a SYN,ACK that offers the three anyway negotiates none of them (RFC
// 7323 2.2, 3.2; RFC 2018 2: only what our SYN offered).
func TestSynOptRetriesDropOptions(t *testing.T) {
	cfg := testConfig()
	cfg.WindowScale, cfg.Timestamps, cfg.SACK = true, true, true
	cfg.SynOptRetries = 2
	f := newFixture(t, cfg)
	f.c.OpenActive(0, 100)
	full := func(s []sent) bool {
		o := s[0].h.Options
		return o.HasMSS && o.HasWScale && o.HasTimestamps && o.SACKPermitted
	}
	if !full(f.expect(SynSent, "<SEQ=100><CTL=SYN><MSS=1000>")) {
		t.Fatal("the first SYN lacks an option")
	}
	for _, at := range []time.Duration{1, 3} {
		if !full(f.step(at*sec, "", SynSent, "<SEQ=100><CTL=SYN><MSS=1000>")) {
			t.Fatalf("the SYN retransmitted at %vs lacks an option", at)
		}
	}
	for _, at := range []time.Duration{7, 15} {
		o := f.step(at*sec, "", SynSent, "<SEQ=100><CTL=SYN><MSS=1000>")[0].h.Options
		if o.HasWScale || o.HasTimestamps || o.SACKPermitted {
			t.Fatalf("the SYN retransmitted at %vs still offers options: %+v", at, o)
		}
	}
	f.step(15*sec+time.Millisecond, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WS=7><TS=5,0><SACKOK>",
		Established, "<SEQ=101><ACK=301><CTL=ACK><NOTS>")
	if st := f.c.Status(); st.WindowScale || st.Timestamps || st.SACK || st.SendMSS != 1000 {
		t.Fatalf("negotiated WS %v TS %v SACK %v, MSS %d: want none, 1000", st.WindowScale, st.Timestamps, st.SACK, st.SendMSS)
	}

	// Default: every retransmission offers them.
	cfg.SynOptRetries = 0
	f = newFixture(t, cfg)
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN>")
	for _, at := range []time.Duration{1, 3, 7, 15} {
		if !full(f.step(at*sec, "", SynSent, "<SEQ=100><CTL=SYN><MSS=1000>")) {
			t.Fatalf("default: the SYN retransmitted at %vs lacks an option", at)
		}
	}
}

// Config.SynTimeout (FreeBSD's TCP_KEEPINIT) is a deadline: an active
// OPEN fails exactly 5 s after its SYN, between retransmission timeouts
// (SYNs at 0, 1 and 3 s; the next would be at 7 s), unlike R2Syn, which
// is checked at them (TestTimeoutSynR2). Nothing goes out: the connection
// closes as at R2 (3.8.3), without a reset.
// A simultaneous open in SYN-RECEIVED is bound by it too.
func TestSynTimeoutDeadline(t *testing.T) {
	cfg := testConfig()
	cfg.SynTimeout = 5 * sec
	f := inState(t, cfg, SynSent)
	f.expectRetransmissionsAt(SynSent, "<SEQ=100><CTL=SYN>", 1*sec, 3*sec)
	f.step(5*sec-1, "", SynSent)
	f.step(5*sec, "", Closed)
	if !errors.Is(f.c.Err(), ErrTimeout) || f.lastCause() != CauseRetransmit {
		t.Fatalf("Err %v, cause %q", f.c.Err(), f.lastCause())
	}

	g := activeSynReceived(t, cfg)
	g.expectRetransmissionsAt(SynReceived, "<SEQ=100><ACK=301><CTL=SYN,ACK>", 1*sec, 3*sec)
	g.step(5*sec-1, "", SynReceived)
	g.step(5*sec, "", Closed)

	// Once ESTABLISHED it no longer applies.
	h := established(t, cfg)
	h.step(10*sec, "", Established)
	if _, ok := h.c.NextDeadline(); ok {
		t.Fatal("a timer armed on an idle connection")
	}
}
