package tcp

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/synack-tcp/synack/wire"
)

// RFC 9293 3.10.2 SEND call, CLOSED state: "error: connection does not
// exist". LISTEN: synack's listeners never turn active on SEND (3.10.2
// allows it; the stack opens a new TCB instead), so the same error.
func TestSendClosedAndListenErrNotExist(t *testing.T) {
	f := newFixture(t, testConfig())
	if n, err := f.c.Send(0, []byte("x")); n != 0 || !errors.Is(err, ErrNotExist) {
		t.Fatalf("Send on CLOSED = %d, %v; want 0, ErrNotExist", n, err)
	}
	f.expect(Closed)
	f = inState(t, testConfig(), Listen)
	if n, err := f.c.Send(0, []byte("x")); n != 0 || !errors.Is(err, ErrNotExist) {
		t.Fatalf("Send on LISTEN = %d, %v; want 0, ErrNotExist", n, err)
	}
	f.expect(Listen)
}

// RFC 9293 3.10.2, FIN-WAIT-1, FIN-WAIT-2, CLOSING, LAST-ACK, TIME-WAIT:
// "error: connection closing" and do not service the request.
func TestSendAfterCloseErrClosing(t *testing.T) {
	for _, s := range []State{FinWait1, FinWait2, Closing, LastAck, TimeWait} {
		t.Run(s.String(), func(t *testing.T) {
			f := inState(t, testConfig(), s)
			if n, err := f.c.Send(f.now, []byte("x")); n != 0 || !errors.Is(err, ErrClosing) {
				t.Fatalf("Send = %d, %v; want 0, ErrClosing", n, err)
			}
			f.expect(s)
			if q := f.c.Status().SendQueued; q != 0 {
				t.Fatalf("%d bytes queued", q)
			}
		})
	}
	// A CLOSE issued in SYN-RECEIVED waits for ESTABLISHED (3.10.4), but
	// SEND after it is already an error.
	f := inState(t, testConfig(), SynReceived)
	f.close()
	f.expect(SynReceived)
	if _, err := f.c.Send(f.now, []byte("x")); !errors.Is(err, ErrClosing) {
		t.Fatalf("Send after CLOSE in SYN-RECEIVED = %v, want ErrClosing", err)
	}
}

// RFC 9293 3.10.2 CLOSED after a reset: the user learns why (MUST-12).
func TestSendAfterResetReportsReset(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=301><CTL=RST>", Closed)
	if _, err := f.c.Send(f.now, []byte("x")); !errors.Is(err, ErrReset) {
		t.Fatalf("Send after RST = %v, want ErrReset", err)
	}
}

// RFC 9293 3.10.2, SYN-SENT and SYN-RECEIVED: queue the data for
// transmission after entering ESTABLISHED. The first data segment then
// carries the ACK of the handshake.
func TestSendQueuedBeforeEstablished(t *testing.T) {
	f := inState(t, testConfig(), SynSent)
	f.write([]byte("hello"))
	f.expect(SynSent)
	f.step(0, "<SEQ=300><ACK=101><CTL=SYN,ACK>", Established, "<SEQ=101><ACK=301><CTL=ACK><DATA=hello>")

	f = inState(t, testConfig(), SynReceived)
	f.write([]byte("hi"))
	f.expect(SynReceived)
	f.step(0, "<SEQ=101><ACK=301><CTL=ACK>", Established, "<SEQ=301><ACK=101><CTL=ACK><DATA=hi>")
}

// RFC 9293 3.10.2, ESTABLISHED: segmentize the buffer and send it with a
// piggybacked acknowledgment (ACK = RCV.NXT), in segments of the effective
// send MSS (MUST-16), PSH on the last queued segment only (MUST-61).
func TestSendSegmentizesWithPiggybackedAck(t *testing.T) {
	f := establishedWith(t, testConfig(), "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	data := bytesOf(2500)
	f.write(data)
	segs := f.expect(Established,
		"<SEQ=101><ACK=301><CTL=ACK><LEN=1000>",
		"<SEQ=1101><ACK=301><CTL=ACK><LEN=1000>",
		"<SEQ=2101><ACK=301><CTL=ACK><LEN=500>")
	var got []byte
	for i, s := range segs {
		got = append(got, s.data...)
		if psh := s.h.Flags&wire.PSH != 0; psh != (i == len(segs)-1) {
			t.Errorf("segment %d PSH=%v", i, psh)
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("segments do not carry the bytes sent")
	}
}

// RFC 9293 3.10.2, CLOSE-WAIT: sending continues after the peer's FIN.
func TestSendInCloseWait(t *testing.T) {
	f := inState(t, testConfig(), CloseWait)
	f.write([]byte("bye"))
	f.expect(CloseWait, "<SEQ=101><ACK=302><CTL=ACK><DATA=bye>")
}

// RFC 9293 3.10.2 "If there is insufficient space ..." : SEND takes what
// the buffer holds and says how much; a full buffer takes nothing.
func TestSendBufferFull(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=0>", Established)
	n, err := f.c.Send(f.now, bytesOf(10000))
	if n != 8000 || err != nil {
		t.Fatalf("Send = %d, %v; want 8000, nil", n, err)
	}
	if n, err := f.c.Send(f.now, []byte("x")); n != 0 || err != nil || f.c.SendSpace() != 0 {
		t.Fatalf("Send on a full buffer = %d, %v (space %d)", n, err, f.c.SendSpace())
	}
	f.expect(Established)
}

// RFC 9293 3.7.4 Nagle (SHLD-7), MUST-17 (NoDelay turns it off): while
// data is unacknowledged, a short segment waits for the ACK; full segments
// always go; the held bytes go together when the ACK comes (MUST-60: not
// indefinitely).
func TestSendNagle(t *testing.T) {
	cfg := testConfig()
	cfg.NoDelay = false
	f := establishedWith(t, cfg, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	f.write([]byte("a"))
	f.expect(Established, "<SEQ=101><ACK=301><CTL=ACK><DATA=a>")
	f.write([]byte("b"))
	f.write([]byte("c"))
	f.expect(Established) // "a" is in flight: hold
	f.step(10*time.Millisecond, "<SEQ=301><ACK=102><CTL=ACK>", Established, "<SEQ=102><ACK=301><CTL=ACK><DATA=bc>")
	// A full-sized segment goes even with data in flight; its tail waits.
	f.write(bytesOf(1001))
	f.expect(Established, "<SEQ=104><ACK=301><CTL=ACK><LEN=1000>")
	f.step(20*time.Millisecond, "<SEQ=301><ACK=104><CTL=ACK>", Established) // 1000 bytes still in flight
	f.step(30*time.Millisecond, "<SEQ=301><ACK=1104><CTL=ACK>", Established, "<SEQ=1104><ACK=301><CTL=ACK><LEN=1>")
	// CLOSE pushes what is held, with the FIN.
	f.write([]byte("z"))
	f.expect(Established)
	f.close()
	f.expect(FinWait1, "<SEQ=1105><ACK=301><CTL=FIN,ACK><DATA=z>")
}

// MUST-17: with NoDelay every SEND goes out at once.
func TestSendNoDelay(t *testing.T) {
	f := establishedWith(t, testConfig(), "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	f.write([]byte("a"))
	f.expect(Established, "<SEQ=101><ACK=301><CTL=ACK><DATA=a>")
	f.write([]byte("b"))
	f.expect(Established, "<SEQ=102><ACK=301><CTL=ACK><DATA=b>")
	f.write([]byte("c"))
	f.expect(Established, "<SEQ=103><ACK=301><CTL=ACK><DATA=c>")
}

// RFC 9293 3.8.6.2.1 sender SWS avoidance (MUST-38): with a usable window
// smaller than a segment and below Fs*Max(SND.WND), nothing goes until the
// override timeout, which then sends what fits.
func TestSendSWSOverrideTimeout(t *testing.T) {
	f := establishedWith(t, testConfig(), "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=300>", Established)
	f.write(bytesOf(1000))
	f.expect(Established)
	d := f.deadline()
	if d <= 0 || d > time.Second {
		t.Fatalf("override timeout at %v, want within (0, 1s] (3.8.6.2.1)", d)
	}
	f.step(d-1, "", Established)
	f.step(d, "", Established, "<SEQ=101><ACK=301><CTL=ACK><LEN=300>")
}

// MUST-38: while data is in flight only full-sized segments go; the
// remainder waits for the window to allow a full segment (or all of it).
func TestSendSWSFullSegmentsOnly(t *testing.T) {
	f := establishedWith(t, testConfig(), "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=2500>", Established)
	f.write(bytesOf(3000))
	f.expect(Established,
		"<SEQ=101><ACK=301><CTL=ACK><LEN=1000>",
		"<SEQ=1101><ACK=301><CTL=ACK><LEN=1000>") // 500 usable: not worth it
	// Usable window 1101+1400-2101 = 400: still short of a segment.
	f.step(10*time.Millisecond, "<SEQ=301><ACK=1101><CTL=ACK><WND=1400>", Established)
	f.step(20*time.Millisecond, "<SEQ=301><ACK=2101><CTL=ACK><WND=1400>", Established, "<SEQ=2101><ACK=301><CTL=ACK><LEN=1000>")
}

// MUST-38 rule (3): with nothing in flight, a segment of at least
// Fs*Max(SND.WND) (Fs = 1/2) goes even though it is short of the MSS.
func TestSendSWSHalfMaxWindow(t *testing.T) {
	cfg := testConfig()
	cfg.MSS = 4000
	f := establishedWith(t, cfg, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=4000><WND=6000>")
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=2999>", Established)
	f.write(bytesOf(5000))
	f.expect(Established) // 2999 < 6000/2
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=3000>", Established, "<SEQ=101><ACK=301><CTL=ACK><LEN=3000>")
}

// RFC 9293 3.7.1: without an MSS option the send MSS is 536 (MUST-15); the
// effective send MSS is the smaller of the peer's and ours (MUST-16).
func TestSendMSS(t *testing.T) {
	cases := []struct {
		name, synAck string
		segs         []int
	}{
		{"no option", "<SEQ=300><ACK=101><CTL=SYN,ACK><WND=4000>", []int{536, 536, 128}},
		{"peer 500", "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=500><WND=4000>", []int{500, 500, 200}},
		{"peer 1460 above ours", "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1460><WND=4000>", []int{1000, 200}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := establishedWith(t, testConfig(), tc.synAck)
			if st := f.c.Status(); st.SendMSS != tc.segs[0] {
				t.Fatalf("SendMSS = %d, want %d", st.SendMSS, tc.segs[0])
			}
			f.write(bytesOf(1200))
			segs := f.out.segs
			f.out.segs = nil
			if len(segs) != len(tc.segs) {
				t.Fatalf("sent %v, want sizes %v", formatAll(segs), tc.segs)
			}
			for i, s := range segs {
				if len(s.data) != tc.segs[i] {
					t.Fatalf("sent %v, want sizes %v", formatAll(segs), tc.segs)
				}
			}
		})
	}
}

// MUST-65: the MSS option is sent only on SYN segments; MUST-14: it is
// sent on ours (SYN and SYN,ACK).
func TestSendMSSOptionOnlyOnSyn(t *testing.T) {
	check := func(t *testing.T, segs []sent) {
		t.Helper()
		for _, s := range segs {
			if syn := s.h.Flags&wire.SYN != 0; s.h.Options.HasMSS != syn {
				t.Fatalf("%s: MSS option %v on a segment with SYN=%v", format(s), s.h.Options.HasMSS, syn)
			}
		}
	}
	f := newFixture(t, testConfig())
	f.c.OpenActive(0, 100)
	check(t, f.expect(SynSent, "<SEQ=100><CTL=SYN><MSS=1000>"))
	check(t, f.step(0, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000>", Established, "<SEQ=101><ACK=301><CTL=ACK>"))
	f.write([]byte("data"))
	check(t, f.expect(Established, "<SEQ=101><ACK=301><CTL=ACK><DATA=data>"))
	f.close()
	check(t, f.expect(FinWait1, "<SEQ=105><ACK=301><CTL=FIN,ACK>"))

	p := inState(t, testConfig(), Listen)
	check(t, p.step(0, "<SEQ=100><CTL=SYN><MSS=700>", SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000>"))
	check(t, p.step(0, "<SEQ=101><ACK=301><CTL=ACK><DATA=x>", Established, "<SEQ=301><ACK=102><CTL=ACK>"))
	p.write(bytesOf(800))
	check(t, p.expect(Established, "<SEQ=301><ACK=102><CTL=ACK><LEN=700>", "<SEQ=1001><ACK=102><CTL=ACK><LEN=100>"))
}
