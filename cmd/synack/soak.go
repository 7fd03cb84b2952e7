package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/synack-tcp/synack/internal/simharness"
)

// soakOptions are the flags of "synack soak".
type soakOptions struct {
	seeds   int
	from    int64
	grid    bool
	workers int
	verbose bool
	trace   bool
	spec    simharness.Spec // the fault and transfer flags; Seed unused
}

// soakRun runs one seed (tests replace it).
var soakRun = simharness.Run

const soakUsage = `usage: synack soak [flags]
Runs two stacks over a faulty simulated link under a virtual clock, once per seed:
each moves data both ways at once and closes, and every byte, state and timer
is checked after every event. A failing seed prints a command that replays it.
Link flags take one value for both directions, or A/B for client->server/server->client.
`

func parseSoak(args []string, stderr io.Writer) (soakOptions, error) {
	o := soakOptions{spec: simharness.DefaultSpec(), seeds: 100, from: 1, workers: runtime.GOMAXPROCS(0)}
	fs := newFlags("soak", soakUsage, stderr)
	fs.Var(intFlag{&o.seeds}, "seeds", "how many seeds to run")
	fs.Var(int64Flag{&o.from}, "from", "the first seed")
	fs.BoolVar(&o.grid, "grid", false, "let each seed pick its whole spec from the fault grid (no other spec flags)")
	fs.Var(intFlag{&o.workers}, "workers", "seeds run at once (output stays in seed order)")
	fs.BoolVar(&o.verbose, "v", false, "print a line for every seed, not only the failing ones")
	fs.BoolVar(&o.trace, "trace", false, "print every packet, fate, transition and application call (use with --seeds 1)")
	o.spec.RegisterFlags(fs.FlagSet)
	if err := fs.parse(args); err != nil {
		return o, err
	}
	bad := func(format string, a ...any) (soakOptions, error) { return o, fs.bad(format, a...) }
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if o.seeds < 1 {
		return bad("invalid value %d for --seeds: want at least 1", o.seeds)
	}
	if o.workers < 1 {
		return bad("invalid value %d for --workers: want at least 1", o.workers)
	}
	if o.grid {
		var specFlags []string
		own := map[string]bool{"seeds": true, "from": true, "grid": true, "workers": true, "v": true, "trace": true}
		fs.Visit(func(f *flag.Flag) {
			if !own[f.Name] {
				specFlags = append(specFlags, "--"+f.Name)
			}
		})
		if len(specFlags) > 0 {
			return bad("--grid picks every spec flag from the seed; drop %s", strings.Join(specFlags, " "))
		}
	}
	if o.spec.Limit == 0 {
		return bad("invalid value 0 for --limit: every run needs a virtual time limit, such as 6h (the default)")
	}
	if err := o.spec.Validate(); err != nil {
		return bad("%v", err)
	}
	if o.trace {
		o.workers = 1
	}
	return o, nil
}

func runSoak(args []string, stdout, stderr io.Writer) int {
	o, err := parseSoak(args, stderr)
	if err != nil {
		return exitCode(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if soak(ctx, o, stdout, stderr) > 0 {
		return 1
	}
	return 0
}

// soakRecord is what the printer keeps of one seed's result.
type soakRecord struct {
	res  simharness.Result
	wall time.Duration
}

// soakPool runs seeds on o.workers goroutines, at most a few seeds ahead
// of the printer, which takes the results in seed order.
type soakPool struct {
	o       soakOptions
	ctx     context.Context
	mu      sync.Mutex
	cond    *sync.Cond
	results map[int]soakRecord // finished, not yet printed
	next    int                // next seed index to hand out
	wg      sync.WaitGroup
}

func (o soakOptions) specFor(i int) simharness.Spec {
	seed := o.from + int64(i)
	if o.grid {
		return simharness.GridSpec(seed)
	}
	s := o.spec
	s.Seed = seed
	return s
}

func startSoak(ctx context.Context, o soakOptions, traceTo io.Writer) *soakPool {
	p := &soakPool{o: o, ctx: ctx, results: make(map[int]soakRecord)}
	p.cond = sync.NewCond(&p.mu)
	for range o.workers {
		p.wg.Add(1)
		go p.work(traceTo)
	}
	context.AfterFunc(ctx, func() { // an interrupt wakes everyone
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	return p
}

func (p *soakPool) work(traceTo io.Writer) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		for p.next < p.o.seeds && p.ctx.Err() == nil && len(p.results) > 4*p.o.workers {
			p.cond.Wait()
		}
		if p.next >= p.o.seeds || p.ctx.Err() != nil {
			p.mu.Unlock()
			return
		}
		i := p.next
		p.next++
		p.mu.Unlock()
		spec := p.o.specFor(i)
		start := time.Now()
		var res simharness.Result
		if p.o.trace {
			res = simharness.RunTrace(spec, traceTo)
		} else {
			res = soakRun(spec)
		}
		p.mu.Lock()
		p.results[i] = soakRecord{res, time.Since(start)}
		p.cond.Broadcast()
		p.mu.Unlock()
	}
}

// take waits for seed index i; false means interrupted.
func (p *soakPool) take(i int) (soakRecord, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rec, ok := p.results[i]
	for !ok && p.ctx.Err() == nil {
		p.cond.Wait()
		rec, ok = p.results[i]
	}
	delete(p.results, i)
	p.cond.Broadcast()
	return rec, ok
}

// soak runs the seeds and prints, in seed order, a line per failing seed
// (every seed with -v), a summary, and "N passed, M failed". It returns
// how many failed; seeds an interrupt kept from running count as failed.
func soak(ctx context.Context, o soakOptions, stdout, stderr io.Writer) int {
	pool := startSoak(ctx, o, stdout)
	prog := newProgress(stderr, o.seeds)
	passed, failed, timeouts := 0, 0, 0
	var packets uint64
	var virtual time.Duration
	begin := time.Now()
	for i := 0; i < o.seeds; i++ {
		rec, ok := pool.take(i)
		if !ok {
			break
		}
		r := rec.res
		packets += r.Link[0].Sent + r.Link[1].Sent
		virtual += r.End
		switch {
		case !r.OK:
			failed++
			prog.clear()
			fmt.Fprintf(stdout, "seed %d: FAIL %s; replay: %s\n", r.Spec.Seed, oneLine(r.Failure), simharness.ReplayCommand(r.Spec))
		case o.verbose:
			prog.clear()
			fmt.Fprintf(stdout, "seed %d: %s (%v)\n", r.Spec.Seed, r.Summary(), rec.wall.Round(time.Millisecond))
		}
		if r.OK {
			passed++
			if r.Outcome == simharness.TimedOut {
				timeouts++
			}
		}
		prog.update(i+1, failed)
	}
	pool.wg.Wait()
	prog.clear()
	ran := passed + failed
	if ran < o.seeds {
		fmt.Fprintf(stdout, "interrupted after %d of %d seeds\n", ran, o.seeds)
		failed += o.seeds - ran
	}
	fmt.Fprintf(stdout, "soak: %d seeds (%d to %d) in %v on %d workers: %d packets, %v of virtual time; %d passed by a clean timeout\n",
		ran, o.from, o.from+int64(ran)-1, time.Since(begin).Round(time.Millisecond), o.workers, packets, virtual.Round(time.Second), timeouts)
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	return failed
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// progress is a line on a terminal, rewritten in place at most five times
// a second; on anything else it prints nothing.
type progress struct {
	w     io.Writer
	on    bool
	total int
	start time.Time
	last  time.Time
	shown bool
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, start: time.Now()}
	p.last = p.start // the first line after 200ms: short runs print none
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) update(done, failed int) {
	if !p.on || done == p.total {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	el := now.Sub(p.start)
	rate := float64(done) / el.Seconds()
	eta := time.Duration(float64(p.total-done) / rate * float64(time.Second))
	fmt.Fprintf(p.w, "\r\033[Ksoak: %d/%d seeds, %d failed, %.0f seeds/s, %v left", done, p.total, failed, rate, eta.Round(time.Second))
	p.shown = true
}

func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
