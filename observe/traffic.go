package observe

import "github.com/synack-tcp/synack/tcp"

// Traffic is what an endpoint's connections carried: the open ones as the
// stack reports them now, plus each closed one as last read (up to one
// Interval of a closing connection's final segments are not counted).
type Traffic struct {
	SegsIn      uint64 `json:"segs_in"`
	SegsOut     uint64 `json:"segs_out"`
	BytesIn     uint64 `json:"bytes_in"`
	BytesOut    uint64 `json:"bytes_out"`
	Retransmits uint64 `json:"retransmits"`
}

func trafficOf(s tcp.Status) Traffic {
	return Traffic{
		SegsIn: s.Stats.SegsIn, SegsOut: s.Stats.SegsOut,
		BytesIn: s.Stats.BytesReceived, BytesOut: s.Stats.BytesSent,
		Retransmits: s.Stats.Retransmits,
	}
}

func (t *Traffic) add(u Traffic) {
	t.SegsIn += u.SegsIn
	t.SegsOut += u.SegsOut
	t.BytesIn += u.BytesIn
	t.BytesOut += u.BytesOut
	t.Retransmits += u.Retransmits
}

// trafficLocked folds the reading l into the per-connection figures (if
// no newer reading has been folded in already) and returns each
// endpoint's totals.
func (o *Observer) trafficLocked(l live) map[string]Traffic {
	if l.seq > o.folded {
		o.folded = l.seq
		for k, st := range l.status {
			o.seen[k] = trafficOf(st)
		}
		for k, t := range o.seen {
			if _, attached := l.now[k.ep]; attached {
				if _, open := l.status[k]; !open {
					o.retireTrafficLocked(k, t)
				}
			}
		}
	}
	out := make(map[string]Traffic, len(o.retired))
	for ep, t := range o.retired {
		out[ep] = t
	}
	for k, t := range o.seen {
		x := out[k.ep]
		x.add(t)
		out[k.ep] = x
	}
	return out
}

func (o *Observer) retireTrafficLocked(k connKey, t Traffic) {
	r := o.retired[k.ep]
	r.add(t)
	o.retired[k.ep] = r
	delete(o.seen, k)
}
