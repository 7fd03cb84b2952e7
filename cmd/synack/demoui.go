package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/synack-tcp/synack/observe"
	"github.com/synack-tcp/synack/stack"
)

// demoPage replays a demo's transitions on the observe page (--ui).
type demoPage struct {
	ln     net.Listener
	events []namedEvent
}

type namedEvent struct {
	name string
	e    stack.Event
}

// maxGap is the longest real pause of a replay: TIME-WAIT's 2*MSL would
// otherwise keep a viewer waiting for minutes.
const maxGap = 3 * time.Second

// newDemoPage binds --ui before the simulation runs, and has o record the
// events; nil without --ui.
func newDemoPage(o *demoOptions) (*demoPage, error) {
	if o.ui == "" {
		return nil, nil
	}
	ln, err := bindUI("synack demo", o.ui)
	if err != nil {
		return nil, err
	}
	p := &demoPage{ln: ln}
	o.capture = func(name string, e stack.Event) { p.events = append(p.events, namedEvent{name, e}) }
	return p, nil
}

// replay waits for a page to connect, plays the events at o.speed, then
// serves until SIGINT or SIGTERM (or returns, with --ui-exit).
func (p *demoPage) replay(o demoOptions, stderr io.Writer) {
	if p == nil {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	obs := observe.New(observe.Options{Interval: 250 * time.Millisecond})
	defer startPage(p.ln, obs)()
	url := "http://" + p.ln.Addr().String() + "/"
	fmt.Fprintf(stderr, "synack demo: open %s to watch; the replay starts when the page connects\n", url)
	for obs.Clients() == 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	time.Sleep(500 * time.Millisecond) // let the page draw itself first
	var prev time.Duration
	for i, ne := range p.events {
		if i > 0 {
			gap := time.Duration(float64(ne.e.Time-prev) / o.speed)
			if o.speed < 1 {
				gap = max(gap, 200*time.Millisecond) // each step visible
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(gap, maxGap)):
			}
		}
		prev = ne.e.Time
		obs.Record(ne.name, ne.e)
	}
	fmt.Fprintf(stderr, "synack demo: replayed %d transitions", len(p.events))
	if o.uiExit {
		fmt.Fprintln(stderr)
		time.Sleep(2 * obs.Interval()) // one more snapshot reaches the page
		return
	}
	fmt.Fprintln(stderr, "; serving the page until Ctrl-C")
	<-ctx.Done()
}
