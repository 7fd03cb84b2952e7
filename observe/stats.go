package observe

import (
	"reflect"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/synack-tcp/synack/stack"
)

// Stat is one of a stack's counters, found by reflection over
// stack.Stats: every atomic integer field is one, so a counter added to
// Stats shows up on the page and in /metrics with no change here.
type Stat struct {
	Name  string `json:"name"`  // the field's name: "PacketsIn"
	Key   string `json:"key"`   // snake case: "packets_in"
	Gauge bool   `json:"gauge"` // a level (memory in use), not a count
	Value int64  `json:"value"`
}

var (
	tUint64 = reflect.TypeFor[atomic.Uint64]()
	tInt64  = reflect.TypeFor[atomic.Int64]()
	tUint32 = reflect.TypeFor[atomic.Uint32]()
	tInt32  = reflect.TypeFor[atomic.Int32]()
)

// Stats reads every atomic counter of st, in field order.
func Stats(st *stack.Stats) []Stat {
	v := reflect.ValueOf(st).Elem()
	var out []Stat
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		var n int64
		switch p := v.Field(i).Addr().Interface(); f.Type {
		case tUint64:
			n = int64(p.(*atomic.Uint64).Load())
		case tInt64:
			n = p.(*atomic.Int64).Load()
		case tUint32:
			n = int64(p.(*atomic.Uint32).Load())
		case tInt32:
			n = int64(p.(*atomic.Int32).Load())
		default:
			continue
		}
		out = append(out, Stat{Name: f.Name, Key: snake(f.Name), Gauge: isGauge(f.Name), Value: n})
	}
	return out
}

// isGauge tells levels from counts by name: "MemoryInUse", "BytesHeld",
// "OpenNow", "ActiveCookies" go up and down.
func isGauge(name string) bool {
	for _, w := range []string{"InUse", "Held", "Now", "Current", "Active", "Level"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// snake turns a Go field name into a metric name: PacketsIn -> packets_in,
// MalformedIP -> malformed_ip, SYNCookiesSent -> syn_cookies_sent.
func snake(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}
