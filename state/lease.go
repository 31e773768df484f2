package state

import (
	"context"
	"errors"
	"time"
)

// Leaser is a Store that leases the hash ranges of a pipeline's key space
// to the processes that poll one source (ferry replicate --lease-ranges),
// so that each lists, looks up, claims and loads only the keys of its
// ranges. A lease is held by an owner (one process) until it expires;
// the owner extends it with every heartbeat. Times are the store's (one
// clock for every process). Every method is one atomic step: two owners
// never hold the same range at once in the store.
//
// Leases only share the work out: the per-file claim (Claimer) and the
// guarded Advance still keep rows exactly-once while a range changes
// hands.
type Leaser interface {
	// LeaseJoin prepares the pipeline's ranges [0, ranges) (a range
	// numbered past them, left by a run with more ranges, is dropped) and
	// records owner alive until now plus expiry. It fails with an error
	// wrapping ErrLeaseRanges, and records nothing, while another live
	// owner of the pipeline uses another number of ranges.
	LeaseJoin(ctx context.Context, pipeline, owner string, ranges int, expiry time.Duration) error
	// LeaseBeat is a heartbeat: owner is alive, and every range it holds
	// (expired or not, as long as no other owner took it since) is
	// extended to now plus expiry. It returns the ranges owner holds and
	// the owners alive. It fails as LeaseJoin does, extending nothing,
	// while another live owner uses another number of ranges.
	LeaseBeat(ctx context.Context, pipeline, owner string, ranges int, expiry time.Duration) (Heartbeat, error)
	// LeaseAcquire takes up to n ranges that no owner holds (never taken,
	// released, or expired), until now plus expiry, and returns them.
	LeaseAcquire(ctx context.Context, pipeline, owner string, n int, expiry time.Duration) ([]int, error)
	// LeaseRelease frees the given ranges, those of them that owner holds.
	LeaseRelease(ctx context.Context, pipeline, owner string, ranges []int) error
	// LeaseLeave frees every range owner holds and forgets the owner.
	LeaseLeave(ctx context.Context, pipeline, owner string) error
}

// Heartbeat is what a LeaseBeat learns.
type Heartbeat struct {
	// Held are the ranges the owner holds, sorted.
	Held []int
	// Owners is how many owners are alive, the owner included; Rank how
	// many of them have a name that sorts (bytewise) before the owner's.
	Owners, Rank int
}

// ErrLeaseRanges: processes of one pipeline lease different numbers of
// ranges (--lease-ranges must be the same for every process).
var ErrLeaseRanges = errors.New("another live process of the pipeline uses another --lease-ranges")

// Leases are a pipeline's leases as the state shows them (ferry status).
type Leases struct {
	// Ranges is how many ranges the pipeline has; Free how many of them
	// no live owner holds.
	Ranges, Free int
	// Owners, in the order they joined.
	Owners []LeaseOwner
}

// LeaseOwner is an owner of a pipeline's leases.
type LeaseOwner struct {
	Owner string
	// Ranges is how many ranges it holds (unexpired).
	Ranges int
	// Expires is when it is taken for dead without a heartbeat; Alive
	// says whether that is still ahead.
	Expires time.Time
	Alive   bool
}
