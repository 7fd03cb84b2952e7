package seq

import "testing"

func TestCompareAcrossWrap(t *testing.T) {
	cases := []struct {
		a, b Value
		less bool
	}{
		{0, 1, true},
		{1, 0, false},
		{0xffffffff, 0, true}, // 2^32-1 precedes 0 (RFC 9293 3.4)
		{0xfffffff0, 0x10, true},
		{0x10, 0xfffffff0, false},
		{5, 5, false},
	}
	for _, c := range cases {
		if got := c.a.LessThan(c.b); got != c.less {
			t.Errorf("%#x < %#x = %v, want %v", c.a, c.b, got, c.less)
		}
		if got := c.b.GreaterThan(c.a); got != c.less {
			t.Errorf("%#x > %#x = %v, want %v", c.b, c.a, got, c.less)
		}
	}
	if !Value(7).LessThanEq(7) || !Value(7).GreaterThanEq(7) {
		t.Error("equality comparisons")
	}
}

func TestWindowAcrossWrap(t *testing.T) {
	start := Value(0xfffffff0)
	if !start.Add(0x20).InRange(start, start.Add(0x21)) {
		t.Error("value past wrap should be in range")
	}
	if Value(0x11).InWindow(start, 0x20) {
		t.Error("end of window is exclusive")
	}
	if !Value(0x0f).InWindow(start, 0x20) {
		t.Error("last byte of window")
	}
	if Value(0).InWindow(0, 0) {
		t.Error("empty window holds nothing")
	}
	if got := Value(0x10).Sub(start); got != 0x20 {
		t.Errorf("Sub across wrap = %#x", got)
	}
	if Max(start, 3) != 3 || Min(start, 3) != start {
		t.Error("Max/Min across wrap")
	}
}
