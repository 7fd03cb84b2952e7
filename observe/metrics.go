package observe

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/synack-tcp/synack/tcp"
)

var (
	descConns = prometheus.NewDesc("synack_connections",
		"Connections (and listeners, in LISTEN) in each RFC 9293 state now.", []string{"endpoint", "state"}, nil)
	descTransitions = prometheus.NewDesc("synack_transitions_total",
		"State transitions taken, by from, to and cause.", []string{"endpoint", "from", "to", "cause"}, nil)
	descSegs = prometheus.NewDesc("synack_segments_total",
		"TCP segments sent (out) and received (in) by the connections: the open ones now, the closed ones as last read.", []string{"endpoint", "direction"}, nil)
	descBytes = prometheus.NewDesc("synack_bytes_total",
		"Payload bytes sent (out) and received (in) by the connections: the open ones now, the closed ones as last read.", []string{"endpoint", "direction"}, nil)
	descRetrans = prometheus.NewDesc("synack_retransmits_total",
		"Segments retransmitted by the connections: the open ones now, the closed ones as last read.", []string{"endpoint"}, nil)
	descBuf = prometheus.NewDesc("synack_open_conn_buffer_bytes",
		"Send and receive buffer sizes, summed over the connections open now (memory they may hold).", []string{"endpoint", "buffer"}, nil)
	descEvents = prometheus.NewDesc("synack_observe_events_total",
		"Transitions the observer has seen.", nil, nil)
	descDropped = prometheus.NewDesc("synack_observe_events_dropped_total",
		"Transitions not delivered to an /events client that fell behind.", nil, nil)
	descClients = prometheus.NewDesc("synack_observe_clients",
		"/events clients connected now.", nil, nil)
)

// collector reads the observer at each scrape. It is unchecked (Describe
// sends nothing) because the stack counters are found by reflection.
type collector struct{ o *Observer }

func (collector) Describe(chan<- *prometheus.Desc) {}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	o := c.o
	l := o.readStacks()
	o.mu.Lock()
	names := make([]string, len(o.eps))
	for i, ep := range o.eps {
		names[i] = ep.name
	}
	counts := map[string]*[tcp.LastAck + 1]int{}
	for _, n := range names {
		counts[n] = new([tcp.LastAck + 1]int)
	}
	for k, t := range o.conns {
		if t.state <= tcp.LastAck {
			counts[k.ep][t.state]++
		}
	}
	edges := make(map[edge]uint64, len(o.edges))
	for e, n := range o.edges {
		edges[e] = n
	}
	clients := len(o.subs)
	traffic := o.trafficLocked(l)
	o.mu.Unlock()

	for _, n := range names {
		for s := tcp.Closed; s <= tcp.LastAck; s++ {
			ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(counts[n][s]), n, s.String())
		}
	}
	for e, n := range edges {
		ch <- prometheus.MustNewConstMetric(descTransitions, prometheus.CounterValue, float64(n), e.ep, e.from.String(), e.to.String(), string(e.cause))
	}
	for n, stats := range l.stats {
		for _, s := range stats {
			name, typ := "synack_stack_"+s.Key+"_total", prometheus.CounterValue
			if s.Gauge {
				name, typ = "synack_stack_"+s.Key, prometheus.GaugeValue
			}
			d := prometheus.NewDesc(name, "stack.Stats."+s.Name+".", []string{"endpoint"}, nil)
			ch <- prometheus.MustNewConstMetric(d, typ, float64(s.Value), n)
		}
	}
	cv := prometheus.CounterValue
	for n := range l.now {
		t := traffic[n]
		ch <- prometheus.MustNewConstMetric(descSegs, cv, float64(t.SegsIn), n, "in")
		ch <- prometheus.MustNewConstMetric(descSegs, cv, float64(t.SegsOut), n, "out")
		ch <- prometheus.MustNewConstMetric(descBytes, cv, float64(t.BytesIn), n, "in")
		ch <- prometheus.MustNewConstMetric(descBytes, cv, float64(t.BytesOut), n, "out")
		ch <- prometheus.MustNewConstMetric(descRetrans, cv, float64(t.Retransmits), n)
	}
	bufs := map[string]*[2]float64{}
	for n := range l.now {
		bufs[n] = new([2]float64)
	}
	for k, st := range l.status {
		bufs[k.ep][0] += float64(st.SendBuf)
		bufs[k.ep][1] += float64(st.RecvBuf)
	}
	g := prometheus.GaugeValue
	for n, b := range bufs {
		ch <- prometheus.MustNewConstMetric(descBuf, g, b[0], n, "send")
		ch <- prometheus.MustNewConstMetric(descBuf, g, b[1], n, "recv")
	}
	ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(o.events.Load()))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(o.dropped.Load()))
	ch <- prometheus.MustNewConstMetric(descClients, g, float64(clients))
}

// metricsHandler serves the observer's metrics with the Go runtime's
// (go_memstats_*: the process's memory) and the process's.
func (o *Observer) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{o}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
