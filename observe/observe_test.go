package observe

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synack-tcp/synack/link/pipe"
	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

var (
	addrA = netip.MustParseAddr("10.0.0.1")
	addrB = netip.MustParseAddr("10.0.0.2")
)

// rig is two stacks over an in-memory pipe, an echo server on the second,
// and an observer watching both, served over a loopback HTTP server.
type rig struct {
	client, server *stack.Stack
	ln             *stack.Listener
	obs            *Observer
	web            *httptest.Server
}

func newRig(t testing.TB, opts Options) *rig {
	t.Helper()
	ea, eb := pipe.New(1500)
	tc := tcp.Config{MSL: 50 * time.Millisecond} // TIME-WAIT ends soon
	c, err := stack.New(ea, stack.Config{Addrs: []netip.Addr{addrA}, TCP: tc})
	if err != nil {
		t.Fatal(err)
	}
	s, err := stack.New(eb, stack.Config{Addrs: []netip.Addr{addrB}, TCP: tc})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{client: c, server: s, obs: New(opts)}
	r.obs.Attach("client", c)
	r.obs.Attach("server", s)
	r.ln, err = s.ListenTCP("tcp", "10.0.0.2:7")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			nc, err := r.ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(nc, nc); nc.Close() }()
		}
	}()
	r.web = httptest.NewServer(r.obs.Handler())
	t.Cleanup(func() {
		r.obs.Close() // ends the /events streams, which web.Close waits for
		r.web.Close()
		c.Close()
		s.Close()
	})
	return r
}

// dial opens a connection to the echo server and checks one round trip.
func (r *rig) dial(t testing.TB) net.Conn {
	t.Helper()
	c, err := r.client.Dial("tcp", "10.0.0.2:7")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	return c
}

// truth counts the stacks' own connections by state, with listeners in
// LISTEN: what the diagram must show.
func (r *rig) truth() map[string]map[string]int {
	m := map[string]map[string]int{}
	for name, st := range map[string]*stack.Stack{"client": r.client, "server": r.server} {
		m[name] = map[string]int{}
		for _, c := range st.Conns() {
			m[name][c.State().String()]++
		}
		m[name]["LISTEN"] += len(st.Listeners())
		// A stack that keeps TIME-WAIT as compact records counts them in
		// NumConns but does not list them in Conns.
		if tw := st.NumConns() - len(st.Conns()); tw > 0 {
			m[name]["TIME-WAIT"] += tw
		}
	}
	return m
}

func nonzero(m map[string]map[string]int) map[string]map[string]int {
	out := map[string]map[string]int{}
	for ep, s := range m {
		out[ep] = map[string]int{}
		for k, v := range s {
			if v != 0 {
				out[ep][k] = v
			}
		}
	}
	return out
}

// waitCounts waits until the observer's counts equal the stacks'.
func (r *rig) waitCounts(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, want := nonzero(r.obs.Counts()), nonzero(r.truth())
		if reflect.DeepEqual(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("observer counts %v, stacks hold %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCountsFollowTheStacks(t *testing.T) {
	r := newRig(t, Options{})
	r.waitCounts(t) // one listener
	c := r.dial(t)
	r.waitCounts(t)
	if n := r.obs.Counts()["client"]["ESTABLISHED"]; n != 1 {
		t.Fatalf("client ESTABLISHED = %d, want 1", n)
	}
	c.Close()
	// Client: FIN-WAIT-1 ... TIME-WAIT -> CLOSED after 2*MSL; server:
	// CLOSE-WAIT, LAST-ACK, CLOSED.
	deadline := time.Now().Add(5 * time.Second)
	for r.client.NumConns()+r.server.NumConns() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.waitCounts(t)
	snap := r.obs.Snapshot(0)
	var path []Transition
	for _, id := range []uint64{1, 2, 3, 4} {
		if cs, ok := r.obs.Conn(id); ok && cs.Endpoint == "client" && cs.Remote != "" {
			path = cs.Path
		}
	}
	want := []string{"CLOSED>SYN-SENT", "SYN-SENT>ESTABLISHED", "ESTABLISHED>FIN-WAIT-1", "FIN-WAIT-1>FIN-WAIT-2", "FIN-WAIT-2>TIME-WAIT", "TIME-WAIT>CLOSED"}
	var got []string
	for _, p := range path {
		got = append(got, p.From+">"+p.To)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("client's path %v, want %v", got, want)
	}
	if len(snap.Edges) == 0 || snap.Events < 10 {
		t.Errorf("snapshot has %d edges, %d events", len(snap.Edges), snap.Events)
	}
}

// What a connection carried still counts after it has closed.
func TestTrafficSurvivesClose(t *testing.T) {
	r := newRig(t, Options{})
	c := r.dial(t)
	open := r.obs.Snapshot(0).Endpoints[0].Traffic // the client
	if open == nil || open.BytesOut != 4 || open.BytesIn != 4 || open.SegsOut < 3 {
		t.Fatalf("client traffic with the connection open: %+v", open)
	}
	c.Close()
	for end := time.Now().Add(5 * time.Second); r.client.NumConns() > 0 && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	after := r.obs.Snapshot(0).Endpoints[0].Traffic
	if after.BytesOut != 4 || after.BytesIn != 4 || after.SegsOut < open.SegsOut {
		t.Fatalf("client traffic after the close %+v, before %+v", after, open)
	}
	c2 := r.dial(t)
	defer c2.Close()
	if s := r.obs.Snapshot(0).Endpoints[0].Traffic; s.BytesOut != 8 {
		t.Fatalf("a second connection's 4 bytes: total %+v, want 8 bytes out", s)
	}
}

// A connection that existed before Attach appears, without a path.
func TestAttachSeesExistingConns(t *testing.T) {
	r := newRig(t, Options{})
	c := r.dial(t)
	defer c.Close()
	o := New(Options{})
	defer o.Close()
	o.Attach("late", r.client)
	if n := o.Counts()["late"]["ESTABLISHED"]; n != 1 {
		t.Fatalf("late observer sees %d ESTABLISHED, want 1", n)
	}
	s := o.Snapshot(0)
	if len(s.Conns) != 1 || s.Conns[0].Status == nil || s.Conns[0].Status.BytesOut != 4 {
		t.Fatalf("snapshot conns %+v, want one with status showing 4 bytes out", s.Conns)
	}
}

// An observer with nothing to show still answers arrays, which the page
// iterates over.
func TestEmptySnapshotJSON(t *testing.T) {
	b, err := json.Marshal(New(Options{}).Snapshot(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"endpoints":[]`, `"conns":[]`, `"edges":[]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}

func TestHistoryBounded(t *testing.T) {
	o := New(Options{History: 4, Closed: 2})
	local, remote := netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2")
	ev := func(t time.Duration, from, to tcp.State) stack.Event {
		return stack.Event{Time: t, Local: local, Remote: remote, From: from, To: to, Cause: "x"}
	}
	o.Record("a", ev(0, tcp.Closed, tcp.SynSent))
	for i := range 100 { // a hostile peer bouncing a connection around
		o.Record("a", ev(time.Duration(i+1), tcp.SynSent, tcp.SynSent))
	}
	cs, ok := o.Conn(1)
	if !ok || len(cs.Path) != 4 || cs.Skipped != 97 || cs.Path[0].From != "CLOSED" {
		t.Fatalf("path %+v skipped %d: want the first and the 3 latest of 101", cs.Path, cs.Skipped)
	}
	for i := range 5 { // five connections close; two keep their paths
		l := netip.AddrPortFrom(local.Addr(), uint16(100+i))
		o.Record("a", stack.Event{Local: l, Remote: remote, From: tcp.Closed, To: tcp.SynSent})
		o.Record("a", stack.Event{Local: l, Remote: remote, From: tcp.SynSent, To: tcp.Closed})
	}
	if len(o.closed) != 2 {
		t.Fatalf("%d closed connections kept, want 2", len(o.closed))
	}
	if _, ok := o.Conn(2); ok {
		t.Errorf("connection 2 is still kept after 4 more closed")
	}
	if _, ok := o.Conn(6); !ok {
		t.Errorf("the latest closed connection is not kept")
	}
}

// readEvents reads SSE data lines from body into ch.
func readEvents(body io.Reader, ch chan<- string) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			ch <- s
		}
	}
	close(ch)
}

// /events carries the objects `synack demo --json` prints.
func TestEventsStream(t *testing.T) {
	r := newRig(t, Options{})
	resp, err := http.Get(r.web.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	ch := make(chan string, 100)
	go readEvents(resp.Body, ch)
	for r.obs.Clients() == 0 {
		time.Sleep(time.Millisecond)
	}
	c := r.dial(t)
	defer c.Close()
	seen := map[string]bool{}
	timeout := time.After(5 * time.Second)
	for !seen["client SYN-SENT>ESTABLISHED"] || !seen["server SYN-RECEIVED>ESTABLISHED"] {
		select {
		case s := <-ch:
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				t.Fatalf("bad event %q: %v", s, err)
			}
			if len(m) != 6 || m["t_ms"] == nil || m["endpoint"] == nil || m["conn"] == nil || m["from"] == nil || m["to"] == nil || m["cause"] == nil {
				t.Fatalf("event %s: want exactly t_ms, endpoint, conn, from, to, cause", s)
			}
			seen[m["endpoint"].(string)+" "+m["from"].(string)+">"+m["to"].(string)] = true
		case <-timeout:
			t.Fatalf("saw only %v", seen)
		}
	}
}

// A client that reads nothing loses events past its buffer, counted, and
// the stack is not slowed: every dial completes.
func TestSlowClientDrops(t *testing.T) {
	r := newRig(t, Options{Buffer: 8})
	sub := r.obs.subscribe() // a browser that stopped reading
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			c := r.dial(t)
			c.Close()
		})
	}
	wg.Wait()
	r.obs.mu.Lock()
	dropped := sub.dropped
	r.obs.mu.Unlock()
	if len(sub.ch) != 8 || dropped == 0 || r.obs.Dropped() != dropped {
		t.Fatalf("queue %d/8, dropped %d (observer: %d) of %d events", len(sub.ch), dropped, r.obs.Dropped(), r.obs.events.Load())
	}
	r.obs.unsubscribe(sub)
}

// A browser that disconnects mid-stream costs nothing: its stream ends and
// its subscription with it, and the stack goes on.
func TestClientDisconnects(t *testing.T) {
	r := newRig(t, Options{Interval: 10 * time.Millisecond})
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", r.web.URL+"/events?snapshots=1", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		ch := make(chan string, 100)
		go readEvents(resp.Body, ch)
		r.dial(t).Close()
		<-ch // mid-stream
		cancel()
		resp.Body.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.obs.Clients() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams of clients that went away are still open", r.obs.Clients())
		}
		time.Sleep(time.Millisecond)
	}
	r.dial(t).Close()
}

func TestConnsJSON(t *testing.T) {
	r := newRig(t, Options{})
	c := r.dial(t)
	defer c.Close()
	var s Snapshot
	get(t, r.web.URL+"/conns", &s)
	var found *ConnSnapshot
	for i := range s.Conns {
		if s.Conns[i].Endpoint == "client" && s.Conns[i].State == "ESTABLISHED" {
			found = &s.Conns[i]
		}
	}
	if found == nil || found.Status == nil {
		t.Fatalf("no client ESTABLISHED connection with its status in %+v", s.Conns)
	}
	if st := found.Status; st.MSS != 1448 /* 1460 less 12 of timestamps */ || !strings.Contains(st.Options, "sack") || st.BytesOut != 4 || st.BytesIn != 4 {
		t.Fatalf("status %+v: want MSS 1448, SACK, 4 bytes each way", st)
	}
	var one ConnSnapshot
	get(t, r.web.URL+"/conns?id="+jsonNum(found.ID), &one)
	if len(one.Path) != 2 || one.Path[1].To != "ESTABLISHED" || one.Path[1].Cause != "rcv SYN,ACK" {
		t.Fatalf("path %+v", one.Path)
	}
	for _, q := range []string{"?id=x", "?id=99999"} {
		resp, err := http.Get(r.web.URL + "/conns" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("/conns%s: %s", q, resp.Status)
		}
	}
}

func jsonNum(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func get(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestMetrics(t *testing.T) {
	r := newRig(t, Options{})
	c := r.dial(t)
	defer c.Close()
	resp, err := http.Get(r.web.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	for _, want := range []string{
		`synack_connections{endpoint="client",state="ESTABLISHED"} 1`,
		`synack_connections{endpoint="server",state="LISTEN"} 1`,
		`synack_connections{endpoint="server",state="TIME-WAIT"} 0`,
		`synack_transitions_total{cause="rcv SYN,ACK",endpoint="client",from="SYN-SENT",to="ESTABLISHED"} 1`,
		`synack_stack_packets_in_total{endpoint="server"}`,
		`synack_stack_bad_checksum_total{endpoint="client"} 0`,
		`synack_bytes_total{direction="out",endpoint="client"} 4`,
		`synack_segments_total{direction="in",endpoint="server"}`,
		`synack_open_conn_buffer_bytes{buffer="recv",endpoint="server"}`,
		`synack_observe_events_dropped_total 0`,
		`go_memstats_heap_inuse_bytes`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// Every atomic field of stack.Stats is a counter on the page, so those
// added later appear with no change here.
func TestStatsCoverEveryField(t *testing.T) {
	var st stack.Stats
	st.PacketsIn.Add(3)
	stats := Stats(&st)
	var names []string
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			switch {
			case strings.HasPrefix(f.Type.String(), "atomic."):
				names = append(names, prefix+f.Name)
			case f.Type.Kind() == reflect.Struct:
				walk(prefix+f.Name, f.Type)
			case f.Type.Kind() == reflect.Array:
				for j := range f.Type.Len() {
					names = append(names, prefix+f.Name+strconv.Itoa(j))
				}
			}
		}
	}
	walk("", reflect.TypeFor[stack.Stats]())
	var got []string
	for _, s := range stats {
		got = append(got, s.Name)
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Fatalf("stats %v\nfields of stack.Stats %v", got, names)
	}
	if stats[0].Name != "PacketsIn" || stats[0].Value != 3 || stats[0].Key != "packets_in" {
		t.Errorf("first stat %+v", stats[0])
	}
}

// Nested structs and arrays of counters, as stack.Stats may hold them.
func TestStatsNested(t *testing.T) {
	var v struct {
		Top  atomic.Uint64
		ICMP struct {
			Received  atomic.Uint64
			ByKind    [2]atomic.Uint64
			CacheSize atomic.Int64
		}
		note string
	}
	v.Top.Store(1)
	v.ICMP.ByKind[1].Store(7)
	v.ICMP.CacheSize.Store(-2)
	_ = v.note
	got := appendStats(nil, "", reflect.ValueOf(&v).Elem())
	want := []Stat{
		{Name: "Top", Key: "top", Value: 1},
		{Name: "ICMPReceived", Key: "icmp_received"},
		{Name: "ICMPByKind0", Key: "icmp_by_kind0"},
		{Name: "ICMPByKind1", Key: "icmp_by_kind1", Value: 7},
		{Name: "ICMPCacheSize", Key: "icmp_cache_size", Gauge: true, Value: -2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"PacketsIn": "packets_in", "MalformedIP": "malformed_ip", "SYNCookiesSent": "syn_cookies_sent",
		"ICMPIn": "icmp_in", "MemoryInUse": "memory_in_use", "Drops4xx": "drops4xx",
	} {
		if got := snake(in); got != want {
			t.Errorf("snake(%s) = %s, want %s", in, got, want)
		}
	}
	if !isGauge("MemoryInUse") || isGauge("ChallengeAcks") {
		t.Error("isGauge")
	}
}
