package mcns

import (
	"sync"
	"time"
)

// notifyDelay is the least time between two NOTIFY rounds for one zone. A
// burst of changes (a script adding records one by one) sends one NOTIFY at
// its end instead of one per change; secondaries then transfer once.
const notifyDelay = 250 * time.Millisecond

// notifier coalesces zone changes into NOTIFY rounds: the first change of a
// zone schedules a round after delay (trailing edge), later changes before
// it fires ride along, and a change during a round schedules one more.
type notifier struct {
	delay time.Duration
	send  func(zone string)

	mu     sync.Mutex
	zones  map[string]*notifyState
	closed bool
}

type notifyState struct {
	timer   *time.Timer // a round is scheduled
	sending bool        // a round is in flight
	again   bool        // a change arrived during the round
}

func newNotifier(delay time.Duration, send func(string)) *notifier {
	return &notifier{delay: delay, send: send, zones: map[string]*notifyState{}}
}

// changed notes that zone changed.
func (n *notifier) changed(zone string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	st := n.zones[zone]
	if st == nil {
		st = &notifyState{}
		n.zones[zone] = st
	}
	switch {
	case st.timer != nil:
		// The scheduled round happens after this change: it covers it.
	case st.sending:
		st.again = true
	default:
		st.timer = time.AfterFunc(n.delay, func() { n.fire(zone) })
	}
}

func (n *notifier) fire(zone string) {
	n.mu.Lock()
	st := n.zones[zone]
	if n.closed || st == nil {
		n.mu.Unlock()
		return
	}
	st.timer, st.sending = nil, true
	n.mu.Unlock()

	n.send(zone)

	n.mu.Lock()
	defer n.mu.Unlock()
	st.sending = false
	switch {
	case n.closed:
	case st.again:
		st.again = false
		st.timer = time.AfterFunc(n.delay, func() { n.fire(zone) })
	default:
		delete(n.zones, zone)
	}
}

// stop cancels scheduled rounds; a round in flight finishes on its own
// (transfer.Notify bounds it with its client timeouts).
func (n *notifier) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	for zone, st := range n.zones {
		if st.timer != nil {
			st.timer.Stop()
		}
		delete(n.zones, zone)
	}
}

// sendNotify sends one NOTIFY round for zone to the secondaries the
// transfer plugin's `to` lists for it.
func (m *MCNS) sendNotify(zone string) {
	x := m.xfer.Load()
	if x == nil {
		return
	}
	if err := x.Notify(zone); err != nil {
		notifies.WithLabelValues("failed").Inc()
		log.Warningf("NOTIFY for %s: %v", zone, err)
		return
	}
	notifies.WithLabelValues("ok").Inc()
	log.Debugf("Sent NOTIFY for %s", zone)
}
