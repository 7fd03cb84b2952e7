package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
)

// kernelPair is the reference: Go's package net over the Linux loopback
// interface (127.0.0.1, MTU 65536 whatever mtu is asked for). Both ends live
// in this process; the kernel's TCP work is charged to it as system time.
type kernelPair struct {
	mu    sync.Mutex
	ports map[uint16]uint16 // requested port -> port actually bound
}

func newKernelPair(mtu int) (Pair, error) {
	_ = mtu // loopback has its own MTU; the table says so
	return &kernelPair{ports: make(map[uint16]uint16)}, nil
}

// Listen binds 127.0.0.1:port, or an ephemeral port when that one is taken
// (another program on this machine may own it); Dial maps it back.
func (k *kernelPair) Listen(port uint16) (net.Listener, error) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil && port != 0 && errors.Is(err, syscall.EADDRINUSE) {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.ports[port] = uint16(l.Addr().(*net.TCPAddr).Port)
	k.mu.Unlock()
	return l, nil
}

func (k *kernelPair) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	k.mu.Lock()
	if p, ok := k.ports[port]; ok {
		port = p
	}
	k.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
}

func (k *kernelPair) Close() error { return nil }

// MaxPairs implements pairLimiter: every pair costs two file descriptors and
// RLIMIT_NOFILE (which Go raises to its hard limit at start-up) bounds them.
func (k *kernelPair) MaxPairs() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1 << 30
	}
	n := (int64(rl.Cur) - 256) / 2 // leave room for listeners, stdio, epoll
	if n < 0 {
		return 0
	}
	if n > 1<<30 {
		return 1 << 30
	}
	return int(n)
}
