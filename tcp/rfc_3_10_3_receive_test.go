package tcp

import (
	"errors"
	"testing"
)

// receiveN is one RECEIVE call for at most n bytes.
func (f *fixture) receiveN(n int) (int, error) {
	f.t.Helper()
	k, err := f.c.Receive(f.now, make([]byte, n))
	f.check()
	return k, err
}

// RFC 9293 3.10.3 RECEIVE call, CLOSED state: "error: connection does not
// exist".
func TestReceiveClosedErrNotExist(t *testing.T) {
	f := newFixture(t, testConfig())
	if n, err := f.receiveN(10); n != 0 || !errors.Is(err, ErrNotExist) {
		t.Fatalf("Receive on CLOSED = %d, %v; want ErrNotExist", n, err)
	}
}

// RFC 9293 3.10.3, LISTEN, SYN-SENT, SYN-RECEIVED: the request waits for
// ESTABLISHED; nothing is returned and nothing fails.
func TestReceiveBeforeEstablishedWaits(t *testing.T) {
	for _, s := range []State{Listen, SynSent, SynReceived} {
		f := inState(t, testConfig(), s)
		if n, err := f.receiveN(10); n != 0 || err != nil {
			t.Fatalf("%v: Receive = %d, %v; want 0, nil", s, n, err)
		}
		if f.c.Readable() {
			t.Fatalf("%v: Readable with nothing to read", s)
		}
		f.expect(s)
	}
}

// RFC 9293 3.10.3, ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2: queued text is
// returned in order; with none the call waits (0, nil).
func TestReceiveSynchronizedStates(t *testing.T) {
	for _, s := range []State{Established, FinWait1, FinWait2} {
		t.Run(s.String(), func(t *testing.T) {
			f := inState(t, testConfig(), s)
			if n, err := f.receiveN(10); n != 0 || err != nil {
				t.Fatalf("Receive with nothing queued = %d, %v", n, err)
			}
			ack := f.c.Status().SndUna
			f.step(f.now, "<SEQ=301><ACK="+itoa(uint32(ack))+"><CTL=ACK><DATA=hello>", f.c.State(), "<ACK=306><CTL=ACK>")
			if !f.c.Readable() || f.c.Buffered() != 5 {
				t.Fatalf("Readable %v Buffered %d", f.c.Readable(), f.c.Buffered())
			}
			if got, err := f.read(); got != "hello" || err != nil {
				t.Fatalf("read %q, %v", got, err)
			}
		})
	}
}

// RFC 9293 3.10.3, CLOSE-WAIT: RECEIVEs are satisfied by the data on hand;
// with none left, "connection closing" (ErrEOF). CLOSING, LAST-ACK,
// TIME-WAIT: the same.
func TestReceiveAfterFinErrEOF(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=301><ACK=101><CTL=FIN,ACK><DATA=tail>", CloseWait, "<SEQ=101><ACK=306><CTL=ACK>")
	if n, err := f.receiveN(2); n != 2 || err != nil {
		t.Fatalf("first Receive = %d, %v", n, err)
	}
	if n, err := f.receiveN(10); n != 2 || err != nil {
		t.Fatalf("second Receive = %d, %v", n, err)
	}
	for i := 0; i < 2; i++ {
		if n, err := f.receiveN(10); n != 0 || !errors.Is(err, ErrEOF) {
			t.Fatalf("Receive after the data = %d, %v; want ErrEOF", n, err)
		}
	}
	if !f.c.Readable() {
		t.Fatal("EOF should make the TCB readable")
	}
	for _, s := range []State{Closing, LastAck, TimeWait} {
		g := inState(t, testConfig(), s)
		if n, err := g.receiveN(10); n != 0 || !errors.Is(err, ErrEOF) {
			t.Fatalf("%v: Receive = %d, %v; want ErrEOF", s, n, err)
		}
	}
}

// MUST-12: the user learns whether the remote side closed normally (FIN:
// EOF) or aborted (RST: reset), also after the TCB is gone.
func TestReceiveDistinguishesFinFromReset(t *testing.T) {
	f := inState(t, testConfig(), TimeWait)
	f.step(f.now+2*testConfig().MSL, "", Closed)
	if _, err := f.receiveN(10); !errors.Is(err, ErrEOF) {
		t.Fatalf("after a normal close: %v, want ErrEOF", err)
	}
	if f.c.Err() != nil {
		t.Fatalf("Err after a normal close = %v", f.c.Err())
	}
	g := established(t, testConfig())
	g.step(0, "<SEQ=301><ACK=101><CTL=ACK><DATA=unread>", Established, "<ACK=307><CTL=ACK>")
	g.step(0, "<SEQ=307><CTL=RST>", Closed)
	// Data that arrived before the reset may still be read, then the reset.
	if got, err := g.read(); got != "unread" || !errors.Is(err, ErrReset) {
		t.Fatalf("after RST: %q, %v; want the data then ErrReset", got, err)
	}
	if !errors.Is(g.c.Err(), ErrReset) {
		t.Fatalf("Err = %v", g.c.Err())
	}
}

// RFC 9293 3.8.6.2.2 receiver SWS avoidance (MUST-39) and SHLD-14: while
// data arrives the right edge RCV.NXT+RCV.WND stays put; reading opens it
// only once the reduction reaches min(RCV.BUFF/2, MSS) = 1000 bytes, and
// then RECEIVE sends the window update at once (3.10.3: "that fact must be
// communicated to the sender via an acknowledgment").
func TestReceiveSWSWindowUpdate(t *testing.T) {
	f := passiveEstablished(t, testConfig()) // RCV.NXT=101, edge 101+8000
	for i := 0; i < 8; i++ {
		s := 101 + 1000*i
		f.step(0, "<SEQ="+itoa(uint32(s))+"><ACK=301><CTL=ACK><LEN=1000>", Established,
			"<SEQ=301><ACK="+itoa(uint32(s+1000))+"><CTL=ACK><WND="+itoa(uint32(7000-1000*i))+">")
	}
	if n, _ := f.receiveN(500); n != 500 {
		t.Fatal(n)
	}
	f.expect(Established)
	if n, _ := f.receiveN(499); n != 499 {
		t.Fatal(n)
	}
	f.expect(Established) // 999 < 1000: the edge stays
	if n, _ := f.receiveN(1); n != 1 {
		t.Fatal(n)
	}
	f.expect(Established, "<SEQ=301><ACK=8101><CTL=ACK><WND=1000>")
	if n, _ := f.receiveN(1); n != 1 {
		t.Fatal(n)
	}
	f.expect(Established)
	// Small data keeps the edge fixed: the window shrinks by what came.
	f.step(0, "<SEQ=8101><ACK=301><CTL=ACK><LEN=600>", Established, "<SEQ=301><ACK=8701><CTL=ACK><WND=400>")
	// Any later ACK carries the same edge until the reduction is worth it.
	f.step(0, "<SEQ=9999><ACK=301><CTL=ACK>", Established, "<SEQ=301><ACK=8701><CTL=ACK><WND=400>")
}

// A read sends a window update of its own only when the peer is running
// short of window: what it may still send is at most half the buffer and
// the update at least doubles it (afterRead, as Linux's tcp_cleanup_rbuf).
// Otherwise the new edge rides on the next ACK of data: in a bulk flow an
// update per read would double the ACKs. MUST-39's threshold still holds
// below this rule.
func TestReceiveWindowUpdateOnlyWhenShort(t *testing.T) {
	f := passiveEstablished(t, testConfig()) // 8000-byte buffer, RCV.NXT=101
	f.step(0, "<SEQ=101><ACK=301><CTL=ACK><LEN=1000>", Established, "<SEQ=301><ACK=1101><CTL=ACK><WND=7000>")
	f.step(0, "<SEQ=1101><ACK=301><CTL=ACK><LEN=1000>", Established, "<SEQ=301><ACK=2101><CTL=ACK><WND=6000>")
	if n, _ := f.receiveN(2000); n != 2000 {
		t.Fatal(n)
	}
	f.expect(Established) // 6000 of 8000 still open: more than half, no update
	f.step(0, "<SEQ=2101><ACK=301><CTL=ACK><LEN=1000>", Established, "<SEQ=301><ACK=3101><CTL=ACK><WND=7000>")
	for i := 0; i < 4; i++ { // fill to 3000 left: under half
		s := 3101 + 1000*i
		f.step(0, "<SEQ="+itoa(uint32(s))+"><ACK=301><CTL=ACK><LEN=1000>", Established,
			"<SEQ=301><ACK="+itoa(uint32(s+1000))+"><CTL=ACK><WND="+itoa(uint32(6000-1000*i))+">")
	}
	if n, _ := f.receiveN(1000); n != 1000 {
		t.Fatal(n)
	}
	f.expect(Established) // 3000 left, 4000 after the read: under double, no update
	if n, _ := f.receiveN(2000); n != 2000 {
		t.Fatal(n)
	}
	f.expect(Established, "<SEQ=301><ACK=7101><CTL=ACK><WND=6000>") // 3000 left, 6000 open: doubled
}

// MUST-39 with window scaling (RFC 7323): the advertised edge is rounded
// up to the scale, so it may lie a few bytes past the buffer's edge. A
// small read must still not send a (duplicate) window update.
func TestReceiveSWSWithWindowScale(t *testing.T) {
	cfg := testConfig()
	cfg.RecvBuf = 200000 // shift 2
	cfg.WindowScale = true
	f := inState(t, cfg, Listen)
	f.step(0, "<SEQ=100><CTL=SYN><WS=0><MSS=1000>", SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK><WS=2>")
	f.step(0, "<SEQ=101><ACK=301><CTL=ACK>", Established)
	// 1003 bytes leave 198997 free, advertised as 49750<<2 = 199000.
	f.step(0, "<SEQ=101><ACK=301><CTL=ACK><LEN=1003>", Established, "<SEQ=301><ACK=1104><CTL=ACK><WND=49749>")
	for i := 0; i < 3; i++ {
		if n, _ := f.receiveN(1); n != 1 {
			t.Fatal(n)
		}
		f.expect(Established) // each read opens the window by one byte only
	}
}

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
