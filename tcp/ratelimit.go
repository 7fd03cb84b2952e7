package tcp

import "time"

// One rate limit for every ACK sent in answer to an unacceptable segment:
// the challenge ACKs of RFC 5961 (3.2 for a reset in the window, 4.2 for
// a SYN, 5.2 for an ACK out of range), the ACK a PAWS failure draws
// (RFC 7323 5.3), the ACK for an ACK beyond SND.NXT (RFC 9293 3.10.7.4
// step five) and the ACK for a segment outside the window (step one).
// RFC 5961 7 asks for a limit on such answers; without one a blind
// attacker buys one packet out of us with every packet in, and two peers
// that disagree about the sequence space (a poisoned TS.Recent at both
// ends, say) ACK each other for ever.
//
// Two limits apply, as in Linux: one answer per AnswerInterval per
// connection (tcp_invalid_ratelimit, 500 ms), and a stack-wide budget per
// second (Config.Answers), which the stack randomizes: a deterministic
// global counter tells an off-path attacker, by whether an answer comes
// back, that his guess hit some connection's window (CVE-2016-5696).

// defaultAnswerInterval is the per-connection spacing of answers: at most
// two a second.
const defaultAnswerInterval = 500 * time.Millisecond

// AnswerBudget is a limit shared by every connection of a stack on the
// answers to unacceptable segments. Take reports whether one more may go
// out at now (and, if so, spends it). It must be safe for concurrent use.
type AnswerBudget interface {
	Take(now time.Duration) bool
}

// answer owes the peer an ACK for an unacceptable segment, unless the rate
// limit withholds it; it reports whether the ACK will go out.
func (c *TCB) answer(now time.Duration) bool {
	if c.cfg.AnswerInterval > 0 && c.answered && now-c.answeredAt < c.cfg.AnswerInterval {
		c.stats.ThrottledAcks++
		return false
	}
	// The connection's slot is spent even when the stack's budget then
	// refuses (as Linux does): a hammered connection asks the shared
	// budget at most once per interval.
	c.answered, c.answeredAt = true, now
	if c.cfg.Answers != nil && !c.cfg.Answers.Take(now) {
		c.stats.ThrottledAcks++
		return false
	}
	c.ackNow = true
	return true
}
