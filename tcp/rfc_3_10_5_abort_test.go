package tcp

import "testing"

// RFC 9293 3.10.5 ABORT call. LISTEN and SYN-SENT: delete the TCB, enter
// CLOSED, nothing sent. SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2,
// CLOSE-WAIT: send <SEQ=SND.NXT><CTL=RST>, flush the queues, delete the
// TCB. CLOSING, LAST-ACK, TIME-WAIT: "ok", delete the TCB, nothing sent.
func TestAbortEveryState(t *testing.T) {
	cases := []struct {
		s   State
		rst string // "" for none
	}{
		{Listen, ""},
		{SynSent, ""},
		{SynReceived, "<SEQ=301><CTL=RST>"},
		{Established, "<SEQ=101><CTL=RST>"},
		{FinWait1, "<SEQ=102><CTL=RST>"},
		{FinWait2, "<SEQ=102><CTL=RST>"},
		{CloseWait, "<SEQ=101><CTL=RST>"},
		{Closing, ""},
		{LastAck, ""},
		{TimeWait, ""},
	}
	for _, tc := range cases {
		t.Run(tc.s.String(), func(t *testing.T) {
			f := inState(t, testConfig(), tc.s)
			f.c.Abort(f.now)
			if tc.rst == "" {
				f.expect(Closed)
			} else {
				f.expect(Closed, tc.rst)
			}
			if f.lastCause() != CauseAbort {
				t.Fatalf("cause %q", f.lastCause())
			}
			f.noDeadline() // all queues and timers flushed
			if st := f.c.Status(); st.SendQueued != 0 {
				t.Fatalf("%d bytes still queued", st.SendQueued)
			}
			// Nothing is retransmitted afterwards.
			f.step(f.now+10*testConfig().MSL, "", Closed)
		})
	}
}

// RFC 9293 3.10.5: queued and unacknowledged data is flushed by ABORT; the
// reset carries the sequence number after everything sent.
func TestAbortFlushesQueuedData(t *testing.T) {
	f := established(t, testConfig())
	f.write([]byte("in flight"))
	f.expect(Established, "<SEQ=101><ACK=301><CTL=ACK><DATA=in flight>")
	f.c.Abort(f.now)
	f.expect(Closed, "<SEQ=110><CTL=RST>")
	f.noDeadline()
}

// RFC 9293 3.10.5, CLOSED: there is nothing to abort; no segment, no
// transition.
func TestAbortClosed(t *testing.T) {
	f := newFixture(t, testConfig())
	f.c.Abort(0)
	f.expect(Closed)
	if len(f.trans) != 0 {
		t.Fatalf("transitions %v", f.trans)
	}
}
