package tcp

import (
	"testing"
	"time"

	"github.com/synack-tcp/synack/wire"
)

func ecnConfig() Config {
	cfg := testConfig()
	cfg.ECN, cfg.SendBuf, cfg.RecvBuf = true, 64000, 64000
	return cfg
}

// ectRecorder notes, for every segment, what SegmentECT says during the
// SendSegment call, as the stack's Sender asks it.
type ectRecorder struct {
	scratchHdr
	f   *fixture
	ect []bool
}

func (r *ectRecorder) SendSegment(h *wire.TCP, p1, p2 []byte) {
	r.ect = append(r.ect, r.f.c.SegmentECT())
	r.f.out.SendSegment(h, p1, p2)
}

// watchECT makes the fixture's TCB send through an ectRecorder.
func watchECT(f *fixture) *ectRecorder {
	r := &ectRecorder{f: f}
	f.c.out = r
	return r
}

// take returns the ECT marks recorded since the last call.
func (r *ectRecorder) take() []bool {
	e := r.ect
	r.ect = nil
	return e
}

// ecnEstablished: an active open that negotiated ECN (ISS 100, IRS 300).
func ecnEstablished(t *testing.T) (*fixture, *ectRecorder) {
	t.Helper()
	f := newFixture(t, ecnConfig())
	r := watchECT(f)
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN,ECE,CWR>")
	f.step(0, "<SEQ=300><ACK=101><CTL=SYN,ACK,ECE><WND=60000><MSS=1000>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	if !f.c.Status().ECN {
		t.Fatal("ECN not negotiated")
	}
	if e := r.take(); len(e) != 2 || e[0] || e[1] {
		t.Fatalf("SYN or ACK sent as ECT: %v", e)
	}
	return f, r
}

// RFC 3168 6.1.1: an ECN-setup SYN carries ECE and CWR; an ECN-setup
// SYN,ACK carries ECE alone; anything else leaves ECN off.
func TestECNNegotiationActive(t *testing.T) {
	ecnEstablished(t)
	for _, synAck := range []string{
		"<SEQ=300><ACK=101><CTL=SYN,ACK>",         // the peer does not do ECN
		"<SEQ=300><ACK=101><CTL=SYN,ACK,ECE,CWR>", // a reflecting middlebox: not an ECN-setup SYN,ACK
	} {
		f := newFixture(t, ecnConfig())
		f.c.OpenActive(0, 100)
		f.expect(SynSent, "<SEQ=100><CTL=SYN,ECE,CWR>")
		f.step(0, synAck, Established, "<SEQ=101><ACK=301><CTL=ACK>")
		if f.c.Status().ECN {
			t.Fatalf("ECN negotiated with %s", synAck)
		}
	}
	// Not configured: a plain SYN, and an ECE on the SYN,ACK means nothing.
	f := newFixture(t, testConfig())
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN>")
	f.step(0, "<SEQ=300><ACK=101><CTL=SYN,ACK,ECE>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	if f.c.Status().ECN {
		t.Fatal("ECN negotiated without being configured")
	}
}

// RFC 3168 6.1.1.1: a SYN sent again after a timeout is not an ECN-setup
// SYN (a middlebox may have dropped the first for its ECN bits), and
// having sent it, we do not use ECN even if the SYN,ACK grants it.
func TestECNSynRetransmissionFallsBack(t *testing.T) {
	f := newFixture(t, ecnConfig())
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN,ECE,CWR>")
	f.step(time.Second, "", SynSent, "<SEQ=100><CTL=SYN>")
	f.step(time.Second+time.Millisecond, "<SEQ=300><ACK=101><CTL=SYN,ACK,ECE>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	if f.c.Status().ECN {
		t.Fatal("ECN used after a non-ECN-setup SYN")
	}
}

// RFC 3168 6.1.1.1 lets a SYN sent again after a timeout stay an
// ECN-setup SYN: Config.ECNSynRetries of them keep ECE and CWR (FreeBSD's
// net.inet.tcp.ecn.maxretries), and a SYN,ACK granting ECN after one of
// them negotiates it. The retransmission past them goes without, and
// then ECN stays off.
func TestECNSynRetriesKeepECNSetup(t *testing.T) {
	cfg := ecnConfig()
	cfg.ECNSynRetries = 1
	f := newFixture(t, cfg)
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN,ECE,CWR>")
	f.step(time.Second, "", SynSent, "<SEQ=100><CTL=SYN,ECE,CWR>")
	f.step(time.Second+time.Millisecond, "<SEQ=300><ACK=101><CTL=SYN,ACK,ECE>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	if !f.c.Status().ECN {
		t.Fatal("ECN not negotiated after an ECN-setup SYN retransmission")
	}

	f = newFixture(t, cfg)
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN,ECE,CWR>")
	f.step(time.Second, "", SynSent, "<SEQ=100><CTL=SYN,ECE,CWR>")
	f.step(3*time.Second, "", SynSent, "<SEQ=100><CTL=SYN>")
	f.step(3*time.Second+time.Millisecond, "<SEQ=300><ACK=101><CTL=SYN,ACK,ECE>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	if f.c.Status().ECN {
		t.Fatal("ECN used after a non-ECN-setup SYN")
	}
}

func TestECNNegotiationPassive(t *testing.T) {
	for _, tc := range []struct {
		cfg    bool
		syn    string
		synAck string
		ok     bool
	}{
		{true, "<SEQ=100><CTL=SYN,ECE,CWR>", "<SEQ=300><ACK=101><CTL=SYN,ACK,ECE>", true},
		{false, "<SEQ=100><CTL=SYN,ECE,CWR>", "<SEQ=300><ACK=101><CTL=SYN,ACK>", false}, // refused
		{true, "<SEQ=100><CTL=SYN>", "<SEQ=300><ACK=101><CTL=SYN,ACK>", false},
		{true, "<SEQ=100><CTL=SYN,ECE>", "<SEQ=300><ACK=101><CTL=SYN,ACK>", false}, // not an ECN-setup SYN
	} {
		cfg := testConfig()
		cfg.ECN = tc.cfg
		f := newFixture(t, cfg)
		f.c.OpenPassive(300)
		f.step(0, tc.syn, SynReceived, tc.synAck)
		f.step(0, "<SEQ=101><ACK=301><CTL=ACK>", Established)
		if f.c.Status().ECN != tc.ok {
			t.Fatalf("configured %v, SYN %s: ECN %v", tc.cfg, tc.syn, f.c.Status().ECN)
		}
	}
}

// RFC 3168 6.1.3: a data segment marked CE makes the receiver set ECE on
// every ACK until a segment with CWR arrives; CE is one segment's mark.
func TestECNEchoUntilCWR(t *testing.T) {
	f, r := ecnEstablished(t)
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><LEN=100>", Established, "<SEQ=101><ACK=401><CTL=ACK>")
	f.c.SetCE(true)
	f.step(0, "<SEQ=401><ACK=101><CTL=ACK><LEN=100>", Established, "<SEQ=101><ACK=501><CTL=ACK,ECE>")
	f.step(0, "<SEQ=501><ACK=101><CTL=ACK><LEN=100>", Established, "<SEQ=101><ACK=601><CTL=ACK,ECE>")
	f.step(0, "<SEQ=601><ACK=101><CTL=ACK><LEN=100>", Established, "<SEQ=101><ACK=701><CTL=ACK,ECE>")
	f.write([]byte("reply"))
	f.expect(Established, "<SEQ=101><ACK=701><CTL=ACK,ECE><DATA=reply>") // data carries the echo too
	f.step(0, "<SEQ=701><ACK=106><CTL=ACK,CWR><LEN=100>", Established, "<SEQ=106><ACK=801><CTL=ACK>")
	f.step(0, "<SEQ=801><ACK=106><CTL=ACK><LEN=100>", Established, "<SEQ=106><ACK=901><CTL=ACK>")
	if e := r.take(); len(e) != 7 || e[4] != true || e[0] || e[6] {
		t.Fatalf("ECT marks %v: only the data segment is ECT", e)
	}
	if st := f.c.Status().Stats; st.CEReceived != 1 {
		t.Fatalf("%d CE marks counted", st.CEReceived)
	}
}

// Without ECN negotiated a CE mark is ignored.
func TestECNOffIgnoresCE(t *testing.T) {
	f := established(t, testConfig())
	f.c.SetCE(true)
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><LEN=100>", Established, "<SEQ=101><ACK=401><CTL=ACK>")
}

// RFC 3168 6.1.2: an ECN-Echo halves the window once per window of data,
// without retransmitting; the next new data segment carries CWR. New data
// is ECT; retransmissions are not (6.1.5).
func TestECNSenderReducesOncePerWindow(t *testing.T) {
	f, r := ecnEstablished(t)
	f.write(bytesOf(4000))
	f.expect(Established, repeat("<CTL=ACK><LEN=1000>", 4)...)
	if e := r.take(); len(e) != 4 || !e[0] || !e[3] {
		t.Fatalf("new data not ECT: %v", e)
	}
	before := f.c.Status()
	f.step(10*ms, "<SEQ=301><ACK=1101><CTL=ACK,ECE><WND=60000>", Established)
	after := f.c.Status()
	if after.Stats.ECNReductions != 1 || after.Cwnd >= before.Cwnd || after.Ssthresh >= before.Ssthresh {
		t.Fatalf("cwnd %d -> %d, ssthresh %d -> %d, reductions %d", before.Cwnd, after.Cwnd, before.Ssthresh, after.Ssthresh, after.Stats.ECNReductions)
	}
	// More echoes for the same window of data change nothing.
	f.step(11*ms, "<SEQ=301><ACK=2101><CTL=ACK,ECE><WND=60000>", Established)
	f.step(12*ms, "<SEQ=301><ACK=3101><CTL=ACK,ECE><WND=60000>", Established)
	if st := f.c.Status(); st.Stats.ECNReductions != 1 || st.Stats.Retransmits != 0 {
		t.Fatalf("reductions %d, retransmits %d", st.Stats.ECNReductions, st.Stats.Retransmits)
	}
	// The first new data segment after the reduction carries CWR.
	f.write(bytesOf(2000))
	f.expect(Established, "<SEQ=4101><CTL=ACK,CWR><LEN=1000>", "<SEQ=5101><CTL=ACK><LEN=1000>")
	if e := r.take(); len(e) != 2 || !e[0] || !e[1] {
		t.Fatalf("ECT marks %v", e)
	}
	// SND.UNA reaches the point recorded at the reduction, not past it:
	// that ACK's echo is still for the old window.
	f.step(13*ms, "<SEQ=301><ACK=4101><CTL=ACK,ECE><WND=60000>", Established)
	if n := f.c.Status().Stats.ECNReductions; n != 1 {
		t.Fatalf("%d reductions", n)
	}
	// Past it, a new echo means new congestion.
	cwnd := f.c.Status().Cwnd
	f.step(14*ms, "<SEQ=301><ACK=5101><CTL=ACK,ECE><WND=60000>", Established)
	if st := f.c.Status(); st.Stats.ECNReductions != 2 || st.Cwnd >= cwnd {
		t.Fatalf("reductions %d, cwnd %d -> %d", st.Stats.ECNReductions, cwnd, st.Cwnd)
	}
	// A retransmission (here after the RTO) is not ECT.
	f.step(3*time.Second, "", Established, "<SEQ=5101><CTL=ACK><LEN=1000>")
	if e := r.take(); len(e) != 1 || e[0] {
		t.Fatalf("retransmission ECT marks %v", e)
	}
}

// Until the CWR has gone out the receiver cannot have stopped echoing:
// an echo on the ACK of a FIN (which is not data, so carries no CWR) is
// still the old mark's and reduces nothing.
func TestECNEchoBeforeCWRIsOld(t *testing.T) {
	f, _ := ecnEstablished(t)
	f.write(bytesOf(1000))
	f.expect(Established, "<SEQ=101><CTL=ACK><LEN=1000>")
	f.step(10*ms, "<SEQ=301><ACK=1101><CTL=ACK,ECE><WND=60000>", Established)
	f.close()
	f.expect(FinWait1, "<SEQ=1101><CTL=FIN,ACK>")
	f.step(20*ms, "<SEQ=301><ACK=1102><CTL=ACK,ECE><WND=60000>", FinWait2)
	if n := f.c.Status().Stats.ECNReductions; n != 1 {
		t.Fatalf("%d reductions for one mark", n)
	}
}
