package tcp

import (
	"testing"
	"time"
)

// checkNoTiny fails on a retransmission shorter than an MSS that stops
// short of the data sent (so none under 48 bytes, Linux's
// tcp_min_snd_mss, either).
func checkNoTiny(t *testing.T, segs []sent, dataEnd uint32, mss int) int {
	t.Helper()
	n := 0
	for _, s := range segs {
		if len(s.data) == 0 {
			continue
		}
		n++
		if end := s.h.Seq + uint32(len(s.data)); len(s.data) < mss && end != dataEnd {
			t.Fatalf("retransmitted %d bytes at %d (data ends at %d): %s", len(s.data), s.h.Seq, dataEnd, format(s))
		}
	}
	return n
}

// SACK blocks that leave 1-byte holes (a hostile receiver's confetti):
// RFC 6675 recovery resends each hole in a whole segment, with the SACKed
// bytes after it, never a 1-byte one. ISS 100, MSS 1000, 10 segments.
func TestSACKOneByteHolesNoTinyRetransmissions(t *testing.T) {
	f := sackEstablished(t)
	f.write(bytesOf(10000)) // 101..10101
	f.expect(Established, repeat("<CTL=ACK><LEN=1000>", 10)...)
	at := time.Millisecond
	f.step(at, "<SEQ=301><ACK=101><CTL=ACK><WND=60000><SACK=102-1101>", Established)
	f.step(at, "<SEQ=301><ACK=101><CTL=ACK><WND=60000><SACK=102-1101,1102-2101>", Established)
	segs := f.stepAny(at, "<SEQ=301><ACK=101><CTL=ACK><WND=60000><SACK=102-1101,1102-2101,2102-4101,4102-5101>", Established)
	if len(segs) < 2 || segs[0].h.Seq != 101 || segs[1].h.Seq != 1101 {
		t.Fatalf("recovery sent %v, want the holes at 101 and 1101", formatAll(segs))
	}
	checkNoTiny(t, segs, 10101, 1000)
	if st := f.c.Status().Stats; st.SACKRetransmits < 2 {
		t.Fatalf("SACKRetransmits = %d", st.SACKRetransmits)
	}
}

// RFC 2018 8 with the same confetti: the timeout's go-back resends whole
// segments over the 1-byte holes, and the RACK retransmission of a lost
// range does too.
func TestRTOOneByteHolesNoTinyRetransmissions(t *testing.T) {
	f := sackEstablished(t)
	f.write(bytesOf(5000)) // 101..5101
	f.expect(Established, repeat("<CTL=ACK><LEN=1000>", 5)...)
	f.step(time.Millisecond, "<SEQ=301><ACK=101><CTL=ACK><WND=60000><SACK=102-1101,1102-2101>", Established)
	total := 0
	for i := 0; i < 4; i++ {
		d := f.deadline()
		total += checkNoTiny(t, f.stepAny(d, "", Established), 5101, 1000)
	}
	if total == 0 {
		t.Fatal("nothing retransmitted")
	}
	if st := f.c.Status().Stats; st.Retransmits == 0 {
		t.Fatalf("no retransmissions counted: %+v", st)
	}
}
