package stack

import (
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/synack-tcp/synack/tcp"
)

// An observer attaches to a running stack with AddEventHook, sees the same
// events as Config.OnEvent (listeners' too), and stops seeing them once
// removed.
func TestAddEventHook(t *testing.T) {
	var mu sync.Mutex
	var viaConfig, viaHook []Event
	a, b := pair(t, 1500, func(e Event) {
		mu.Lock()
		viaConfig = append(viaConfig, e)
		mu.Unlock()
	})
	removes := []func(){}
	for _, s := range []*Stack{a, b} {
		removes = append(removes, s.AddEventHook(func(e Event) {
			mu.Lock()
			viaHook = append(viaHook, e)
			mu.Unlock()
		}))
	}
	l, err := b.ListenTCP("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Listeners(); !slices.Equal(got, []netip.AddrPort{l.AddrPort()}) {
		t.Fatalf("Listeners() = %v, want [%v]", got, l.AddrPort())
	}
	c, err := a.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if !slices.Equal(viaConfig, viaHook) || len(viaHook) == 0 {
		t.Errorf("hook saw %v\nOnEvent saw %v", viaHook, viaConfig)
	}
	if viaHook[0].From != tcp.Closed || viaHook[0].To != tcp.Listen || viaHook[0].Remote.IsValid() {
		t.Errorf("first event %+v, want the listener's CLOSED -> LISTEN", viaHook[0])
	}
	n := len(viaHook)
	mu.Unlock()
	for _, r := range removes {
		r()
	}
	c.Close()
	sc.Close()
	l.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(viaHook) != n {
		t.Errorf("removed hook saw %d more events", len(viaHook)-n)
	}
	if len(viaConfig) <= n {
		t.Errorf("OnEvent saw no events after the close")
	}
}
