package lease

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/state"
)

// clock is a fake clock, shared by the memory store (the database's
// clock) and the managers (their local clocks).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// memStore is a state.Leaser in memory, with the PostgreSQL store's
// semantics, on a fake clock. down makes every call fail.
type memStore struct {
	mu      sync.Mutex
	clock   *clock
	leases  map[int]*memLease
	members map[string]*memMember
	down    bool
}

type memLease struct {
	owner   string
	expires time.Time
}

type memMember struct {
	ranges  int
	expires time.Time
}

var errDown = errors.New("state down")

func newMemStore(c *clock) *memStore {
	return &memStore{clock: c, leases: map[int]*memLease{}, members: map[string]*memMember{}}
}

func (s *memStore) mismatch(owner string, ranges int) bool {
	now := s.clock.Now()
	for o, m := range s.members {
		if o != owner && m.ranges != ranges && m.expires.After(now) {
			return true
		}
	}
	return false
}

func (s *memStore) LeaseJoin(_ context.Context, _, owner string, ranges int, expiry time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errDown
	}
	if s.mismatch(owner, ranges) {
		return state.ErrLeaseRanges
	}
	s.members[owner] = &memMember{ranges: ranges, expires: s.clock.Now().Add(expiry)}
	for r := range s.leases {
		if r >= ranges {
			delete(s.leases, r)
		}
	}
	for r := range ranges {
		if s.leases[r] == nil {
			s.leases[r] = &memLease{}
		}
	}
	return nil
}

func (s *memStore) LeaseBeat(_ context.Context, _, owner string, ranges int, expiry time.Duration) (state.Heartbeat, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return state.Heartbeat{}, errDown
	}
	if s.mismatch(owner, ranges) {
		return state.Heartbeat{}, state.ErrLeaseRanges
	}
	now := s.clock.Now()
	s.members[owner] = &memMember{ranges: ranges, expires: now.Add(expiry)}
	var held []int
	for r, l := range s.leases {
		if l.owner == owner {
			l.expires = now.Add(expiry)
			held = append(held, r)
		}
	}
	sort.Ints(held)
	hb := state.Heartbeat{Held: held}
	for o, m := range s.members {
		if m.expires.After(now) {
			hb.Owners++
			if o < owner {
				hb.Rank++
			}
		}
	}
	return hb, nil
}

func (s *memStore) LeaseAcquire(_ context.Context, _, owner string, n int, expiry time.Duration) ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, errDown
	}
	now := s.clock.Now()
	var got []int
	for r := range len(s.leases) {
		if len(got) == n {
			break
		}
		if l := s.leases[r]; !l.expires.After(now) {
			l.owner, l.expires = owner, now.Add(expiry)
			got = append(got, r)
		}
	}
	return got, nil
}

func (s *memStore) LeaseRelease(_ context.Context, _, owner string, ranges []int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errDown
	}
	for _, r := range ranges {
		if l := s.leases[r]; l != nil && l.owner == owner {
			*l = memLease{}
		}
	}
	return nil
}

func (s *memStore) LeaseLeave(_ context.Context, _, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errDown
	}
	for _, l := range s.leases {
		if l.owner == owner {
			*l = memLease{}
		}
	}
	delete(s.members, owner)
	return nil
}

// sim runs managers on a fake clock: each beats every interval from its
// start, in steps of step, unless stopped (killed or stalled).
type sim struct {
	t      *testing.T
	clock  *clock
	store  *memStore
	start  time.Time
	ranges int
	expiry time.Duration
	procs  []*proc
}

type proc struct {
	name    string
	m       *Manager
	next    time.Time
	stopped bool
}

const step = 100 * time.Millisecond

func newSim(t *testing.T, ranges int, expiry time.Duration) *sim {
	c := &clock{t: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}
	return &sim{t: t, clock: c, store: newMemStore(c), start: c.Now(), ranges: ranges, expiry: expiry}
}

func (s *sim) add(name string) *proc {
	s.t.Helper()
	m, err := New(Config{Store: s.store, Pipeline: "p", Owner: name, Ranges: s.ranges, Expiry: s.expiry, Now: s.clock.Now, Log: zerolog.Nop()})
	if err != nil {
		s.t.Fatal(err)
	}
	if err := m.Join(context.Background()); err != nil {
		s.t.Fatal(err)
	}
	p := &proc{name: name, m: m, next: s.clock.Now().Add(m.cfg.Interval)}
	s.procs = append(s.procs, p)
	s.check()
	return p
}

// run advances the clock by d, step by step, beating the running
// managers when due and checking at each step that no two managers (the
// stopped ones included: a stalled process still acts on its view) hold
// a range at once. It returns early, with the time it took, once until
// holds.
func (s *sim) run(d time.Duration, until func() bool) (time.Duration, bool) {
	s.t.Helper()
	for took := time.Duration(0); ; took += step {
		if until != nil && until() {
			return took, true
		}
		if took >= d {
			return took, until == nil
		}
		s.clock.Add(step)
		now := s.clock.Now()
		for _, p := range s.procs {
			if !p.stopped && !now.Before(p.next) {
				p.m.Beat(context.Background())
				p.next = now.Add(p.m.wait())
			}
		}
		s.check()
	}
}

// check fails the test when two managers' views share a range.
func (s *sim) check() {
	s.t.Helper()
	by := map[int]string{}
	for _, p := range s.procs {
		for _, r := range p.m.Held() {
			if o, ok := by[r]; ok {
				s.t.Fatalf("at %v: range %d held by %s and %s", s.clock.Now().Sub(s.start), r, o, p.name)
			}
			by[r] = p.name
		}
	}
}

// covered says whether the running managers together hold every range.
func (s *sim) covered() bool {
	n := 0
	for _, p := range s.procs {
		if !p.stopped {
			n += len(p.m.Held())
		}
	}
	return n == s.ranges
}

// balanced says whether every range is held by a running manager and
// none holds more than its fair share.
func (s *sim) balanced() bool {
	live := 0
	for _, p := range s.procs {
		if !p.stopped {
			live++
		}
	}
	for _, p := range s.procs {
		if !p.stopped && len(p.m.Held()) > (s.ranges+live-1)/live {
			return false
		}
	}
	return s.covered()
}

func (s *sim) counts() string {
	var out []string
	for _, p := range s.procs {
		out = append(out, fmt.Sprintf("%s=%d", p.name, len(p.m.Held())))
	}
	return fmt.Sprint(out)
}

// TestRebalance: three processes share 16 ranges; one dies (its ranges
// are taken over within the expiry and a heartbeat), one joins (it gets
// its share within a few heartbeats), one leaves gracefully (its ranges
// are taken at the others' next beat); no two ever hold a range at once.
func TestRebalance(t *testing.T) {
	const expiry = 9 * time.Second
	interval := expiry / 3
	s := newSim(t, 16, expiry)
	a := s.add("a")
	if n := len(a.m.Held()); n != 16 {
		t.Fatalf("the first process holds %d ranges, want all 16", n)
	}
	s.run(500*time.Millisecond, nil)
	s.add("b")
	s.run(500*time.Millisecond, nil)
	c := s.add("c")
	if took, ok := s.run(time.Minute, s.balanced); !ok {
		t.Fatalf("not balanced a minute after three joined: %s", s.counts())
	} else if took > interval+interval/4+step {
		t.Errorf("balanced %v after the third joined; want within a heartbeat and a quarter (%v)", took, interval+interval/4)
	}
	s.run(10*time.Second, nil)
	if !s.balanced() {
		t.Fatalf("unbalanced later: %s", s.counts())
	}

	// c dies (kill -9): its leases expire, the others take them.
	c.stopped = true
	lost := len(c.m.Held())
	took, ok := s.run(time.Minute, s.covered)
	if !ok {
		t.Fatalf("c's ranges not taken over a minute after it died: %s", s.counts())
	}
	if took > expiry+interval+step {
		t.Errorf("c's %d ranges taken over %v after it died; want within the expiry and a heartbeat (%v)", lost, took, expiry+interval)
	}
	t.Logf("c's %d ranges taken over %v after it died (expiry %v)", lost, took, expiry)
	if !s.balanced() {
		t.Fatalf("unbalanced after the takeover: %s", s.counts())
	}

	// d joins mid-run.
	d := s.add("d")
	took, ok = s.run(time.Minute, func() bool { return len(d.m.Held()) > 0 })
	if !ok || took > interval+interval/4+step {
		t.Fatalf("d holds no range %v after it joined: %s", took, s.counts())
	}
	if took, ok := s.run(time.Minute, s.balanced); !ok || took > interval+interval/4+step {
		t.Fatalf("not balanced %v after d joined: %s", took, s.counts())
	}
	s.run(10*time.Second, nil)
	for _, p := range s.procs {
		if !p.stopped && len(p.m.Held()) < 16/3 {
			t.Errorf("%s holds %d ranges, want its share: %s", p.name, len(p.m.Held()), s.counts())
		}
	}

	// a leaves gracefully: its ranges are free at once.
	a.stopped = true
	if err := a.m.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took, ok := s.run(time.Minute, s.covered); !ok || took > interval+step {
		t.Fatalf("a's ranges taken %v after it left; want within a heartbeat: %s", took, s.counts())
	}
}

// TestStalledOwner: a process that stops beating (a pause, a partition)
// stops acting on its leases on its own clock no later than the others
// may take them, and finds them gone when it beats again.
func TestStalledOwner(t *testing.T) {
	const expiry = 6 * time.Second
	s := newSim(t, 8, expiry)
	a := s.add("a")
	b := s.add("b")
	if _, ok := s.run(time.Minute, s.balanced); !ok {
		t.Fatalf("not balanced: %s", s.counts())
	}
	a.stopped = true
	// run checks at every step that a's view and b's do not overlap.
	if _, ok := s.run(time.Minute, func() bool { return len(b.m.Held()) == 8 }); !ok {
		t.Fatalf("b did not take a's ranges: %s", s.counts())
	}
	if n := len(a.m.Held()); n != 0 {
		t.Fatalf("stalled a still acts on %d ranges after they expired", n)
	}
	// a wakes up: its beat finds its ranges taken, and it gets a share
	// back as b releases.
	a.stopped = false
	a.next = s.clock.Now()
	if _, ok := s.run(time.Minute, s.balanced); !ok {
		t.Fatalf("not balanced after a woke up: %s", s.counts())
	}
}

// TestStateDown: leases lapse on the local clock when no heartbeat gets
// through, and come back when one does.
func TestStateDown(t *testing.T) {
	const expiry = 3 * time.Second
	s := newSim(t, 4, expiry)
	a := s.add("a")
	if len(a.m.Held()) != 4 || !a.m.Owns("x") {
		t.Fatalf("a holds %v", a.m.Held())
	}
	s.store.mu.Lock()
	s.store.down = true
	s.store.mu.Unlock()
	s.run(expiry-step, nil)
	if len(a.m.Held()) == 0 {
		t.Fatal("leases lapsed before the expiry")
	}
	s.run(2*step, nil)
	if len(a.m.Held()) != 0 || a.m.Owns("x") {
		t.Fatalf("a still holds %v with the state down past the expiry", a.m.Held())
	}
	s.store.mu.Lock()
	s.store.down = false
	s.store.mu.Unlock()
	if _, ok := s.run(expiry, func() bool { return len(a.m.Held()) == 4 }); !ok {
		t.Fatalf("a did not get its leases back: %v", a.m.Held())
	}
}

// TestRangesMismatch: a process with another --lease-ranges cannot join
// while one with the pipeline's is alive; it can once that one is gone.
func TestRangesMismatch(t *testing.T) {
	s := newSim(t, 8, 3*time.Second)
	s.add("a")
	m, err := New(Config{Store: s.store, Pipeline: "p", Owner: "b", Ranges: 16, Expiry: 3 * time.Second, Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Join(context.Background()); !errors.Is(err, state.ErrLeaseRanges) {
		t.Fatalf("join with 16 ranges beside 8: %v, want ErrLeaseRanges", err)
	}
	s.procs[0].stopped = true
	s.run(3*time.Second+step, nil)
	if err := m.Join(context.Background()); err != nil {
		t.Fatalf("join once the other died: %v", err)
	}
	if got := m.Held(); len(got) != 16 {
		t.Fatalf("holds %v, want all 16", got)
	}
}

// TestRange: the key → range function is FNV-1a 64 of the key's bytes,
// top bits; stable values (changing them would move every key of a
// running pipeline), splits and spread.
func TestRange(t *testing.T) {
	// FNV-1a 64 of "" is 0xcbf29ce484222325; of "a" 0xaf63dc4c8601ec8c.
	for _, c := range []struct {
		key    string
		ranges int
		want   int
	}{
		{"", 1, 0}, {"a", 1, 0},
		{"", 2, 1}, {"", 16, 0xc}, {"", 256, 0xcb}, {"", 65536, 0xcbf2},
		{"a", 2, 1}, {"a", 16, 0xa}, {"a", 256, 0xaf}, {"a", 65536, 0xaf63},
		{"logs/2024/05/01/00.csv", 64, Range("logs/2024/05/01/00.csv", 128) >> 1},
	} {
		if got := Range(c.key, c.ranges); got != c.want {
			t.Errorf("Range(%q, %d) = %#x, want %#x", c.key, c.ranges, got, c.want)
		}
	}
	for _, k := range []string{"", "a", "in/2024/05/01/x.csv.gz", "é\x00\xff"} {
		h := fnv.New64a()
		h.Write([]byte(k))
		if got, want := Range(k, MaxRanges), int(h.Sum64()>>48); got != want {
			t.Errorf("Range(%q, %d) = %#x, hash/fnv's top 16 bits %#x", k, MaxRanges, got, want)
		}
	}
	const ranges, keys = 16, 16000
	count := make([]int, ranges)
	for i := range keys {
		k := fmt.Sprintf("in/2024/05/%02d/part-%05d.csv.gz", i%31, i)
		r := Range(k, ranges)
		count[r]++
		if Range(k, 2*ranges)>>1 != r || Range(k, ranges/2) != r>>1 {
			t.Fatalf("%q: range %d of %d does not split into %d of %d", k, r, ranges, Range(k, 2*ranges), 2*ranges)
		}
	}
	if lo, hi := slices.Min(count), slices.Max(count); lo < keys/ranges*8/10 || hi > keys/ranges*12/10 {
		t.Errorf("keys per range %v: want each within 20%% of %d", count, keys/ranges)
	}
}

// TestShare: the shares of the owners alive add up to the ranges, and
// differ by one at most.
func TestShare(t *testing.T) {
	for _, ranges := range []int{1, 2, 16, 64, 1024} {
		for owners := 1; owners <= 10; owners++ {
			sum, lo, hi := 0, ranges, 0
			for rank := range owners {
				s := Share(ranges, owners, rank)
				sum += s
				lo, hi = min(lo, s), max(hi, s)
			}
			if sum != ranges || hi-lo > 1 {
				t.Errorf("%d ranges, %d owners: shares add up to %d, from %d to %d", ranges, owners, sum, lo, hi)
			}
		}
	}
	if Share(16, 0, 0) != 16 {
		t.Error("no owner counted: the whole")
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		ranges int
		expiry time.Duration
		ok     bool
	}{
		{0, 0, true}, {1, time.Second, true}, {64, 30 * time.Second, true}, {MaxRanges, time.Minute, true},
		{3, time.Second, false}, {-1, time.Second, false}, {2 * MaxRanges, time.Second, false}, {8, 500 * time.Millisecond, false},
	} {
		if err := Validate(c.ranges, c.expiry); (err == nil) != c.ok {
			t.Errorf("Validate(%d, %v) = %v", c.ranges, c.expiry, err)
		}
	}
}
