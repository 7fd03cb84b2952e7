package tcp

import (
	"errors"
	"testing"
	"time"

	"github.com/synack-tcp/synack/seq"
)

// RFC 9293 3.10.1 OPEN call, CLOSED state, active: a SYN <SEQ=ISS><CTL=SYN>
// goes out, SND.UNA=ISS, SND.NXT=ISS+1, SYN-SENT. The SYN carries our MSS
// (MUST-14, SHLD-5) and a window that describes the whole receive buffer.
func TestOpenActiveFromClosed(t *testing.T) {
	f := newFixture(t, testConfig())
	if err := f.c.OpenActive(0, 100); err != nil {
		t.Fatal(err)
	}
	f.expect(SynSent, "<SEQ=100><CTL=SYN><MSS=1000><WND=8000>")
	st := f.c.Status()
	if st.SndUna != 100 || st.SndNxt != 101 {
		t.Fatalf("SND.UNA=%d SND.NXT=%d, want 100, 101", st.SndUna, st.SndNxt)
	}
	if w := f.walk(); len(w) != 2 || w[0] != Closed || w[1] != SynSent || f.lastCause() != CauseOpenActive {
		t.Fatalf("walk %v cause %q", w, f.lastCause())
	}
	// The retransmission timer guards the SYN (RFC 6298 2.1: 1 s).
	if d := f.deadline(); d != time.Second {
		t.Fatalf("SYN timer at %v, want 1s", d)
	}
}

// RFC 9293 3.10.1, CLOSED state, passive: enter LISTEN and return; nothing
// is sent and no timer runs.
func TestOpenPassiveFromClosed(t *testing.T) {
	f := newFixture(t, testConfig())
	if err := f.c.OpenPassive(300); err != nil {
		t.Fatal(err)
	}
	f.expect(Listen)
	f.noDeadline()
	if f.lastCause() != CauseOpenPassive {
		t.Fatalf("cause %q", f.lastCause())
	}
}

// RFC 9293 3.10.1, LISTEN state: an active OPEN changes the connection from
// passive to active and sends a SYN, entering SYN-SENT. A reset in the
// SYN-RECEIVED that follows a simultaneous open must then report refused,
// not return to LISTEN (MUST-11: the TCB remembers it is active now).
func TestOpenActiveFromListen(t *testing.T) {
	f := inState(t, testConfig(), Listen)
	if err := f.c.OpenActive(f.now, 500); err != nil {
		t.Fatal(err)
	}
	f.expect(SynSent, "<SEQ=500><CTL=SYN><MSS=1000>")
	f.step(0, "<SEQ=300><CTL=SYN>", SynReceived, "<SEQ=500><ACK=301><CTL=SYN,ACK>")
	f.step(0, "<SEQ=301><CTL=RST>", Closed)
	if !errors.Is(f.c.Err(), ErrRefused) {
		t.Fatalf("Err = %v, want ErrRefused", f.c.Err())
	}
}

// RFC 9293 3.10.1, every other state: "error: connection already exists",
// for both kinds of OPEN, and the connection is not disturbed.
func TestOpenInOtherStatesErrExists(t *testing.T) {
	for _, s := range []State{SynSent, SynReceived, Established, FinWait1, FinWait2, Closing, TimeWait, CloseWait, LastAck} {
		t.Run(s.String(), func(t *testing.T) {
			f := inState(t, testConfig(), s)
			before := f.c.Status()
			if err := f.c.OpenActive(f.now, 7); !errors.Is(err, ErrExists) {
				t.Fatalf("OpenActive = %v, want ErrExists", err)
			}
			if err := f.c.OpenPassive(7); !errors.Is(err, ErrExists) {
				t.Fatalf("OpenPassive = %v, want ErrExists", err)
			}
			f.expect(s)
			if after := f.c.Status(); after.SndNxt != before.SndNxt || after.RcvNxt != before.RcvNxt {
				t.Fatalf("OPEN changed the TCB: %+v -> %+v", before, after)
			}
		})
	}
	// A passive OPEN on a LISTEN TCB is also an existing connection.
	f := inState(t, testConfig(), Listen)
	if err := f.c.OpenPassive(7); !errors.Is(err, ErrExists) {
		t.Fatalf("OpenPassive on LISTEN = %v, want ErrExists", err)
	}
}

// RFC 9293 3.10.1 with 3.4: the ISS may be anywhere in the space, including
// just below the wrap; SND.NXT = ISS+1 wraps to 0.
func TestOpenActiveISSAtWrap(t *testing.T) {
	f := newFixture(t, testConfig())
	if err := f.c.OpenActive(0, 0xffffffff); err != nil {
		t.Fatal(err)
	}
	f.expect(SynSent, "<SEQ=4294967295><CTL=SYN>")
	if st := f.c.Status(); st.SndNxt != seq.Value(0) {
		t.Fatalf("SND.NXT = %d, want 0", st.SndNxt)
	}
	f.step(0, "<SEQ=300><ACK=0><CTL=SYN,ACK>", Established, "<SEQ=0><ACK=301><CTL=ACK>")
}
