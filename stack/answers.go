package stack

import (
	"crypto/sha256"
	"encoding/binary"
	"sync/atomic"
	"time"
)

// answerBudget is the stack-wide limit on answers to unacceptable
// segments (tcp.AnswerBudget; RFC 5961 7). Each second gets a budget drawn
// from [limit/2, limit*3/2): a fixed one is a side channel, since an
// off-path attacker who exhausts it learns from whether a connection's
// challenge ACK still comes out that his guess hit its window
// (CVE-2016-5696). The draw is a keyed hash of the second, keyed with the
// stack's secret: unpredictable outside, and the same on every run with
// Config.Secret set, so a simulation replays exactly.
type answerBudget struct {
	s     *Stack
	limit uint32
	state atomic.Uint64 // second+1 in the high 32 bits, answers left in the low
}

// Take implements tcp.AnswerBudget.
func (b *answerBudget) Take(now time.Duration) bool {
	sec := uint32(now/time.Second) + 1
	for {
		old := b.state.Load()
		if cur := uint32(old >> 32); int32(sec-cur) > 0 {
			n := b.draw(sec)
			if b.state.CompareAndSwap(old, uint64(sec)<<32|uint64(n-1)) {
				return true
			}
			continue
		}
		if uint32(old) == 0 {
			b.s.stats.AnswersLimited.Add(1)
			return false
		}
		if b.state.CompareAndSwap(old, old-1) {
			return true
		}
	}
}

// draw is second sec's budget, at least 1.
func (b *answerBudget) draw(sec uint32) uint32 {
	h := sha256.New()
	h.Write(b.s.secret)
	var buf [5]byte
	buf[0] = 'a'
	binary.BigEndian.PutUint32(buf[1:], sec)
	h.Write(buf[:])
	var sum [32]byte
	r := binary.BigEndian.Uint32(h.Sum(sum[:0]))
	return max(b.limit/2+r%b.limit, 1)
}
