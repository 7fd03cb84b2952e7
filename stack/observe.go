package stack

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
)

// eventHooks are the event listeners added after New (AddEventHook), run
// after Config.OnEvent. Emitting reads one atomic pointer; adding and
// removing copy the list under mu.
type eventHooks struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*hook]
}

type hook struct{ f func(Event) }

func (h *eventHooks) any() bool {
	l := h.list.Load()
	return l != nil && len(*l) > 0
}

func (h *eventHooks) run(e Event) {
	if l := h.list.Load(); l != nil {
		for _, k := range *l {
			k.f(e)
		}
	}
}

// AddEventHook adds f to the functions that see every state transition of
// every connection and listener, as Config.OnEvent does, on a stack that
// is already running (an observer attaching to it). Like OnEvent, f runs
// with the connection's (or the stack's) lock held: it must be quick and
// must not call into the stack. The returned function removes f.
func (s *Stack) AddEventHook(f func(Event)) (remove func()) {
	k := &hook{f: f}
	h := &s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	var l []*hook
	if p := h.list.Load(); p != nil {
		l = slices.Clone(*p)
	}
	l = append(l, k)
	h.list.Store(&l)
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		p := h.list.Load()
		if p == nil {
			return
		}
		l := slices.DeleteFunc(slices.Clone(*p), func(x *hook) bool { return x == k })
		h.list.Store(&l)
	}
}

// Listeners returns the addresses the stack listens on (each in LISTEN).
func (s *Stack) Listeners() []netip.AddrPort {
	s.mu.RLock()
	defer s.mu.RUnlock()
	as := make([]netip.AddrPort, 0, len(s.listeners))
	for a := range s.listeners {
		as = append(as, a)
	}
	return as
}
