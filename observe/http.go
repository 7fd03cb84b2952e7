package observe

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strconv"
	"time"
)

//go:embed web
var webFS embed.FS

// pageConns bounds the connections in each snapshot the page is sent.
const pageConns = 500

// Handler serves the page and its endpoints (/conns, /events, /metrics).
// Its links are relative, so it can be mounted under a prefix with
// http.StripPrefix.
func (o *Observer) Handler() http.Handler {
	mux := http.NewServeMux()
	web, _ := fs.Sub(webFS, "web")
	mux.Handle("GET /", http.FileServerFS(web))
	mux.HandleFunc("GET /conns", o.serveConns)
	mux.HandleFunc("GET /events", o.serveEvents)
	mux.Handle("GET /metrics", o.metricsHandler())
	return mux
}

func (o *Observer) serveConns(w http.ResponseWriter, r *http.Request) {
	var v any
	if s := r.URL.Query().Get("id"); s != "" {
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			http.Error(w, "want /conns?id=N", http.StatusBadRequest)
			return
		}
		c, ok := o.Conn(id)
		if !ok {
			http.Error(w, "no such connection (it may have closed long ago)", http.StatusNotFound)
			return
		}
		v = c
	} else {
		v = o.Snapshot(0)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// subscriber is one /events client: a bounded queue the event hook fills
// without ever blocking.
type subscriber struct {
	ch      chan []byte
	done    chan struct{}
	closed  bool
	dropped uint64
}

func (s *subscriber) closeLocked() {
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

func (o *Observer) subscribe() *subscriber {
	s := &subscriber{ch: make(chan []byte, o.opts.Buffer), done: make(chan struct{})}
	o.mu.Lock()
	o.subs[s] = struct{}{}
	o.mu.Unlock()
	return s
}

func (o *Observer) unsubscribe(s *subscriber) {
	o.mu.Lock()
	delete(o.subs, s)
	s.closeLocked()
	o.mu.Unlock()
}

// Clients is how many /events streams are open.
func (o *Observer) Clients() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.subs)
}

// publishLocked queues tr for every client; a full queue drops it.
func (o *Observer) publishLocked(tr Transition) {
	b, err := json.Marshal(tr)
	if err != nil {
		return
	}
	for s := range o.subs {
		select {
		case s.ch <- b:
		default:
			s.dropped++
			o.dropped.Add(1)
		}
	}
}

// writeTimeout cuts off a client that accepts no bytes for this long.
const writeTimeout = 10 * time.Second

// serveEvents streams transitions as Server-Sent Events, one JSON object
// (the fields of `synack demo --json`) per "data:" line. With
// ?snapshots=1 (the page) it also sends an "event: snapshot" every
// Interval, which carries the counts, so a page that lost events is right
// again at the next one.
func (o *Observer) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	snapshots := r.URL.Query().Get("snapshots") != ""
	s := o.subscribe()
	defer o.unsubscribe(s)
	buf := []byte("retry: 2000\n\n")
	var tick <-chan time.Time
	if snapshots {
		buf = o.appendSnapshot(buf)
		t := time.NewTicker(o.opts.Interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		if len(buf) > 0 {
			rc.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := w.Write(buf); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			buf = buf[:0]
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case b := <-s.ch:
			buf = appendEvent(buf, b)
			for more := true; more && len(buf) < 64<<10; {
				select {
				case b := <-s.ch:
					buf = appendEvent(buf, b)
				default:
					more = false
				}
			}
		case <-tick:
			buf = o.appendSnapshot(buf)
		}
	}
}

func appendEvent(buf, b []byte) []byte {
	buf = append(buf, "data: "...)
	buf = append(buf, b...)
	return append(buf, "\n\n"...)
}

func (o *Observer) appendSnapshot(buf []byte) []byte {
	b, err := json.Marshal(o.Snapshot(pageConns))
	if err != nil {
		return buf
	}
	buf = append(buf, "event: snapshot\ndata: "...)
	buf = append(buf, b...)
	return append(buf, "\n\n"...)
}
