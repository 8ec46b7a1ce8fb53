package broker

import (
	"net"
	"time"
)

// Connection creation rate quotas (KIP-612, connection_creation_rate on ip
// entities), as Kafka's ConnectionQuotas enforces them:
//
//   - Each client IP has its own sensor, a sampled Rate of connections per
//     second over quota.window.num windows of quota.window.size.seconds;
//     its bound is the IP's own quota, else the <default> ip entity's.
//   - Every connection accepted is recorded (recordIpConnectionMaybeThrottle);
//     one that takes the rate over the bound is throttled: not served, but
//     held open for the throttle time and then closed, so a client that
//     reconnects in a loop is slowed down rather than refused at once
//     (Kafka's Acceptor keeps it in throttledSockets). The throttle time is
//     bounded by one quota window, as Kafka's maxThrottleTimeMs.
//
// The broker-wide max.connection.creation.rate (Config.MaxConnectionCreationRate)
// is checked first, as Kafka's waitForConnectionSlot: every connection is
// recorded in one broker sensor, and over the rate the accept loop waits
// out the throttle time (bounded by a window) before it goes on, so
// connections queue in the kernel's backlog instead of being closed. Not
// implemented: the per-listener listener.name.X.max.connection.creation.rate.

// ipQuotaTable is the connection_creation_rate quotas: immutable, replaced
// whole on every change like quotaTable.
type ipQuotaTable struct {
	byIP     map[string]float64 // canonical IP string (net.IP.String)
	deflt    float64
	hasDeflt bool
}

// newIPQuotaTable builds the table from the stored entries, nil when no ip
// entity has a connection_creation_rate (then connections pay one atomic
// load).
func newIPQuotaTable(entries []quotaEntry) *ipQuotaTable {
	var t *ipQuotaTable
	for _, e := range entries {
		if len(e.Entity) != 1 || e.Entity[0].Type != "ip" {
			continue
		}
		v, ok := e.Values["connection_creation_rate"]
		if !ok || !(v > 0) {
			continue
		}
		if t == nil {
			t = &ipQuotaTable{byIP: map[string]float64{}}
		}
		if n := e.Entity[0].Name; n == nil {
			t.deflt, t.hasDeflt = v, true
		} else if ip := net.ParseIP(*n); ip != nil {
			t.byIP[ip.String()] = v
		}
	}
	return t
}

// limit is ConnectionQuotas.connectionRateForIp: the IP's quota, else the
// default's; false for none.
func (t *ipQuotaTable) limit(ip string) (float64, bool) {
	if v, ok := t.byIP[ip]; ok {
		return v, true
	}
	return t.deflt, t.hasDeflt
}

// ipQuotas returns the connection_creation_rate quotas, nil when none.
func (s *quotaStore) ipQuotas() *ipQuotaTable {
	if s == nil {
		return nil
	}
	return s.ips.Load()
}

// connectionThrottle records a new connection from ip at now and returns
// how long it must be held before it is closed: 0 when it may be served.
func (b *Broker) connectionThrottle(ip string, now time.Time) time.Duration {
	t := b.quotas.ipQuotas()
	if t == nil {
		return 0
	}
	bound, ok := t.limit(ip)
	if !ok {
		return 0
	}
	cfg := b.quotaWindow()
	ms := now.UnixMilli()
	s := &b.quotas.th.ips
	s.mu.Lock()
	throttle := s.sensor(quotaTags{client: ip}, ms).recordChecked(cfg, 1, bound, ms)
	s.mu.Unlock()
	return time.Duration(min(throttle, cfg.windowMs)) * time.Millisecond
}

// brokerConnectionThrottle records a new connection in the broker-wide
// sensor at now and returns how long the accept loop must wait.
func (b *Broker) brokerConnectionThrottle(now time.Time) time.Duration {
	cfg := b.quotaWindow()
	ms := now.UnixMilli()
	s := &b.quotas.th.ips
	s.mu.Lock()
	// The empty tags are the broker's: an IP's are never empty.
	throttle := s.sensor(quotaTags{}, ms).recordChecked(cfg, 1, float64(b.cfg.MaxConnectionCreationRate), ms)
	s.mu.Unlock()
	return time.Duration(min(throttle, cfg.windowMs)) * time.Millisecond
}

// admitConnection applies the connection creation rates to a connection
// just accepted. Over the broker's rate it first waits (blocking the
// accept loop); over its IP's rate the connection is held by an owned
// goroutine until its throttle time passed, or the broker closes, and
// then closed, and admitConnection reports false: the caller forgets it.
func (b *Broker) admitConnection(nc net.Conn) bool {
	if b.cfg.MaxConnectionCreationRate > 0 && b.quotas != nil {
		if d := b.brokerConnectionThrottle(time.Now()); d > 0 {
			b.log.Debug("accepting no connection for a while: max.connection.creation.rate", "throttle", d)
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-b.stopping:
				t.Stop()
				nc.Close()
				return false
			}
		}
	}
	if b.quotas.ipQuotas() == nil {
		return true
	}
	ip := remoteIP(nc)
	d := b.connectionThrottle(ip, time.Now())
	if d <= 0 {
		return true
	}
	b.log.Debug("delaying the close of a connection over connection_creation_rate",
		"remote", nc.RemoteAddr().String(), "throttle", d)
	held := b.goroutine(func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-b.stopping:
		}
		nc.Close()
	})
	if !held {
		nc.Close()
	}
	return false
}

// remoteIP is the canonical string of nc's peer address, as ip entity
// names are stored.
func remoteIP(nc net.Conn) string {
	switch a := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		return a.IP.String()
	default:
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return a.String()
		}
		if ip := net.ParseIP(host); ip != nil {
			return ip.String()
		}
		return host
	}
}
