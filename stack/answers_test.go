package stack

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// budgetCounts spends the stack-wide answer budget second by second and
// returns how many answers each of secs seconds allowed.
func budgetCounts(t *testing.T, secret string, limit, secs int) []int {
	s, err := New(&recLink{}, Config{Addrs: []netip.Addr{addrB}, Secret: []byte(secret), AnswerLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var counts []int
	for sec := 0; sec < secs; sec++ {
		n := 0
		for i := 0; i < 3*limit; i++ {
			if s.answers.Take(time.Duration(sec)*time.Second + time.Duration(i)*time.Microsecond) {
				n++
			}
		}
		counts = append(counts, n)
	}
	if got, want := s.Stats().AnswersLimited.Load(), uint64(3*limit*secs-sum(counts)); got != want {
		t.Fatalf("AnswersLimited = %d, want %d", got, want)
	}
	return counts
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// RFC 5961 7 and CVE-2016-5696: the stack-wide budget of answers to
// unacceptable segments is drawn anew each second from [limit/2,
// limit*3/2), so an attacker cannot learn from exhausting it; the draw
// comes from the stack's secret, so a run with Config.Secret replays.
func TestAnswerBudgetRandomized(t *testing.T) {
	const limit = 1000
	a := budgetCounts(t, "one", limit, 20)
	for _, n := range a {
		if n < limit/2 || n >= limit*3/2 {
			t.Fatalf("a second allowed %d answers, outside [%d, %d)", n, limit/2, limit*3/2)
		}
	}
	if slices.Min(a) == slices.Max(a) {
		t.Fatalf("every second allowed %d: a fixed budget is a side channel", a[0])
	}
	if b := budgetCounts(t, "one", limit, 20); !slices.Equal(a, b) {
		t.Fatalf("same secret, different budgets: %v vs %v", a, b)
	}
	if c := budgetCounts(t, "two", limit, 20); slices.Equal(a, c) {
		t.Fatal("another secret draws the same budgets")
	}
	// Every connection shares it; negative turns it off.
	on, _ := New(&recLink{}, Config{Addrs: []netip.Addr{addrB}})
	defer on.Close()
	if on.answers == nil || on.tcpConfig(true).Answers != on.answers {
		t.Fatal("connections do not share the stack's budget")
	}
	s, _ := New(&recLink{}, Config{Addrs: []netip.Addr{addrB}, AnswerLimit: -1})
	defer s.Close()
	if s.answers != nil || s.tcpConfig(false).Answers != nil {
		t.Fatal("AnswerLimit -1 still limits")
	}
}
