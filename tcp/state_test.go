package tcp

import "testing"

// The diagram of RFC 9293 Figure 5, arrow by arrow, plus a passive
// SYN-RECEIVED's return to LISTEN (3.10.7.4) and the FIN-WAIT-2 timeout;
// every ABORT or reset takes a synchronized state to CLOSED.
func TestLegalTransitions(t *testing.T) {
	want := map[[2]State]bool{
		{Closed, Listen}: true, {Closed, SynSent}: true,
		{Listen, SynReceived}: true, {Listen, SynSent}: true, {Listen, Closed}: true,
		{SynSent, SynReceived}: true, {SynSent, Established}: true, {SynSent, Closed}: true,
		{SynReceived, Established}: true, {SynReceived, FinWait1}: true, {SynReceived, CloseWait}: true,
		{SynReceived, Listen}: true, {SynReceived, Closed}: true,
		{Established, FinWait1}: true, {Established, CloseWait}: true, {Established, Closed}: true,
		{FinWait1, FinWait2}: true, {FinWait1, Closing}: true, {FinWait1, TimeWait}: true, {FinWait1, Closed}: true,
		{FinWait2, TimeWait}: true, {FinWait2, Closed}: true,
		{Closing, TimeWait}: true, {Closing, Closed}: true,
		{TimeWait, Closed}:   true,
		{CloseWait, LastAck}: true, {CloseWait, Closed}: true,
		{LastAck, Closed}: true,
	}
	for from := State(0); from < 16; from++ {
		for to := State(0); to < 16; to++ {
			if got := LegalTransition(from, to); got != want[[2]State{from, to}] {
				t.Errorf("LegalTransition(%v, %v) = %v", from, to, got)
			}
		}
	}
}
