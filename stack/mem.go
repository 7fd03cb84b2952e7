package stack

import (
	"net"
	"syscall"

	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// The stack-wide memory budget (Config.MemBudget), like Linux's tcp_mem:
// every connection's send and receive buffers take their chunks from one
// tcp.Pool charged against it. See tcp.Pool for what pressure and the
// limit do to a connection; over the limit the stack also refuses new
// connections: a listener answers their SYN with a reset, and Dial fails
// with ENOBUFS.

// defaultMemBudget is an eighth of physical memory (1 GiB where it cannot
// be read), about what Linux's tcp_mem pressure mark is.
func defaultMemBudget() int64 {
	if m := physicalMemory(); m > 0 {
		return m / 8
	}
	return 1 << 30
}

// newPool makes the stack's pool from the config (after defaults).
func (s *Stack) newPool() *tcp.Pool {
	budget := s.cfg.MemBudget
	if budget == 0 {
		budget = defaultMemBudget()
	}
	if budget < 0 {
		budget = 0 // no limit
	}
	pressure := s.cfg.MemPressure
	if pressure <= 0 || pressure > budget {
		pressure = budget / 3 * 2
	}
	return tcp.NewPool(pressure, budget, &s.stats.Mem)
}

// refuseOverLimit answers a SYN with a reset when the budget is spent
// (3.10.7.2 lets a listener refuse; a reset tells the peer at once).
func (s *Stack) refuseOverLimit(id tuple, h *wire.TCP, payload []byte) bool {
	if !s.pool.OverLimit() {
		return false
	}
	s.stats.Mem.Refused.Add(1)
	if rst, ok := tcp.ResetFor(h, len(payload)); ok {
		s.stats.ResetsSent.Add(1)
		b := s.getBatch()
		b.add(id, &rst, nil, nil, ipDefaults(id.local.Addr()))
		s.sendBatch(b)
	}
	return true
}

// dialOverLimit is Dial's error when the budget is spent.
func (s *Stack) dialOverLimit(remote tuple) error {
	if !s.pool.OverLimit() {
		return nil
	}
	s.stats.Mem.Refused.Add(1)
	return &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote.remote), Err: syscall.ENOBUFS}
}
