package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/synack-tcp/synack/observe"
	"github.com/synack-tcp/synack/stack"
)

// observeMode (-observe) attaches the observe page to every synack pair,
// with a client that reads its /events stream as the page does, so that
// the figures show what watching costs.
var observeMode bool

// watcher is an observer on both stacks of a pair, served on loopback,
// and a client reading /events?snapshots=1 (transitions and a snapshot
// every second, with every connection's Status).
type watcher struct {
	obs    *observe.Observer
	srv    *http.Server
	cancel context.CancelFunc
	done   chan struct{}
}

func watch(cli, srv *stack.Stack) (*watcher, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	w := &watcher{obs: observe.New(observe.Options{}), done: make(chan struct{})}
	w.obs.Attach("client", cli)
	w.obs.Attach("server", srv)
	w.srv = &http.Server{Handler: w.obs.Handler()}
	go w.srv.Serve(ln)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ln.Addr().String()+"/events?snapshots=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		w.close()
		return nil, err
	}
	// Wait for the first snapshot: the stream is live before the work.
	r := bufio.NewReader(resp.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			resp.Body.Close()
			cancel()
			w.close()
			return nil, errors.Join(errors.New("observe: no snapshot"), err)
		}
		if strings.HasPrefix(line, "event: snapshot") {
			break
		}
	}
	w.cancel = cancel
	go func() {
		defer close(w.done)
		defer resp.Body.Close()
		buf := make([]byte, 64<<10)
		for {
			if _, err := r.Read(buf); err != nil {
				return
			}
		}
	}()
	return w, nil
}

func (w *watcher) close() {
	if w.cancel != nil {
		w.cancel()
		select {
		case <-w.done:
		case <-time.After(5 * time.Second):
		}
	}
	w.obs.Close()
	w.srv.Close()
}
