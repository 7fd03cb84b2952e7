package tcp

import (
	"testing"
	"time"
)

// unlimited turns the answer rate limit off, for tests that pin what one
// answer is rather than how often it goes out.
func unlimited(cfg Config) Config {
	cfg.AnswerInterval = -1
	return cfg
}

// RFC 5961 7 (and RFC 7323 5.3, RFC 9293 3.10.7.4 steps one and five):
// every kind of unacceptable segment draws at most one ACK per 500 ms per
// connection, whatever the rate it arrives at. Each kind here arrives
// every 100 ms for 2 s: 4 answers, at 0, 500 ms, 1 s and 1.5 s, and 16
// counted as withheld. ESTABLISHED with timestamps: ISS 100, IRS 300, our
// TSval 5000 + ms, the peer's 700.
func TestAnswerRateLimitEveryKind(t *testing.T) {
	kinds := []struct{ name, seg string }{
		{"RST in window (RFC 5961 3.2)", "<SEQ=310><CTL=RST><TS=800,5010>"},
		{"SYN (RFC 5961 4.2)", "<SEQ=301><CTL=SYN><TS=800,5010>"},
		{"ACK beyond SND.NXT (RFC 5961 5.2)", "<SEQ=301><ACK=5000><CTL=ACK><TS=800,5010>"},
		{"ACK too old (RFC 5961 5.2)", "<SEQ=301><ACK=4294960000><CTL=ACK><TS=800,5010>"},
		{"PAWS failure (RFC 7323 5.3)", "<SEQ=301><ACK=101><CTL=ACK><DATA=x><TS=600,5010>"},
		{"data outside the window", "<SEQ=90000><ACK=101><CTL=ACK><DATA=x><TS=800,5010>"},
		{"old duplicate data", "<SEQ=250><ACK=101><CTL=ACK><DATA=x><TS=800,5010>"},
		{"empty segment outside the window", "<SEQ=90000><ACK=101><CTL=ACK><TS=800,5010>"},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			f := tsEstablished(t)
			start := f.now
			var answers []time.Duration
			for i := 0; i < 20; i++ {
				at := start + time.Duration(i)*100*time.Millisecond
				for _, s := range f.stepAny(at, k.seg, Established) {
					if !matches(t, s, "<SEQ=101><ACK=301><CTL=ACK>") {
						t.Fatalf("t=%v: answer %s", f.now, format(s))
					}
					answers = append(answers, f.now-start)
				}
			}
			want := []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}
			if len(answers) != len(want) {
				t.Fatalf("answers at %v, want %v", answers, want)
			}
			for i := range want {
				if answers[i] != want[i] {
					t.Fatalf("answers at %v, want %v", answers, want)
				}
			}
			if st := f.c.Status().Stats; st.ThrottledAcks != 16 {
				t.Fatalf("ThrottledAcks = %d, want 16", st.ThrottledAcks)
			}
			// The stream is intact: the next valid segment is taken.
			f.step(f.now+100*time.Millisecond, "<SEQ=301><ACK=101><CTL=ACK><DATA=ok><TS=900,5010>", Established,
				"<SEQ=101><ACK=303><CTL=ACK>")
		})
	}
}

// The limit spaces answers, it does not drop legitimate traffic: valid
// data in between is acknowledged as always.
func TestAnswerRateLimitSparesValidSegments(t *testing.T) {
	f := tsEstablished(t)
	f.step(f.now, "<SEQ=310><CTL=RST><TS=800,5010>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	f.step(f.now, "<SEQ=310><CTL=RST><TS=800,5010>", Established) // withheld
	f.step(f.now, "<SEQ=301><ACK=101><CTL=ACK><DATA=abc><TS=800,5010>", Established, "<SEQ=101><ACK=304><CTL=ACK>")
	if got, _ := f.read(); got != "abc" {
		t.Fatalf("read %q", got)
	}
}

// budget is an AnswerBudget with n answers to give.
type budget struct{ n, asked int }

func (b *budget) Take(time.Duration) bool {
	b.asked++
	if b.n == 0 {
		return false
	}
	b.n--
	return true
}

// The stack-wide budget (Config.Answers) is asked after the connection's
// own limit, and withholds the answer when spent.
func TestAnswerRateLimitSharedBudget(t *testing.T) {
	cfg := tsConfig()
	b := &budget{n: 1}
	cfg.Answers = b
	f := newFixture(t, cfg)
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN><TS=5000,0>")
	f.step(10*time.Millisecond, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><TS=700,5000>", Established,
		"<SEQ=101><ACK=301><CTL=ACK><TS=5010,700>")
	f.step(f.now, "<SEQ=310><CTL=RST><TS=800,5010>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	f.step(f.now+100*time.Millisecond, "<SEQ=310><CTL=RST><TS=800,5010>", Established) // the connection's limit
	f.step(f.now+time.Second, "<SEQ=310><CTL=RST><TS=800,5010>", Established)          // the budget's
	// A refusal spends the connection's slot too: the next 500 ms do not
	// ask the budget again.
	f.step(f.now+100*time.Millisecond, "<SEQ=310><CTL=RST><TS=800,5010>", Established)
	if b.asked != 2 {
		t.Fatalf("budget asked %d times, want 2 (not when the connection's own limit withholds)", b.asked)
	}
	if st := f.c.Status().Stats; st.ThrottledAcks != 3 || st.ChallengeAcks != 1 {
		t.Fatalf("ThrottledAcks %d ChallengeAcks %d, want 3 and 1", st.ThrottledAcks, st.ChallengeAcks)
	}
}

// RFC 7323 4.3: TS.Recent is taken only from a segment that passes the
// ACK check. A segment whose ACK is beyond SND.NXT carries a huge TSval;
// it is dropped (and answered), and the peer's next valid segment, with an
// ordinary TSval, is not dropped by PAWS as older than the forgery.
func TestTSRecentOnlyAfterAckCheck(t *testing.T) {
	f := tsEstablished(t)
	f.step(f.now, "<SEQ=301><ACK=9999><CTL=ACK><TS=2000000000,5010>", Established,
		"<SEQ=101><ACK=301><CTL=ACK><TS=5010,700>")
	f.step(f.now+time.Second, "<SEQ=301><ACK=101><CTL=ACK><DATA=abc><TS=800,5010>", Established,
		"<SEQ=101><ACK=304><CTL=ACK><TS=6010,800>")
	if st := f.c.Status().Stats; st.PAWSDrops != 0 {
		t.Fatalf("PAWSDrops = %d: the forged TSval became TS.Recent", st.PAWSDrops)
	}
	// A SYN (challenged, never ACK-checked) does not move it either.
	f.step(f.now+time.Second, "<SEQ=304><CTL=SYN><TS=2000000000,5010>", Established,
		"<SEQ=101><ACK=304><CTL=ACK><TS=7010,800>")
}
