package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"time"
)

// The child side. The parent re-executes its own binary with a first
// argument -worker=NAME (a flag the normal command line does not know, so it
// stays out of -h); the child runs one workload on a fresh Pair and writes
// one workerReply as JSON to stdout. Only the reply goes to stdout.

const workerFlag = "-worker="

type workerReply struct {
	Stack    string  `json:"stack"`
	Workload string  `json:"workload"`
	MTU      int     `json:"mtu"`
	Result   *result `json:"result,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// workerOpts are settings the parent passes to every child.
type workerOpts struct {
	Timeout    time.Duration
	GvisorLink string // gvisorLinkMode
	CPUProfile string // file to write a CPU profile to, if any
}

// workerArgs is the command line that runWorker parses.
func workerArgs(workload, stackName string, mtu int, pr params, o workerOpts) []string {
	args := []string{
		workerFlag + workload,
		"-stack=" + stackName,
		fmt.Sprintf("-mtu=%d", mtu),
		fmt.Sprintf("-bytes=%d", pr.Bytes),
		fmt.Sprintf("-write=%d", pr.WriteSize),
		fmt.Sprintf("-rts=%d", pr.RoundTrips),
		fmt.Sprintf("-cycles=%d", pr.Cycles),
		fmt.Sprintf("-pairs=%d", pr.Pairs),
		fmt.Sprintf("-conns=%d", pr.Conns),
		"-timeout=" + o.Timeout.String(),
	}
	if o.GvisorLink != "" {
		args = append(args, "-gvisor-link="+o.GvisorLink)
	}
	if o.CPUProfile != "" {
		args = append(args, "-cpuprofile="+o.CPUProfile)
	}
	if observeMode {
		args = append(args, "-observe")
	}
	return args
}

// runWorker runs one workload as described by args and writes the reply to
// out. The returned error is also in the reply.
func runWorker(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	var (
		workload = fs.String("worker", "", "workload")
		stackN   = fs.String("stack", "", "stack")
		mtu      = fs.Int("mtu", 1500, "link MTU")
		timeout  = fs.Duration("timeout", 5*time.Minute, "give up after")
		cpuprof  = fs.String("cpuprofile", "", "write a CPU profile of the whole run here")
		tracef   = fs.String("trace", "", "write an execution trace (runtime/trace) of the whole run here")
		pr       params
	)
	fs.StringVar(&gvisorLinkMode, "gvisor-link", gvisorLinkMode, "")
	fs.BoolVar(&observeMode, "observe", observeMode, "")
	fs.Int64Var(&pr.Bytes, "bytes", 0, "")
	fs.IntVar(&pr.WriteSize, "write", 128<<10, "")
	fs.IntVar(&pr.RoundTrips, "rts", 0, "")
	fs.IntVar(&pr.Cycles, "cycles", 0, "")
	fs.IntVar(&pr.Pairs, "pairs", 0, "")
	fs.IntVar(&pr.Conns, "conns", 0, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	reply := workerReply{Stack: *stackN, Workload: *workload, MTU: *mtu}
	if *cpuprof != "" {
		stop, err := record(*cpuprof, pprof.StartCPUProfile, pprof.StopCPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *tracef != "" {
		stop, err := record(*tracef, trace.Start, trace.Stop)
		if err != nil {
			return err
		}
		defer stop()
	}
	res, err := work(*workload, *stackN, *mtu, pr, *timeout)
	reply.Result = res
	if err != nil {
		reply.Error = err.Error()
	}
	if jerr := json.NewEncoder(out).Encode(reply); jerr != nil && err == nil {
		err = jerr
	}
	return err
}

// record starts a CPU profile or an execution trace into the file at path
// and returns what stops it and closes the file.
func record(path string, start func(io.Writer) error, stop func()) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { stop(); f.Close() }, nil
}

func work(workload, stackName string, mtu int, pr params, timeout time.Duration) (*result, error) {
	wf, ok := workloads[workload]
	if !ok {
		return nil, fmt.Errorf("unknown workload %q", workload)
	}
	f, ok := factories[stackName]
	if !ok {
		return nil, fmt.Errorf("unknown stack %q", stackName)
	}
	p, err := f(mtu)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := wf(ctx, p, pr)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	return res, err
}

// workerMain is main for a child process.
func workerMain(args []string) {
	// A workload that ignores its context still ends: the parent kills the
	// child too, but a child that exits by itself can say why.
	var timeout time.Duration = 5 * time.Minute
	for _, a := range args {
		if d, ok := strings.CutPrefix(a, "-timeout="); ok {
			if t, err := time.ParseDuration(d); err == nil {
				timeout = t
			}
		}
	}
	time.AfterFunc(timeout+10*time.Second, func() {
		fmt.Fprintf(os.Stderr, "worker: watchdog: still running %v after its timeout\n", 10*time.Second)
		os.Exit(3)
	})
	if err := runWorker(args, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}
