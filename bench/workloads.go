package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"
)

// The workloads. Each is written once against Pair / net.Listener / net.Conn
// and runs identically for every stack. Each measures one section (set up
// and tear down are outside it) and reports figures in a result.

// params sizes one run of a workload.
type params struct {
	Bytes      int64 // bulk: bytes sent one way; many: bytes per connection
	WriteSize  int   // bulk, many: bytes per Write
	RoundTrips int   // pingpong
	Cycles     int   // connrate
	Pairs      int   // idle: established pairs to hold
	Conns      int   // many: concurrent connections
}

// result is what a worker reports: named figures plus notes for the table.
type result struct {
	Metrics map[string]float64 `json:"metrics"`
	Notes   []string           `json:"notes,omitempty"`
}

func newResult() *result { return &result{Metrics: make(map[string]float64)} }

// workloadFunc runs one workload on a fresh Pair.
type workloadFunc func(ctx context.Context, p Pair, pr params) (*result, error)

var workloads = map[string]workloadFunc{
	"bulk":     runBulk,
	"pingpong": runPingPong,
	"connrate": runConnRate,
	"idle":     runIdle,
	"idledata": runIdleData,
	"many":     runMany,
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// meter measures wall and CPU time of the section between start and stop,
// and how the Pair's counters (if it is a statsReporter) moved meanwhile.
type meter struct {
	p      Pair
	wall   time.Time
	cpu    time.Duration
	stats0 map[string]float64
}

func startMeter(p Pair) *meter {
	runtime.GC() // start every measured section with a clean heap
	m := &meter{p: p, stats0: pairStats(p)}
	m.wall, m.cpu = time.Now(), cpuTime()
	return m
}

// stop ends the section and records the counters' growth in r.
func (m *meter) stop(r *result) (wall, cpu time.Duration) {
	wall, cpu = time.Since(m.wall), cpuTime()-m.cpu
	for k, v := range pairStats(m.p) {
		r.Metrics["stat_"+k] = v - m.stats0[k]
	}
	return wall, cpu
}

func pairStats(p Pair) map[string]float64 {
	if sr, ok := p.(statsReporter); ok {
		return sr.Stats()
	}
	return nil
}

// connect dials port and accepts the connection on l: one established pair.
func connect(ctx context.Context, p Pair, l net.Listener, port uint16) (client, server net.Conn, err error) {
	client, err = p.Dial(ctx, port)
	if err != nil {
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	server, err = l.Accept()
	if err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("accept: %w", err)
	}
	return client, server, nil
}

// closeOnDone closes cs when ctx ends, so a stuck Read, Write or Accept
// returns. The returned func stops the watcher.
func closeOnDone[C io.Closer](ctx context.Context, cs ...C) func() {
	stop := context.AfterFunc(ctx, func() {
		for _, c := range cs {
			c.Close()
		}
	})
	return func() { stop() }
}

// sendN writes n bytes to c in chunks of buf.
func sendN(c net.Conn, buf []byte, n int64) error {
	for n > 0 {
		b := buf
		if int64(len(b)) > n {
			b = b[:n]
		}
		w, err := c.Write(b)
		n -= int64(w)
		if err != nil {
			return err
		}
	}
	return nil
}

// recvN reads exactly n bytes from c.
func recvN(c net.Conn, buf []byte, n int64) error {
	for n > 0 {
		b := buf
		if int64(len(b)) > n {
			b = b[:n]
		}
		r, err := c.Read(b)
		n -= int64(r)
		if err != nil {
			if n > 0 && errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			if n > 0 {
				return err
			}
		}
	}
	return nil
}

func fill(b []byte) []byte {
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

// onePair listens on basePort and connects one client to it; done closes
// everything (the connections also close if ctx ends first).
func onePair(ctx context.Context, p Pair) (c, s net.Conn, done func(), err error) {
	l, err := p.Listen(basePort)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listen: %w", err)
	}
	c, s, err = connect(ctx, p, l, basePort)
	if err != nil {
		l.Close()
		return nil, nil, nil, err
	}
	stop := closeOnDone(ctx, c, s)
	return c, s, func() { stop(); s.Close(); c.Close(); l.Close() }, nil
}

// runBulk: one connection, pr.Bytes client -> server in pr.WriteSize writes;
// the server reads with a buffer of the same size. Measured from the first
// write until the server holds the last byte.
func runBulk(ctx context.Context, p Pair, pr params) (*result, error) {
	c, s, done, err := onePair(ctx, p)
	if err != nil {
		return nil, err
	}
	defer done()

	wbuf := fill(make([]byte, pr.WriteSize))
	rbuf := make([]byte, pr.WriteSize)
	recvDone := make(chan error, 1)

	r := newResult()
	m := startMeter(p)
	go func() { recvDone <- recvN(s, rbuf, pr.Bytes) }()
	if err := sendN(c, wbuf, pr.Bytes); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	if err := <-recvDone; err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	wall, cpu := m.stop(r)

	gb := float64(pr.Bytes) / 1e9
	r.Metrics["gbps"] = gb * 8 / wall.Seconds()
	r.Metrics["cpu_s_per_gb"] = cpu.Seconds() / gb
	r.Metrics["wall_s"] = wall.Seconds()
	r.Metrics["cpu_s"] = cpu.Seconds()
	return r, nil
}

// runPingPong: one connection; the client writes one byte and waits for the
// server to echo it, pr.RoundTrips times (after 1,000 unmeasured ones).
func runPingPong(ctx context.Context, p Pair, pr params) (*result, error) {
	c, s, done, err := onePair(ctx, p)
	if err != nil {
		return nil, err
	}
	defer done()

	echoDone := make(chan error, 1)
	go func() {
		var b [1]byte
		for {
			if _, err := io.ReadFull(s, b[:]); err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				echoDone <- err
				return
			}
			if _, err := s.Write(b[:]); err != nil {
				echoDone <- err
				return
			}
		}
	}()
	var b [1]byte
	rt := func() error {
		b[0]++
		if _, err := c.Write(b[:]); err != nil {
			return err
		}
		_, err := io.ReadFull(c, b[:])
		return err
	}
	for range 1000 { // warm-up
		if err := rt(); err != nil {
			return nil, fmt.Errorf("round trip: %w", err)
		}
	}
	lat := make([]time.Duration, pr.RoundTrips)

	r := newResult()
	m := startMeter(p)
	for i := range lat {
		t := time.Now()
		if err := rt(); err != nil {
			return nil, fmt.Errorf("round trip: %w", err)
		}
		lat[i] = time.Since(t)
	}
	wall, cpu := m.stop(r)

	c.Close()
	if err := <-echoDone; err != nil {
		return nil, fmt.Errorf("echo: %w", err)
	}
	slices.Sort(lat)
	n := float64(pr.RoundTrips)
	r.Metrics["rt_per_s"] = n / wall.Seconds()
	r.Metrics["p50_us"] = float64(lat[len(lat)*50/100]) / 1e3
	r.Metrics["p99_us"] = float64(lat[len(lat)*99/100]) / 1e3
	r.Metrics["cpu_us_per_rt"] = cpu.Seconds() / n * 1e6
	r.Metrics["wall_s"] = wall.Seconds()
	return r, nil
}

// runConnRate: one after another, pr.Cycles times: the client connects, the
// server accepts, the client closes, the server reads the EOF and closes.
// (After 100 unmeasured cycles.) Connections are spread over several
// listening ports so no stack runs out of ephemeral ports while closed
// connections sit in TIME-WAIT.
func runConnRate(ctx context.Context, p Pair, pr params) (*result, error) {
	nports := (pr.Cycles+100)/pairsPerPort + 1
	ls := make([]net.Listener, nports)
	for i := range ls {
		l, err := p.Listen(basePort + uint16(i))
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		defer l.Close()
		ls[i] = l
	}
	defer closeOnDone(ctx, ls...)()

	var buf [1]byte
	cycle := func(i int) error {
		port := i / pairsPerPort
		c, s, err := connect(ctx, p, ls[port], basePort+uint16(port))
		if err != nil {
			return err
		}
		c.Close()
		n, err := s.Read(buf[:])
		s.Close()
		if n != 0 || !errors.Is(err, io.EOF) {
			return fmt.Errorf("server read after client close: n=%d err=%v, want EOF", n, err)
		}
		return nil
	}
	for i := range 100 {
		if err := cycle(i); err != nil {
			return nil, err
		}
	}

	r := newResult()
	m := startMeter(p)
	for i := range pr.Cycles {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := cycle(100 + i); err != nil {
			return nil, fmt.Errorf("cycle %d: %w", i, err)
		}
	}
	wall, cpu := m.stop(r)

	n := float64(pr.Cycles)
	r.Metrics["cycles_per_s"] = n / wall.Seconds()
	r.Metrics["cpu_us_per_cycle"] = cpu.Seconds() / n * 1e6
	r.Metrics["wall_s"] = wall.Seconds()
	return r, nil
}

// maxHeap is the memory budget for the "pairs in 8 GiB" estimate.
const maxHeap = 8 << 30

// runIdle: open pr.Pairs established connection pairs (both ends held, no
// data, no goroutines) and report the growth of the Go heap per pair,
// runtime.GC() then HeapAlloc before and after. Also estimates how many
// pairs fit in 8 GiB of heap at that rate.
func runIdle(ctx context.Context, p Pair, pr params) (*result, error) {
	return idlePairs(ctx, p, pr, 0)
}

// idleExchange is the request and the reply of the idledata workload.
const idleExchange = 100

// runIdleData: as idle, but every pair, once open, moves 100 B each way
// (the client writes, the server reads it and writes 100 B back, the
// client reads them) before the heap is measured: what a connection
// holds after a small request and reply (issue 10: target <= 32 KiB).
func runIdleData(ctx context.Context, p Pair, pr params) (*result, error) {
	return idlePairs(ctx, p, pr, idleExchange)
}

// exchange moves n bytes client -> server, then n back.
func exchange(c, s net.Conn, n int) error {
	buf := make([]byte, n)
	if _, err := c.Write(buf); err != nil {
		return err
	}
	if _, err := io.ReadFull(s, buf); err != nil {
		return err
	}
	if _, err := s.Write(buf); err != nil {
		return err
	}
	_, err := io.ReadFull(c, buf)
	return err
}

func idlePairs(ctx context.Context, p Pair, pr params, exch int) (*result, error) {
	r := newResult()
	n := pr.Pairs
	if lim, ok := p.(pairLimiter); ok && lim.MaxPairs() < n {
		r.Notes = append(r.Notes, fmt.Sprintf("capped at %d pairs (RLIMIT_NOFILE)", lim.MaxPairs()))
		n = lim.MaxPairs()
	}
	if n <= 0 {
		return nil, fmt.Errorf("no pairs to open")
	}
	nports := (n-1)/pairsPerPort + 1
	ls := make([]net.Listener, nports)
	for i := range ls {
		l, err := p.Listen(basePort + uint16(i))
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		defer l.Close()
		ls[i] = l
	}
	conns := make([]net.Conn, 0, 2*n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()

	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	stats0 := pairStats(p)
	t0 := time.Now()
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		port := i / pairsPerPort
		c, s, err := connect(ctx, p, ls[port], basePort+uint16(port))
		if err != nil {
			return nil, fmt.Errorf("pair %d: %w", i, err)
		}
		conns = append(conns, c, s)
		if exch > 0 {
			if err := exchange(c, s, exch); err != nil {
				return nil, fmt.Errorf("pair %d: exchange: %w", i, err)
			}
		}
	}
	open := time.Since(t0)
	time.Sleep(100 * time.Millisecond) // let in-flight handshake work settle
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(conns)
	for k, v := range pairStats(p) {
		r.Metrics["stat_"+k] = v - stats0[k]
	}

	// The conns slice itself (16 bytes a pair) was allocated before.
	per := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
	r.Metrics["pairs"] = float64(n)
	r.Metrics["heap_per_pair_bytes"] = per
	r.Metrics["stack_per_pair_bytes"] = (float64(after.StackInuse) - float64(before.StackInuse)) / float64(n)
	if per > 0 {
		r.Metrics["max_pairs_8gib_est"] = maxHeap / per
	}
	r.Metrics["open_pairs_per_s"] = float64(n) / open.Seconds()
	r.Metrics["goroutines"] = float64(runtime.NumGoroutine())
	return r, nil
}

// runMany: pr.Conns connections are set up first; then all of them at once
// move pr.Bytes client -> server each. Measured from the start signal until
// every server side holds its last byte.
func runMany(ctx context.Context, p Pair, pr params) (*result, error) {
	nports := (pr.Conns-1)/pairsPerPort + 1
	ls := make([]net.Listener, nports)
	for i := range ls {
		l, err := p.Listen(basePort + uint16(i))
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		defer l.Close()
		ls[i] = l
	}
	type cpair struct{ c, s net.Conn }
	pairs := make([]cpair, 0, pr.Conns)
	defer func() {
		for _, cp := range pairs {
			cp.c.Close()
			cp.s.Close()
		}
	}()
	for i := range pr.Conns {
		port := i / pairsPerPort
		c, s, err := connect(ctx, p, ls[port], basePort+uint16(port))
		if err != nil {
			return nil, fmt.Errorf("conn %d: %w", i, err)
		}
		pairs = append(pairs, cpair{c, s})
	}
	stop := context.AfterFunc(ctx, func() {
		for _, cp := range pairs {
			cp.c.Close()
			cp.s.Close()
		}
	})
	defer stop()

	wbuf := fill(make([]byte, pr.WriteSize)) // shared: only read
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(pairs))
	for _, cp := range pairs {
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			if err := sendN(cp.c, wbuf, pr.Bytes); err != nil {
				errs <- fmt.Errorf("send: %w", err)
			}
		}()
		go func() {
			defer wg.Done()
			rbuf := make([]byte, 64<<10)
			<-start
			if err := recvN(cp.s, rbuf, pr.Bytes); err != nil {
				errs <- fmt.Errorf("receive: %w", err)
			}
		}()
	}
	r := newResult()
	m := startMeter(p)
	close(start)
	wg.Wait()
	wall, cpu := m.stop(r)
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}

	gb := float64(pr.Bytes) * float64(len(pairs)) / 1e9
	r.Metrics["total_s"] = wall.Seconds()
	r.Metrics["gbps"] = gb * 8 / wall.Seconds()
	r.Metrics["cpu_s_per_gb"] = cpu.Seconds() / gb
	return r, nil
}
