// Package lease shares a pipeline's keys out among the processes that poll
// one source (ferry replicate --lease-ranges N): the key space is split
// into N hash ranges (N a power of two), and each process leases some of
// them in the state database, with a heartbeat and an expiry. A process
// lists the whole source but looks up, claims and loads only the keys of
// the ranges it holds, so N pollers do not race for the same files.
//
// # The hash
//
// A key's range is the top log2(N) bits of the 64-bit FNV-1a hash of the
// key's bytes (the object's full key, as listed; every version of a key
// is in the same range): Range. It is stable across processes, builds
// and machines, and with 2N ranges range r splits into 2r and 2r+1.
//
// # Rebalancing
//
// Every process (an owner: host/pid/random) beats every Interval, at
// most Expiry/3 (Manager.Run; the runner beats once per poll interval
// when that is shorter, at most once a second): one statement marks it
// alive until now plus Expiry, extends every lease it still holds to the
// same time (times are the database's), and tells it how many owners are
// alive and its rank among them (by name). Its fair share (Share) is
// N / owners, one more for the first N mod owners: the shares add up to
// N. Above its share, it releases its highest ranges at once; below it,
// it takes free ranges (never taken, released, or expired) up to it, and
// beats again after a quarter Interval while it is short. So a process
// that joins gets its share within about a heartbeat and a quarter (the
// others release their surplus at their next beat, it takes it soon
// after), one that stops gracefully frees its ranges at once (Leave), and
// the ranges of one that dies are taken over once its leases expire:
// within Expiry plus a heartbeat.
//
// # Safety
//
// A process takes its leases for lapsed on its own clock Expiry after it
// sent the beat that extended them, which is no later than the database
// lets another owner take them, and it stops dispatching new files of a
// range as soon as a beat finds the range taken or it releases it (the
// files already loading finish). Leases only share the work: the per-file
// claim and the guarded progress update keep every row exactly-once while
// a range changes hands.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/state"
)

// MaxRanges is the most ranges a pipeline can be split into.
const MaxRanges = 1 << 16

// DefaultExpiry is how long a lease lasts without a heartbeat, by default.
const DefaultExpiry = 30 * time.Second

// MinExpiry is the shortest expiry: a heartbeat every third of it must
// fit the database's round trips.
const MinExpiry = time.Second

// Validate checks a number of ranges (0: leases off) and an expiry.
func Validate(ranges int, expiry time.Duration) error {
	switch {
	case ranges < 0 || ranges > MaxRanges || ranges&(ranges-1) != 0:
		return fmt.Errorf("lease ranges %d: expected 0 (off) or a power of two up to %d", ranges, MaxRanges)
	case ranges > 0 && expiry < MinExpiry:
		return fmt.Errorf("lease expiry %v: expected at least %v", expiry, MinExpiry)
	}
	return nil
}

// Range returns the range of key among ranges (a power of two): the top
// log2(ranges) bits of the FNV-1a 64-bit hash of the key.
func Range(key string, ranges int) int {
	// FNV-1a, 64 bits (hash/fnv's New64a), without its allocations: it
	// runs for every key of every listing.
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	k := bits.TrailingZeros(uint(ranges))
	if k == 0 {
		return 0
	}
	return int(h >> (64 - k))
}

// Share is the fair share of the owner of the given rank (0-based, by
// name) among owners: ranges / owners, and one more for the first ranges
// mod owners of them, so that the shares add up to ranges.
func Share(ranges, owners, rank int) int {
	owners = max(owners, 1)
	share := ranges / owners
	if rank < ranges%owners {
		share++
	}
	return share
}

// NewOwner returns an owner name for this process: host/pid/random.
func NewOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Config configures a Manager.
type Config struct {
	Store    state.Leaser
	Pipeline string
	// Owner names this process (default NewOwner()).
	Owner string
	// Ranges is how many ranges the key space is split into (a power of
	// two, the same for every process of the pipeline).
	Ranges int
	// Expiry is how long a lease lasts without a heartbeat (default
	// DefaultExpiry); Interval how often the manager beats (default, and
	// at most, a third of Expiry).
	Expiry, Interval time.Duration
	Log              zerolog.Logger
	// Changed, when set, is told the number of ranges held after every
	// change (a gauge).
	Changed func(held int)
	// Now is the local clock (default time.Now), for tests.
	Now func() time.Time
}

// Manager holds a process's leases: it beats, rebalances, and says which
// keys are this process's (Owns).
type Manager struct {
	cfg  Config
	view atomic.Pointer[view]
	// mu serialises beats (Run, Leave, tests).
	mu   sync.Mutex
	last []int // held at the last beat, for the log
	left bool
	// short: at the last beat this process held less than its share
	// (others still held their surplus): it beats again sooner.
	short atomic.Bool
}

// view is what the manager holds, valid until a time of the local clock.
type view struct {
	held  []bool // by range
	n     int
	until time.Time
}

// New returns a manager; it holds nothing until Join.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("lease: a state store that keeps leases is needed")
	}
	if cfg.Expiry == 0 {
		cfg.Expiry = DefaultExpiry
	}
	if cfg.Ranges == 0 {
		return nil, errors.New("lease: no ranges")
	}
	if err := Validate(cfg.Ranges, cfg.Expiry); err != nil {
		return nil, err
	}
	if cfg.Interval <= 0 || cfg.Interval > cfg.Expiry/3 {
		cfg.Interval = cfg.Expiry / 3
	}
	if cfg.Owner == "" {
		cfg.Owner = NewOwner()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Manager{cfg: cfg}
	m.view.Store(&view{})
	return m, nil
}

// Owner is the manager's owner name.
func (m *Manager) Owner() string { return m.cfg.Owner }

// Ranges is how many ranges the key space is split into.
func (m *Manager) Ranges() int { return m.cfg.Ranges }

// Owns says whether key is in a range this process holds now.
func (m *Manager) Owns(key string) bool {
	v := m.view.Load()
	if v.n == 0 || !m.cfg.Now().Before(v.until) {
		return false
	}
	return v.held[Range(key, m.cfg.Ranges)]
}

// Held returns the ranges this process holds now, sorted.
func (m *Manager) Held() []int {
	v := m.view.Load()
	if v.n == 0 || !m.cfg.Now().Before(v.until) {
		return nil
	}
	out := make([]int, 0, v.n)
	for r, ok := range v.held {
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// publish makes held the view until the given time.
func (m *Manager) publish(held []int, until time.Time) {
	v := &view{held: make([]bool, m.cfg.Ranges), until: until}
	for _, r := range held {
		if r >= 0 && r < m.cfg.Ranges && !v.held[r] {
			v.held[r] = true
			v.n++
		}
	}
	m.view.Store(v)
	if m.cfg.Changed != nil {
		m.cfg.Changed(v.n)
	}
}

// Join registers this process as an owner of the pipeline's leases and
// takes its first share. It fails (state.ErrLeaseRanges) when another
// live process uses another number of ranges.
func (m *Manager) Join(ctx context.Context) error {
	m.mu.Lock()
	err := m.cfg.Store.LeaseJoin(ctx, m.cfg.Pipeline, m.cfg.Owner, m.cfg.Ranges, m.cfg.Expiry)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	m.cfg.Log.Info().Str("owner", m.cfg.Owner).Int("ranges", m.cfg.Ranges).Dur("expiry", m.cfg.Expiry).Msg("joined the pipeline's leases")
	return m.Beat(ctx)
}

// Beat is one heartbeat: it extends the leases held, learns how many
// owners are alive, and releases or takes ranges towards this process's
// share. When the state cannot be reached the leases held lapse on the
// local clock, Expiry after the last beat that extended them.
func (m *Manager) Beat(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.left {
		return nil
	}
	sent := m.cfg.Now()
	until := sent.Add(m.cfg.Expiry)
	hb, err := m.cfg.Store.LeaseBeat(ctx, m.cfg.Pipeline, m.cfg.Owner, m.cfg.Ranges, m.cfg.Expiry)
	if err != nil {
		if v := m.view.Load(); v.n > 0 && !m.cfg.Now().Before(v.until) {
			m.publish(nil, time.Time{})
			m.cfg.Log.Warn().Msg("leases lapsed: no heartbeat reached the state for the lease expiry; loading nothing until one does")
		}
		return err
	}
	held, owners := hb.Held, hb.Owners
	share := Share(m.cfg.Ranges, owners, hb.Rank)
	var released, taken []int
	if len(held) > share {
		released = slices.Clone(held[share:])
		held = held[:share]
	}
	// The view changes before the store: a range released is no longer
	// dispatched, one lost (taken by another owner) neither.
	m.publish(held, until)
	if len(released) > 0 {
		if err := m.cfg.Store.LeaseRelease(ctx, m.cfg.Pipeline, m.cfg.Owner, released); err != nil {
			// Still held in the state: extended at the next beat, and
			// released then.
			m.cfg.Log.Warn().Msg("release leases: " + err.Error())
		}
	}
	if len(held) < share {
		got, err := m.cfg.Store.LeaseAcquire(ctx, m.cfg.Pipeline, m.cfg.Owner, share-len(held), m.cfg.Expiry)
		if err != nil {
			m.report(held, owners, released, nil)
			return err
		}
		if len(got) > 0 {
			taken = got
			held = append(slices.Clone(held), got...)
			slices.Sort(held)
			m.publish(held, until)
		}
	}
	m.short.Store(len(held) < share)
	m.report(held, owners, released, taken)
	return nil
}

// report logs a change of the ranges held.
func (m *Manager) report(held []int, owners int, released, taken []int) {
	lost := 0
	for _, r := range m.last {
		if !slices.Contains(held, r) && !slices.Contains(released, r) {
			lost++
		}
	}
	changed := !slices.Equal(held, m.last)
	m.last = slices.Clone(held)
	if !changed {
		return
	}
	m.cfg.Log.Info().Int("held", len(held)).Int("of", m.cfg.Ranges).Int("owners", owners).
		Int("taken", len(taken)).Int("released", len(released)).Int("lost", lost).Msg("leases")
}

// Run beats every Interval (a quarter of it while short of its share)
// until ctx is done. A failed beat is logged and the next one comes at
// the next tick.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTimer(m.wait())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := m.Beat(ctx); err != nil && ctx.Err() == nil {
			m.cfg.Log.Warn().Msg("lease heartbeat: " + err.Error())
		}
		t.Reset(m.wait())
	}
}

// wait is the time to the next beat: Interval, or a quarter of it while
// this process holds less than its share (the others release their
// surplus at their next beats: it takes it soon after).
func (m *Manager) wait() time.Duration {
	if m.short.Load() {
		return m.cfg.Interval / 4
	}
	return m.cfg.Interval
}

// Leave frees every range this process holds, for the others to take at
// their next beat, and stops beating.
func (m *Manager) Leave(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.left = true
	m.publish(nil, time.Time{})
	return m.cfg.Store.LeaseLeave(ctx, m.cfg.Pipeline, m.cfg.Owner)
}
