// Package parsequeue is an ordered pipeline: items are parsed in parallel,
// then pushed and acked one at a time in the order they were added.
//
// # Ordering
//
// Add numbers items in the order its calls take effect (calls from several
// goroutines are serialized). Parse runs on a pool of Config.Workers
// goroutines, in any order. Push and Ack run on a single goroutine: item k
// is pushed only after every item before it was pushed and acked, and
// item k's Ack runs right after item k's Push succeeded. Push and Ack never
// run concurrently with themselves or each other.
//
// # Groups
//
// With Config.PushGroup instead of Push, the push loop delivers several
// consecutive items at once (a target that commits them in one
// transaction): it takes the next item, then the items after it whose
// parse is done, until Config.Full says the group is full; while it is
// not, it waits up to Config.Linger for the next item to be added and
// parsed. Then it pushes the group and acks its items in order. An item
// whose parse failed ends the group before it; its error surfaces once
// the group is pushed and acked. The order guarantees are those of Push,
// with "group" for "item".
//
// # Overlapping pushes
//
// With Config.Overlap, each group's push runs on a goroutine of its own,
// and a group for which Overlap returns true starts while the push of the
// group before it is still under way: at most two pushes are under way at
// once, and a group for which Overlap returns false starts once every
// push before it has returned and been acked. Acks still run in item
// order, on one goroutine (not the push loop's), each group's once its
// push has returned: item k is acked only after every item before it.
// The pushes of two groups may thus run concurrently with each other and
// with Ack; PushGroup orders what it needs to (a target commits a group
// only after the group before it). The first error in item order stops
// the queue as without overlap; a push under way then is cancelled
// through its context, and the queue finishes once it has returned.
//
// # Backpressure
//
// At most Config.MaxPending items are pending (added, not yet acked); Add
// blocks while that many are. Memory is bounded by MaxPending items plus
// what Parse holds.
//
// # Errors
//
// The first error, in item order, stops the queue: a Parse error of item k
// surfaces when k's turn to be pushed comes (items before k are still
// pushed and acked); a Push or Ack error of item k surfaces at once. After
// it nothing is pushed or acked, parses in flight are cancelled through
// their context, Add returns the error, and Err and Close report it.
// Errors are returned as Parse, Push or Ack returned them. Cancelling the
// context given to New stops the queue the same way, with the context's
// error.
//
// # Consuming in order on another goroutine
//
// Push may hand each item to a consumer that pulls them in order on its
// own goroutine (a Reader whose Next returns what the queue parsed): Push
// sends the item on an unbuffered channel, or returns Push's context's
// error once that context is done; the consumer receives from the channel
// until Context is done. If Err is then nil, the queue was closed and
// drained: every Push has returned, so every item sent was received and
// none is left behind. The producer closes the queue once it has added
// everything, from its own goroutine since Close waits for the consumer.
// An item counts as pending until the consumer has received it: the
// consumer holds one more than MaxPending.
//
// # Shutdown
//
// Close stops Add and waits until every added item is pushed and acked,
// or until the queue fails, or until Close's context is done; in that last
// case it cancels the work in flight and the queue's error is the
// context's error. In every case Close returns only once all the queue's
// goroutines have exited, so Parse, Push and Ack must honour their context.
// Items added but never acked (after a failure or a cancelled Close) are
// dropped: the caller, who knows what they hold, releases them.
package parsequeue
