package tcp

import (
	"errors"
	"testing"
	"time"
)

// RFC 9293 3.10.4 CLOSE call, CLOSED state: "error: connection does not
// exist".
func TestCloseClosedErrNotExist(t *testing.T) {
	f := newFixture(t, testConfig())
	if err := f.c.Close(0); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Close on CLOSED = %v, want ErrNotExist", err)
	}
	f.expect(Closed)
}

// RFC 9293 3.10.4, LISTEN: delete the TCB, enter CLOSED; nothing is sent.
func TestCloseListen(t *testing.T) {
	f := inState(t, testConfig(), Listen)
	f.close()
	f.expect(Closed)
	if f.lastCause() != CauseClose {
		t.Fatalf("cause %q", f.lastCause())
	}
	f.noDeadline()
}

// RFC 9293 3.10.4, SYN-SENT: delete the TCB; the SYN is not retransmitted
// and a late SYN,ACK is answered as in CLOSED (3.10.7.1).
func TestCloseSynSent(t *testing.T) {
	f := inState(t, testConfig(), SynSent)
	f.close()
	f.expect(Closed)
	f.noDeadline()
	f.step(5*time.Second, "<SEQ=300><ACK=101><CTL=SYN,ACK>", Closed, "<SEQ=101><CTL=RST>")
}

// RFC 9293 3.10.4, SYN-RECEIVED: the FIN is queued until ESTABLISHED (the
// RFC's "otherwise, queue for processing" branch), then sent, entering
// FIN-WAIT-1.
func TestCloseSynReceived(t *testing.T) {
	f := inState(t, testConfig(), SynReceived)
	f.close()
	f.expect(SynReceived)
	f.step(0, "<SEQ=101><ACK=301><CTL=ACK>", FinWait1, "<SEQ=301><ACK=101><CTL=FIN,ACK>")
	want := []State{SynReceived, Established, FinWait1}
	if w := f.walk()[len(f.walk())-3:]; !equalStates(w, want) {
		t.Fatalf("walk %v, want ... %v", f.walk(), want)
	}
}

// RFC 9293 3.10.4, ESTABLISHED: the FIN follows all preceding SENDs; enter
// FIN-WAIT-1 at once in any case.
func TestCloseEstablishedFinFollowsData(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=0>", Established)
	f.write([]byte("queued"))
	f.close()
	f.expect(FinWait1) // window closed: neither the data nor the FIN may go
	// The window opens: data and FIN go together.
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=4000>", FinWait1, "<SEQ=101><ACK=301><CTL=FIN,ACK><DATA=queued>")
	f.step(0, "<SEQ=301><ACK=107><CTL=ACK>", FinWait1) // data acked, FIN not yet
	f.step(0, "<SEQ=301><ACK=108><CTL=ACK>", FinWait2)
}

// RFC 9293 3.10.4, FIN-WAIT-1 and FIN-WAIT-2: "error: connection closing",
// and no second FIN. CLOSING, LAST-ACK, TIME-WAIT: the same error.
func TestCloseTwiceErrClosing(t *testing.T) {
	for _, s := range []State{FinWait1, FinWait2, Closing, LastAck, TimeWait} {
		t.Run(s.String(), func(t *testing.T) {
			f := inState(t, testConfig(), s)
			before := f.c.Status().SndNxt
			if err := f.c.Close(f.now); !errors.Is(err, ErrClosing) {
				t.Fatalf("Close = %v, want ErrClosing", err)
			}
			f.expect(s)
			if after := f.c.Status().SndNxt; after != before {
				t.Fatalf("SND.NXT %d -> %d: a second FIN?", before, after)
			}
		})
	}
	f := inState(t, testConfig(), SynReceived)
	f.close()
	if err := f.c.Close(f.now); !errors.Is(err, ErrClosing) {
		t.Fatalf("second Close in SYN-RECEIVED = %v, want ErrClosing", err)
	}
}

// RFC 9293 3.10.4, CLOSE-WAIT: send the FIN after queued data; LAST-ACK.
func TestCloseCloseWait(t *testing.T) {
	f := inState(t, testConfig(), CloseWait)
	f.write([]byte("last words"))
	f.expect(CloseWait, "<SEQ=101><ACK=302><CTL=ACK><DATA=last words>")
	f.close()
	f.expect(LastAck, "<SEQ=111><ACK=302><CTL=FIN,ACK>")
	f.step(0, "<SEQ=302><ACK=111><CTL=ACK>", LastAck) // the data, not the FIN
	f.step(0, "<SEQ=302><ACK=112><CTL=ACK>", Closed)
	if f.c.Err() != nil {
		t.Fatalf("Err = %v after a normal close", f.c.Err())
	}
}

// RFC 9293 3.6 and 3.6.1: CLOSE is simplex. After it the user keeps
// receiving, in FIN-WAIT-1 and in FIN-WAIT-2 (half-close), until the
// peer's FIN; then EOF.
func TestCloseHalfCloseKeepsReceiving(t *testing.T) {
	f := established(t, testConfig())
	f.close()
	f.expect(FinWait1, "<SEQ=101><ACK=301><CTL=FIN,ACK>")
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><DATA=one>", FinWait1, "<SEQ=102><ACK=304><CTL=ACK>")
	f.step(0, "<SEQ=304><ACK=102><CTL=ACK><DATA=two>", FinWait2, "<SEQ=102><ACK=307><CTL=ACK>")
	for i, d := range []string{"three", "four"} {
		s := 307 + 5*i
		f.step(time.Duration(i+1)*time.Second, "<SEQ="+itoa(uint32(s))+"><ACK=102><CTL=ACK><DATA="+d+">", FinWait2,
			"<SEQ=102><ACK="+itoa(uint32(s+len(d)))+"><CTL=ACK>")
	}
	if got, err := f.read(); got != "onetwothreefour" || err != nil {
		t.Fatalf("read %q, %v", got, err)
	}
	f.step(3*time.Second, "<SEQ=316><ACK=102><CTL=FIN,ACK><DATA=!>", TimeWait, "<SEQ=102><ACK=318><CTL=ACK>")
	if got, err := f.read(); got != "!" || !errors.Is(err, ErrEOF) {
		t.Fatalf("read %q, %v; want \"!\", EOF", got, err)
	}
}

// RFC 9293 3.6.1 MAY-1, SHLD-3: a full close (CloseRead) with unread data
// sends a RST to show data was lost; so does data arriving after it.
func TestCloseReadResets(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><DATA=unread>", Established, "<ACK=307><CTL=ACK>")
	if !f.c.CloseRead(f.now) {
		t.Fatal("CloseRead with unread data sent no reset")
	}
	f.expect(Closed, "<SEQ=101><CTL=RST>")

	g := established(t, testConfig())
	if g.c.CloseRead(g.now) {
		t.Fatal("CloseRead with nothing unread reset")
	}
	g.close()
	g.expect(FinWait1, "<SEQ=101><ACK=301><CTL=FIN,ACK>")
	g.step(0, "<SEQ=301><ACK=102><CTL=ACK><DATA=late>", Closed, "<SEQ=102><CTL=RST>")
	if !errors.Is(g.c.Err(), ErrReset) {
		t.Fatalf("Err = %v", g.c.Err())
	}
}

func equalStates(a, b []State) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
