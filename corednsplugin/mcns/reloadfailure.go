package mcns

import (
	"sync"

	"github.com/coredns/caddy"
)

// A reload runs the new Corefile's OnStartup callbacks (mcns's Start among
// them) before it opens the new servers. When that or any later step fails,
// caddy keeps the old instance and drops the new one without running its
// OnShutdown callbacks, which would leave the new mcns's poller, database
// handles and API (sharing the live API's port through SO_REUSEPORT, with
// the rejected Corefile's settings) running. So every mcns started for a
// caddy instance is tracked until that instance has started, and stopped
// when the restart that started it fails.

// instanceGroup is the mcns plugins started for one caddy instance, found
// through the instance's Storage.
type instanceGroup struct {
	members []*MCNS
}

type groupKey struct{}

// unconfirmed holds the groups whose caddy instance has not yet started.
var unconfirmed = struct {
	sync.Mutex
	groups map[*instanceGroup]bool
}{groups: map[*instanceGroup]bool{}}

func init() { caddy.RegisterEventHook(pluginName+"-startup", confirmStartup) }

// groupFor returns the group of c's caddy instance, creating it on the
// instance's first mcns.
func groupFor(c *caddy.Controller) *instanceGroup {
	if g, ok := c.Get(groupKey{}).(*instanceGroup); ok {
		return g
	}
	g := &instanceGroup{}
	c.Set(groupKey{}, g)
	// A reload from this instance that fails must stop what it started.
	if c.Get(hookKey{}) == nil {
		c.Set(hookKey{}, true)
		c.OnRestartFailed(stopUnstarted)
	}
	// So must one from the instance being reloaded right now, which may
	// have had no mcns to register the callback: caddy runs it only on
	// the old instance. Setup runs in the goroutine doing the reload,
	// the one that later runs those callbacks.
	for _, inst := range caddy.Instances() {
		if groupOf(inst) != g {
			watchRestarts(inst)
		}
	}
	return g
}

type hookKey struct{}

// watchRestarts adds stopUnstarted to inst's restart-failure callbacks,
// once.
func watchRestarts(inst *caddy.Instance) {
	inst.StorageMu.Lock()
	defer inst.StorageMu.Unlock()
	if inst.Storage[hookKey{}] != nil {
		return
	}
	inst.Storage[hookKey{}] = true
	inst.OnRestartFailed = append(inst.OnRestartFailed, stopUnstarted)
}

// started records that m was started for g's instance.
func (g *instanceGroup) started(m *MCNS) {
	unconfirmed.Lock()
	defer unconfirmed.Unlock()
	g.members = append(g.members, m)
	unconfirmed.groups[g] = true
}

// confirmStartup is the event hook that tells an instance started fully.
func confirmStartup(ev caddy.EventName, info any) error {
	inst, ok := info.(*caddy.Instance)
	if ev != caddy.InstanceStartupEvent || !ok {
		return nil
	}
	if g := groupOf(inst); g != nil {
		unconfirmed.Lock()
		delete(unconfirmed.groups, g)
		unconfirmed.Unlock()
	}
	return nil
}

func groupOf(inst *caddy.Instance) *instanceGroup {
	inst.StorageMu.RLock()
	defer inst.StorageMu.RUnlock()
	g, _ := inst.Storage[groupKey{}].(*instanceGroup)
	return g
}

// stopUnstarted stops the mcns plugins of instances that failed to start.
// An instance caddy still lists did start (the restart failed later, while
// stopping the old one), and keeps serving.
func stopUnstarted() error {
	live := map[*instanceGroup]bool{}
	for _, inst := range caddy.Instances() {
		if g := groupOf(inst); g != nil {
			live[g] = true
		}
	}
	var stop []*MCNS
	unconfirmed.Lock()
	for g := range unconfirmed.groups {
		// A live one is starting or started; the startup event
		// confirms it.
		if !live[g] {
			stop = append(stop, g.members...)
			delete(unconfirmed.groups, g)
		}
	}
	unconfirmed.Unlock()
	if len(stop) > 0 {
		log.Warningf("Reload failed: stopping the %d mcns instance(s) started for it", len(stop))
	}
	for _, m := range stop {
		if err := m.Stop(); err != nil {
			log.Errorf("Stopping after a failed reload: %v", err)
		}
	}
	return nil
}
