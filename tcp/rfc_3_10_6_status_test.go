package tcp

import (
	"testing"
)

// RFC 9293 3.10.6 STATUS call: every state reports "state = <name>", in
// the RFC's spelling (3.3.2).
func TestStatusReportsState(t *testing.T) {
	names := map[State]string{
		Closed: "CLOSED", Listen: "LISTEN", SynSent: "SYN-SENT", SynReceived: "SYN-RECEIVED",
		Established: "ESTABLISHED", FinWait1: "FIN-WAIT-1", FinWait2: "FIN-WAIT-2", Closing: "CLOSING",
		TimeWait: "TIME-WAIT", CloseWait: "CLOSE-WAIT", LastAck: "LAST-ACK",
	}
	for s, name := range names {
		f := inState(t, testConfig(), s)
		st := f.c.Status()
		if st.State != s || f.c.State() != s || st.State.String() != name {
			t.Errorf("%s: Status().State = %v (%q)", name, st.State, st.State.String())
		}
	}
	if State(200).String() != "UNKNOWN" {
		t.Errorf("out-of-range state prints %q", State(200).String())
	}
}

// RFC 9293 3.10.6 and 3.3.1: STATUS reports the send and receive sequence
// variables and the queues.
func TestStatusVariables(t *testing.T) {
	f := establishedWith(t, testConfig(), "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=700><WND=3000>")
	st := f.c.Status()
	if st.SndUna != 101 || st.SndNxt != 101 || st.RcvNxt != 301 || st.SndWnd != 3000 || st.SendMSS != 700 {
		t.Fatalf("after the handshake: %+v", st)
	}
	if st.RcvWnd != 8000 || st.Unacked != 0 || st.SendQueued != 0 || st.RecvHeld != 0 || st.Retransmitting {
		t.Fatalf("after the handshake: %+v", st)
	}
	f.write(bytesOf(1000))
	f.expect(Established, "<SEQ=101><LEN=700>", "<SEQ=801><LEN=300>")
	f.step(0, "<SEQ=301><ACK=801><CTL=ACK><DATA=hello>", Established, "<SEQ=1101><ACK=306><CTL=ACK>")
	st = f.c.Status()
	if st.SndUna != 801 || st.SndNxt != 1101 || st.Unacked != 300 || st.SendQueued != 300 {
		t.Fatalf("send side: %+v", st)
	}
	if st.RcvNxt != 306 || st.RecvHeld != 5 || st.RcvWnd != 7995 {
		t.Fatalf("receive side: %+v", st)
	}
	if st.Stats.BytesSent != 1000 || st.Stats.BytesAcked != 700 || st.Stats.BytesReceived != 5 {
		t.Fatalf("stats: %+v", st.Stats)
	}
}
