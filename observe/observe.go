// Package observe watches synack stacks live: every connection's walk
// through the RFC 9293 state diagram (Figure 5, section 3.3.2), the
// connections themselves as `ss -ti` shows them, and the stacks' counters.
//
// An Observer attaches to one or more running stacks (Attach) or is fed
// events directly (Record, for a replay). Its Handler serves
//
//	/         a page: the state diagram with live counts, a connection
//	          table, each connection's path, counters as time series
//	/conns    a JSON snapshot (?id=N: one connection with its path)
//	/events   Server-Sent Events, one JSON object per transition, the
//	          fields of `synack demo --json`
//	/metrics  Prometheus text format
//
// Every asset is embedded: the page works offline. Events reach each
// /events client through a bounded buffer; a client that falls behind
// loses events (they are counted), and the stack never waits for it.
package observe

import (
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

// Options tune an Observer. Zero fields take defaults.
type Options struct {
	// History bounds the transitions kept per connection (default 64;
	// past it the oldest after the first are dropped).
	History int
	// Closed is how many finished connections keep their path for the
	// page (default 256).
	Closed int
	// Buffer bounds the events queued for each /events client (default
	// 4096); past it that client's events are dropped and counted.
	Buffer int
	// Interval is how often the page gets a snapshot (default 1s).
	Interval time.Duration
}

// Transition is one state change, as `synack demo --json` prints it.
type Transition struct {
	TMs      float64 `json:"t_ms"`
	Endpoint string  `json:"endpoint"`
	Conn     string  `json:"conn"`
	From     string  `json:"from"`
	To       string  `json:"to"`
	Cause    string  `json:"cause"`
}

// NewTransition formats e, seen by endpoint name.
func NewTransition(name string, e stack.Event) Transition {
	return Transition{
		TMs:      float64(e.Time.Microseconds()) / 1000,
		Endpoint: name, Conn: connName(e.Local, e.Remote),
		From: e.From.String(), To: e.To.String(), Cause: string(e.Cause),
	}
}

func connName(local, remote netip.AddrPort) string {
	if !remote.IsValid() {
		return local.String() + " (listener)"
	}
	return local.String() + "->" + remote.String()
}

// Observer tracks the connections of the stacks it watches.
type Observer struct {
	opts Options

	mu      sync.Mutex
	eps     []*endpoint
	conns   map[connKey]*track
	closed  []*track // ring of finished connections, for their paths
	closedN int      // next slot in closed
	nextID  uint64
	edges   map[edge]uint64
	subs    map[*subscriber]struct{}
	seen    map[connKey]Traffic // each open connection's traffic, last read
	retired map[string]Traffic  // closed connections' traffic, per endpoint
	folded  uint64              // the latest reading in seen
	reads   atomic.Uint64       // readings of the stacks taken

	events  atomic.Uint64 // transitions seen
	dropped atomic.Uint64 // transitions a slow /events client missed
}

type endpoint struct {
	name   string
	st     *stack.Stack // nil for a recorded (replayed) endpoint
	remove func()
	last   time.Duration // latest event time, the clock of a replay
}

type connKey struct {
	ep            string
	local, remote netip.AddrPort
}

type edge struct {
	ep       string
	from, to tcp.State
	cause    tcp.Cause
}

// track is one connection (or listener) as the events told it.
type track struct {
	id      uint64
	key     connKey
	state   tcp.State
	first   time.Duration
	path    []Transition
	skipped int // transitions dropped from the middle of path
}

// New makes an Observer watching nothing yet.
func New(opts Options) *Observer {
	if opts.History <= 0 {
		opts.History = 64
	}
	opts.History = max(opts.History, 2)
	if opts.Closed <= 0 {
		opts.Closed = 256
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 4096
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	return &Observer{
		opts:    opts,
		conns:   make(map[connKey]*track),
		edges:   make(map[edge]uint64),
		subs:    make(map[*subscriber]struct{}),
		seen:    make(map[connKey]Traffic),
		retired: make(map[string]Traffic),
	}
}

// Attach watches st under name (the endpoint column: "server", "client").
// Connections and listeners st already has appear at once, in their
// current state and without a path. Detach with the returned function.
func (o *Observer) Attach(name string, st *stack.Stack) (detach func()) {
	o.mu.Lock()
	ep := o.endpointLocked(name)
	ep.st = st
	o.mu.Unlock()
	remove := st.AddEventHook(func(e stack.Event) { o.Record(name, e) })
	// Seed what existed before the hook; events since then have already
	// made their own tracks, which win.
	now := st.Clock().Now()
	lns := st.Listeners()
	type seed struct {
		k connKey
		s tcp.State
	}
	var seeds []seed
	for _, a := range lns {
		seeds = append(seeds, seed{connKey{name, a, netip.AddrPort{}}, tcp.Listen})
	}
	for _, c := range st.Conns() {
		seeds = append(seeds, seed{connKey{name, c.LocalAddrPort(), c.RemoteAddrPort()}, c.State()})
	}
	o.mu.Lock()
	ep.remove = remove
	for _, sd := range seeds {
		if _, ok := o.conns[sd.k]; !ok && sd.s != tcp.Closed {
			o.nextID++
			o.conns[sd.k] = &track{id: o.nextID, key: sd.k, state: sd.s, first: now}
		}
	}
	o.mu.Unlock()
	return func() {
		remove()
		o.mu.Lock()
		defer o.mu.Unlock()
		ep.st, ep.remove = nil, nil
		for k := range o.conns {
			if k.ep == name {
				delete(o.conns, k)
			}
		}
		for k, t := range o.seen {
			if k.ep == name {
				o.retireTrafficLocked(k, t)
			}
		}
	}
}

func (o *Observer) endpointLocked(name string) *endpoint {
	for _, ep := range o.eps {
		if ep.name == name {
			return ep
		}
	}
	ep := &endpoint{name: name}
	o.eps = append(o.eps, ep)
	return ep
}

// Record feeds one transition seen by endpoint name. Attach calls it from
// the stack's event hook (with a connection's lock held, so it only
// updates memory and queues); a replay calls it directly.
func (o *Observer) Record(name string, e stack.Event) {
	tr := NewTransition(name, e)
	o.events.Add(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	ep := o.endpointLocked(name)
	ep.last = max(ep.last, e.Time)
	o.edges[edge{name, e.From, e.To, e.Cause}]++
	k := connKey{name, e.Local, e.Remote}
	t := o.conns[k]
	if t == nil {
		o.nextID++
		t = &track{id: o.nextID, key: k, first: e.Time}
		o.conns[k] = t
	}
	t.state = e.To
	t.add(tr, o.opts.History)
	// CLOSED ends a connection; a listener's child sent back to LISTEN by
	// a reset (RFC 9293 3.10.7.4) ends too.
	if e.To == tcp.Closed || (e.To == tcp.Listen && e.Remote.IsValid()) {
		delete(o.conns, k)
		o.retireLocked(t)
	}
	if len(o.subs) > 0 {
		o.publishLocked(tr)
	}
}

// add appends tr, keeping the first transition and the latest ones.
func (t *track) add(tr Transition, limit int) {
	if len(t.path) == limit {
		copy(t.path[1:], t.path[2:])
		t.path = t.path[:limit-1]
		t.skipped++
	}
	t.path = append(t.path, tr)
}

func (o *Observer) retireLocked(t *track) {
	if len(o.closed) < o.opts.Closed {
		o.closed = append(o.closed, t)
		return
	}
	o.closed[o.closedN] = t
	o.closedN = (o.closedN + 1) % len(o.closed)
}

// Counts returns how many connections (and listeners, in LISTEN) each
// endpoint has in each state, by RFC name, as the page's diagram shows.
func (o *Observer) Counts() map[string]map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := make(map[string]map[string]int)
	for _, ep := range o.eps {
		m[ep.name] = make(map[string]int)
	}
	for k, t := range o.conns {
		m[k.ep][t.state.String()]++
	}
	return m
}

// Dropped is how many events slow /events clients have missed in all.
func (o *Observer) Dropped() uint64 { return o.dropped.Load() }

// Close detaches every stack and ends every /events stream.
func (o *Observer) Close() {
	o.mu.Lock()
	var removes []func()
	for _, ep := range o.eps {
		if ep.remove != nil {
			removes = append(removes, ep.remove)
		}
	}
	for s := range o.subs {
		s.closeLocked()
		delete(o.subs, s)
	}
	o.mu.Unlock()
	for _, r := range removes {
		r()
	}
}

// ---- snapshots ----

// Snapshot is what /conns answers and what the page is sent every
// Interval.
type Snapshot struct {
	Endpoints []EndpointSnapshot `json:"endpoints"`
	Conns     []ConnSnapshot     `json:"conns"`
	More      int                `json:"more,omitempty"` // connections left out (the page's limit)
	Edges     []EdgeCount        `json:"edges"`
	Events    uint64             `json:"events"`
	Dropped   uint64             `json:"dropped"`
	Clients   int                `json:"clients"`
}

// EndpointSnapshot is one watched stack.
type EndpointSnapshot struct {
	Name   string         `json:"name"`
	NowMs  float64        `json:"now_ms"`
	States map[string]int `json:"states"`
	Stats  []Stat         `json:"stats,omitempty"`
	// Traffic is nil for an endpoint with no stack attached (a replay).
	Traffic *Traffic `json:"traffic,omitempty"`
}

// EdgeCount is how often one transition happened, all endpoints together.
type EdgeCount struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Cause string `json:"cause"`
	Count uint64 `json:"count"`
}

// ConnSnapshot is one connection, as `ss -ti` would show it.
type ConnSnapshot struct {
	ID       uint64       `json:"id"`
	Endpoint string       `json:"endpoint"`
	Local    string       `json:"local"`
	Remote   string       `json:"remote,omitempty"`
	State    string       `json:"state"`
	AgeMs    float64      `json:"age_ms"`
	Closed   bool         `json:"closed,omitempty"`
	Status   *Status      `json:"status,omitempty"`
	Path     []Transition `json:"path,omitempty"`
	Skipped  int          `json:"skipped,omitempty"`
}

// Status is the part of tcp.Status the table shows.
type Status struct {
	SRTTMs      float64 `json:"srtt_ms"`
	RTTVarMs    float64 `json:"rttvar_ms"`
	RTOMs       float64 `json:"rto_ms"`
	Cwnd        int     `json:"cwnd"`
	Ssthresh    int     `json:"ssthresh"`
	MSS         int     `json:"mss"`
	SndWnd      uint32  `json:"snd_wnd"`
	RcvWnd      uint32  `json:"rcv_wnd"`
	Unacked     int     `json:"unacked"`
	BytesOut    uint64  `json:"bytes_out"`
	BytesAcked  uint64  `json:"bytes_acked"`
	BytesIn     uint64  `json:"bytes_in"`
	SegsOut     uint64  `json:"segs_out"`
	SegsIn      uint64  `json:"segs_in"`
	Retransmits uint64  `json:"retransmits"`
	SendBuf     int     `json:"send_buf"`
	RecvBuf     int     `json:"recv_buf"`
	Options     string  `json:"options"` // "ws 7/7 ts sack ecn"
}

func newStatus(s tcp.Status) *Status {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	opts := ""
	add := func(on bool, w string) {
		if on {
			if opts != "" {
				opts += " "
			}
			opts += w
		}
	}
	add(s.WindowScale, "wscale:"+strconv.Itoa(int(s.SndShift))+","+strconv.Itoa(int(s.RcvShift)))
	add(s.Timestamps, "ts")
	add(s.SACK, "sack")
	add(s.ECN, "ecn")
	return &Status{
		SRTTMs: ms(s.SRTT), RTTVarMs: ms(s.RTTVar), RTOMs: ms(s.RTO),
		Cwnd: s.Cwnd, Ssthresh: s.Ssthresh, MSS: s.SendMSS,
		SndWnd: s.SndWnd, RcvWnd: s.RcvWnd, Unacked: s.Unacked,
		BytesOut: s.Stats.BytesSent, BytesAcked: s.Stats.BytesAcked, BytesIn: s.Stats.BytesReceived,
		SegsOut: s.Stats.SegsOut, SegsIn: s.Stats.SegsIn, Retransmits: s.Stats.Retransmits,
		SendBuf: s.SendBuf, RecvBuf: s.RecvBuf, Options: opts,
	}
}

// live is what the stacks say now, read without the observer's lock (the
// stack's locks come first: the event hook takes ours inside them).
type live struct {
	seq    uint64 // order of the readings
	status map[connKey]tcp.Status
	stats  map[string][]Stat
	now    map[string]time.Duration
}

func (o *Observer) readStacks() live {
	o.mu.Lock()
	type epst struct {
		name string
		st   *stack.Stack
	}
	var sts []epst
	for _, ep := range o.eps {
		if ep.st != nil {
			sts = append(sts, epst{ep.name, ep.st})
		}
	}
	o.mu.Unlock()
	l := live{seq: o.reads.Add(1), status: map[connKey]tcp.Status{}, stats: map[string][]Stat{}, now: map[string]time.Duration{}}
	for _, e := range sts {
		l.now[e.name] = e.st.Clock().Now()
		l.stats[e.name] = Stats(e.st.Stats())
		for _, c := range e.st.Conns() {
			l.status[connKey{e.name, c.LocalAddrPort(), c.RemoteAddrPort()}] = c.Status()
		}
	}
	return l
}

// Snapshot reports every endpoint and up to limit connections (0: all),
// listeners first, then by age.
func (o *Observer) Snapshot(limit int) Snapshot {
	l := o.readStacks()
	o.mu.Lock()
	defer o.mu.Unlock()
	snap := Snapshot{
		Endpoints: []EndpointSnapshot{}, Conns: []ConnSnapshot{}, Edges: []EdgeCount{}, // [] in JSON, not null
		Events: o.events.Load(), Dropped: o.dropped.Load(), Clients: len(o.subs),
	}
	now := map[string]time.Duration{}
	traffic := o.trafficLocked(l)
	for _, ep := range o.eps {
		t, ok := l.now[ep.name]
		if !ok {
			t = ep.last
		}
		now[ep.name] = t
		es := EndpointSnapshot{Name: ep.name, NowMs: ms(t), States: map[string]int{}, Stats: l.stats[ep.name]}
		if ep.st != nil {
			tr := traffic[ep.name]
			es.Traffic = &tr
		}
		for s := tcp.Closed; s <= tcp.LastAck; s++ {
			es.States[s.String()] = 0
		}
		snap.Endpoints = append(snap.Endpoints, es)
	}
	ts := make([]*track, 0, len(o.conns))
	for k, t := range o.conns {
		// A connection seeded by Attach that closed before it was seeded
		// never gets its CLOSED: the stack no longer has it.
		if _, live := l.now[k.ep]; live && len(t.path) == 0 && k.remote.IsValid() {
			if _, ok := l.status[k]; !ok {
				delete(o.conns, k)
				continue
			}
		}
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool {
		a, b := ts[i], ts[j]
		if la, lb := !a.key.remote.IsValid(), !b.key.remote.IsValid(); la != lb {
			return la
		}
		return a.id < b.id
	})
	for _, t := range ts {
		for i := range snap.Endpoints {
			if snap.Endpoints[i].Name == t.key.ep {
				snap.Endpoints[i].States[t.state.String()]++
			}
		}
		if limit > 0 && len(snap.Conns) >= limit {
			snap.More++
			continue
		}
		cs := t.snapshot(now[t.key.ep], false)
		if st, ok := l.status[t.key]; ok {
			cs.Status = newStatus(st)
		}
		snap.Conns = append(snap.Conns, cs)
	}
	for e, n := range o.edges {
		snap.Edges = append(snap.Edges, EdgeCount{From: e.from.String(), To: e.to.String(), Cause: string(e.cause), Count: n})
	}
	sort.Slice(snap.Edges, func(i, j int) bool {
		a, b := snap.Edges[i], snap.Edges[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.To != b.To {
			return a.To < b.To
		}
		return a.Cause < b.Cause
	})
	return snap
}

// Conn reports one connection, open or recently closed, with its path.
func (o *Observer) Conn(id uint64) (ConnSnapshot, bool) {
	l := o.readStacks()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, t := range o.conns {
		if t.id == id {
			now, ok := l.now[t.key.ep]
			if !ok {
				now = o.endpointLocked(t.key.ep).last
			}
			cs := t.snapshot(now, true)
			if st, ok := l.status[t.key]; ok {
				cs.Status = newStatus(st)
			}
			return cs, true
		}
	}
	for _, t := range o.closed {
		if t.id == id {
			cs := t.snapshot(t.path[len(t.path)-1].dur(), true)
			cs.Closed = true
			return cs, true
		}
	}
	return ConnSnapshot{}, false
}

func (tr Transition) dur() time.Duration { return time.Duration(tr.TMs * float64(time.Millisecond)) }

func (t *track) snapshot(now time.Duration, path bool) ConnSnapshot {
	cs := ConnSnapshot{
		ID: t.id, Endpoint: t.key.ep, Local: t.key.local.String(),
		State: t.state.String(), AgeMs: ms(max(now-t.first, 0)),
	}
	if t.key.remote.IsValid() {
		cs.Remote = t.key.remote.String()
	}
	if path {
		cs.Path = append([]Transition(nil), t.path...)
		cs.Skipped = t.skipped
	}
	return cs
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Interval is how often the page gets a snapshot.
func (o *Observer) Interval() time.Duration { return o.opts.Interval }
