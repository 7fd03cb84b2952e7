package clock

import (
	"testing"
	"time"
)

func TestVirtualOrderAndTies(t *testing.T) {
	v := NewVirtual()
	var got []string
	v.AfterFunc(2*time.Second, func() { got = append(got, "b") })
	v.AfterFunc(time.Second, func() { got = append(got, "a") })
	v.AfterFunc(2*time.Second, func() { got = append(got, "c") })
	stopped := v.AfterFunc(1500*time.Millisecond, func() { got = append(got, "x") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report pending once")
	}
	v.RunUntil(3 * time.Second)
	if want := "abc"; join(got) != want {
		t.Fatalf("order %q, want %q", join(got), want)
	}
	if v.Now() != 3*time.Second {
		t.Fatalf("now %v", v.Now())
	}
}

func TestVirtualResetAndNested(t *testing.T) {
	v := NewVirtual()
	var at []time.Duration
	tm := v.AfterFunc(time.Second, func() { at = append(at, v.Now()) })
	tm.Reset(5 * time.Second)
	v.AfterFunc(2*time.Second, func() {
		v.AfterFunc(time.Second, func() { at = append(at, v.Now()) })
	})
	for v.Step() {
	}
	if len(at) != 2 || at[0] != 3*time.Second || at[1] != 5*time.Second {
		t.Fatalf("fired at %v", at)
	}
	if _, ok := v.Next(); ok {
		t.Fatal("queue should be empty")
	}
}

func join(s []string) (r string) {
	for _, x := range s {
		r += x
	}
	return r
}
