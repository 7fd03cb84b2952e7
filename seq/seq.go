// Package seq implements TCP sequence-number arithmetic modulo 2^32
// (RFC 9293 3.4). It imports nothing of synack's.
package seq

// Value is a 32-bit TCP sequence number. Comparisons are modulo 2^32:
// v is "less than" w when w lies in the half-space after v.
type Value uint32

// Size is a length in sequence space.
type Size uint32

// LessThan reports v < w in sequence space.
func (v Value) LessThan(w Value) bool { return int32(v-w) < 0 }

// LessThanEq reports v <= w in sequence space.
func (v Value) LessThanEq(w Value) bool { return int32(v-w) <= 0 }

// GreaterThan reports v > w in sequence space.
func (v Value) GreaterThan(w Value) bool { return int32(v-w) > 0 }

// GreaterThanEq reports v >= w in sequence space.
func (v Value) GreaterThanEq(w Value) bool { return int32(v-w) >= 0 }

// Add returns v + n, wrapping at 2^32.
func (v Value) Add(n Size) Value { return v + Value(n) }

// Sub returns the distance from w to v (v - w), wrapping at 2^32.
func (v Value) Sub(w Value) Size { return Size(v - w) }

// InRange reports a <= v < b in sequence space.
func (v Value) InRange(a, b Value) bool { return v.Sub(a) < b.Sub(a) }

// InWindow reports start <= v < start+size in sequence space.
func (v Value) InWindow(start Value, size Size) bool { return v.Sub(start) < size }

// Max returns the later of v and w.
func Max(v, w Value) Value {
	if v.LessThan(w) {
		return w
	}
	return v
}

// Min returns the earlier of v and w.
func Min(v, w Value) Value {
	if v.LessThan(w) {
		return v
	}
	return w
}
