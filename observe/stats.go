package observe

import (
	"reflect"
	"strconv"
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

// Stats reads every atomic counter of st, in field order. A struct field
// of counters (Stats.ICMP) contributes its own, named with the struct's
// field as a prefix (ICMPReceived); an array of counters one per element
// (ICMPByKind3).
func Stats(st *stack.Stats) []Stat {
	return appendStats(nil, "", reflect.ValueOf(st).Elem())
}

func appendStats(out []Stat, prefix string, v reflect.Value) []Stat {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		out = appendStat(out, prefix+f.Name, v.Field(i))
	}
	return out
}

func appendStat(out []Stat, name string, fv reflect.Value) []Stat {
	var n int64
	switch p := fv.Addr().Interface(); fv.Type() {
	case tUint64:
		n = int64(p.(*atomic.Uint64).Load())
	case tInt64:
		n = p.(*atomic.Int64).Load()
	case tUint32:
		n = int64(p.(*atomic.Uint32).Load())
	case tInt32:
		n = int64(p.(*atomic.Int32).Load())
	default:
		switch fv.Kind() {
		case reflect.Struct:
			return appendStats(out, name, fv)
		case reflect.Array:
			for j := range fv.Len() {
				out = appendStat(out, name+strconv.Itoa(j), fv.Index(j))
			}
		}
		return out
	}
	return append(out, Stat{Name: name, Key: snake(name), Gauge: isGauge(name), Value: n})
}

// gauges are the levels whose names say so only in a comment.
var gauges = map[string]bool{"Orphans": true}

// isGauge tells levels from counts by name: "MemoryInUse", "BytesHeld",
// "OpenNow", "PMTUCacheSize" go up and down.
func isGauge(name string) bool {
	if gauges[name] {
		return true
	}
	for _, w := range []string{"InUse", "Held", "Now", "Current", "Active", "Level", "Size"} {
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
