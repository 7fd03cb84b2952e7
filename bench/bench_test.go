package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// toy sizes every workload so that the whole file runs in a few seconds.
var toy = map[string]params{
	"bulk":     {Bytes: 4 << 20, WriteSize: 128 << 10},
	"pingpong": {RoundTrips: 200},
	"connrate": {Cycles: 50},
	"idle":     {Pairs: 100},
	"idledata": {Pairs: 100},
	"many":     {Conns: 10, Bytes: 256 << 10, WriteSize: 128 << 10},
}

// want is the figures each workload must report.
var want = map[string][]string{
	"bulk":     {"gbps", "cpu_s_per_gb"},
	"pingpong": {"rt_per_s", "p50_us", "p99_us", "cpu_us_per_rt"},
	"connrate": {"cycles_per_s", "cpu_us_per_cycle"},
	"idle":     {"heap_per_pair_bytes", "max_pairs_8gib_est", "pairs"},
	"idledata": {"heap_per_pair_bytes", "max_pairs_8gib_est", "pairs"},
	"many":     {"total_s", "gbps", "cpu_s_per_gb"},
}

func runToy(t *testing.T, stackName string, mtu int) {
	for name, wf := range workloads {
		t.Run(name, func(t *testing.T) {
			p, err := factories[stackName](mtu)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := wf(ctx, p, toy[name])
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := p.(statsReporter); ok && name != "idle" && name != "idledata" {
				if _, ok := res.Metrics["stat_retransmits"]; !ok {
					t.Errorf("no stat_retransmits from a statsReporter: %v", res.Metrics)
				}
			}
			for _, m := range want[name] {
				v, ok := res.Metrics[m]
				if !ok || !(v > 0) {
					t.Errorf("%s = %v (present %v), want > 0; all: %v", m, v, ok, res.Metrics)
				}
			}
		})
	}
}

func TestWorkloadsKernel(t *testing.T) { runToy(t, "kernel", 1500) }

func TestWorkloadsGvisor(t *testing.T) {
	runToy(t, "gvisor", 1500)
	t.Run("inline", func(t *testing.T) {
		defer func(m string) { gvisorLinkMode = m }(gvisorLinkMode)
		gvisorLinkMode = "inline"
		runToy(t, "gvisor", 65535)
	})
}

func TestWorkloadsSynack(t *testing.T) {
	runToy(t, "synack", 1500)
	runToy(t, "synack", 65535)
}

// TestWorkerReply runs the child side in-process and checks its JSON.
func TestWorkerReply(t *testing.T) {
	var out bytes.Buffer
	args := workerArgs("pingpong", "kernel", 1500, toy["pingpong"], workerOpts{Timeout: 30 * time.Second})
	if err := runWorker(args, &out); err != nil {
		t.Fatal(err)
	}
	var r workerReply
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	if r.Error != "" || r.Result == nil || r.Result.Metrics["rt_per_s"] <= 0 {
		t.Fatalf("bad reply %+v", r)
	}

	out.Reset()
	args = workerArgs("pingpong", "synack", 1500, toy["pingpong"], workerOpts{Timeout: 30 * time.Second})
	err := runWorker(args, &out)
	if err == nil {
		return // synack is wired in
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Error == "" {
		t.Fatalf("failed worker should still reply with its error: %v %q", err, out.String())
	}
}

// TestReport renders a table from made-up results: synack unavailable, then
// synack present so that the ratio and target columns fill in.
func TestReport(t *testing.T) {
	cases := casesFor(true)
	mk := func(m map[string]float64) outcome { return outcome{Res: &result{Metrics: m}} }
	rs := make(resultSet)
	for _, c := range cases {
		rs[c.ID] = map[string][]outcome{}
		for _, st := range []string{"synack", "gvisor", "kernel"} {
			scale := map[string]float64{"synack": 4, "gvisor": 1, "kernel": 2}[st]
			for run := range 3 {
				m := map[string]float64{}
				for _, k := range want[c.Workload] {
					m[k] = scale * float64(run+1)
				}
				rs[c.ID][st] = append(rs[c.ID][st], mk(m))
			}
		}
	}
	rs["many"]["kernel"][1] = outcome{Err: errors.New("boom")}

	cfg := config{Quick: true, Runs: 3, Cases: cases, GvisorLink: "queued", Stacks: []stackStatus{
		{Name: "synack", Why: "synack stack not yet available"}, {Name: "gvisor", Avail: true}, {Name: "kernel", Avail: true}}}
	md := renderReport(cfg, rs, time.Minute)
	for _, s := range []string{"| n/a |", "synack stack not yet available", "≥3.5x", "(2/3 runs)", "boom"} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q:\n%s", s, md)
		}
	}
	if strings.Contains(md, "✓") {
		t.Errorf("targets judged without synack:\n%s", md)
	}

	cfg.Stacks[0].Avail = true
	md = renderReport(cfg, rs, time.Minute)
	for _, s := range []string{"4.00x [4.00–4.00]", "≥3.5x ✓", "≤0.3x ✗"} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q:\n%s", s, md)
		}
	}
	t.Log("\n" + md)
}

// The synack@base column sorts right after synack, and its workers run
// the baseline binary with -stack=synack.
func TestBaselineColumn(t *testing.T) {
	if columnOf("synack") >= columnOf(baseStack) || columnOf(baseStack) >= columnOf("gvisor") {
		t.Fatalf("columns synack %d, base %d, gvisor %d", columnOf("synack"), columnOf(baseStack), columnOf("gvisor"))
	}
	cfg := config{BaseExe: "/tmp/base"}
	if exeFor("/self", cfg, baseStack) != "/tmp/base" || exeFor("/self", cfg, "synack") != "/self" {
		t.Fatal("exeFor")
	}
	if _, err := buildBaseline(""); err == nil {
		t.Fatal("no -baseline: no error")
	}
	if _, err := buildBaseline(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no bench module") {
		t.Fatalf("a directory without bench/: %v", err)
	}
}

// With -observe a synack pair carries the observer and a reader of its
// stream, and the workload still runs; the observer saw the transfer's
// transitions.
func TestBulkObserved(t *testing.T) {
	observeMode = true
	defer func() { observeMode = false }()
	p, err := factories["synack"](1500)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := workloads["bulk"](ctx, p, toy["bulk"]); err != nil {
		t.Fatal(err)
	}
	w := p.(*synackPair).watch
	if s := w.obs.Snapshot(0); s.Events < 4 || s.Clients != 1 {
		t.Errorf("observer saw %d transitions with %d clients, want the transfer's and 1", s.Events, s.Clients)
	}
}
