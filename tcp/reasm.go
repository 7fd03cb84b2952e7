package tcp

import "github.com/synack-tcp/synack/seq"

// maxHoles bounds the out-of-order intervals a connection tracks, so a
// hostile peer sending a confetti of tiny segments costs bounded memory and
// time; a segment that would need more is dropped (the peer retransmits).
const maxHoles = 32

// span is a run of sequence space [start, end) received out of order.
type span struct{ start, end seq.Value }

// reasm records which bytes beyond RCV.NXT have arrived (RFC 9293 3.10.7.4
// step 7, SHLD-31). The bytes themselves sit in the receive ring at their
// offset from RCV.NXT, so holding them costs no extra memory.
type reasm struct {
	spans []span // sorted, disjoint, non-adjacent
}

// add records [start, end) and reports false when it would need too many
// spans.
func (q *reasm) add(start, end seq.Value) bool {
	i := 0
	for i < len(q.spans) && q.spans[i].end.LessThan(start) {
		i++
	}
	j := i
	for j < len(q.spans) && q.spans[j].start.LessThanEq(end) {
		start = seq.Min(start, q.spans[j].start)
		end = seq.Max(end, q.spans[j].end)
		j++
	}
	if i == j {
		if len(q.spans) >= maxHoles {
			return false
		}
		q.spans = append(q.spans, span{})
		copy(q.spans[i+1:], q.spans[i:])
		q.spans[i] = span{start, end}
		return true
	}
	q.spans[i] = span{start, end}
	q.spans = append(q.spans[:i+1], q.spans[j:]...)
	return true
}

// advance pops the span that starts at or before nxt and returns the new
// RCV.NXT (the end of the contiguous run).
func (q *reasm) advance(nxt seq.Value) seq.Value {
	for len(q.spans) > 0 && q.spans[0].start.LessThanEq(nxt) {
		nxt = seq.Max(nxt, q.spans[0].end)
		q.spans = q.spans[:copy(q.spans, q.spans[1:])]
	}
	return nxt
}
