// Package runner is ferry's engine: it takes files from a feed, loads each
// into a pusher, and tells the feed how each file ended.
//
// # Feeds and tasks
//
// A Feed sends Tasks: an object version to load and its completion
// handle, Task.Done. The feeds are a listing of the store (Listing: a
// snapshot, or one poll of polling replication) and a queue of
// notifications (package source/sqs). A feed sends tasks in batches (a
// listing page, the objects of one SQS receive); the runner looks their
// progress up in one state query and completes at once the ones that need
// no load (done, quarantined, or another version of the key loaded).
//
// # Dispatch
//
// A pass (Runner.Pass) runs one starter and Options.Workers workers. The
// starter takes the tasks waiting (up to 64), joins each to the flight of
// the same object version when one is loading (a file named twice, by a
// listing and a notification or by two notifications, loads once),
// claims the new files when the state store can (state.Claimer,
// state.GroupClaimer: processes sharing a state database do not load the
// same file at once) and marks them started (state.GroupStarter: one
// statement), all in one step each, then starts their GETs ahead
// (Options.FetchAhead) and hands them to the workers. A worker reads a
// file from its committed position into the pusher (package load). A
// version the runner knows is done (it loaded it, or looked it up done)
// is completed without a state query.
//
// With PollOptions.LeaseRanges, Poll first joins the pipeline's hash-range
// leases (package source/runner/lease, kept in a state.Leaser) and beats
// while it runs: each listing page keeps only the keys of the ranges this
// process holds before their progress is looked up (the others count in
// Counters.Others), and the starter drops a task whose range was released
// or lost since it was listed; the claims stay, as the safety net while a
// range changes hands. Poll leaves the leases when it returns.
//
// With Options.Async, the pusher writes the chunks that are ready together
// in one transaction (pusher.GroupTarget), so small files cost one commit
// per group, and reading overlaps with writing.
//
// # Completion
//
// Every task's Done is called exactly once, with Loaded, Skipped, Failed
// or Retry, before Pass returns. A file ends in one place: the pusher's
// Finish callback, once nothing of the file is in flight. There the
// runner classifies the file's error (pusher.ClassOf), records a failure
// in the state (so no later write moves it), frees the claim, updates the
// counters, and calls each waiting task's Done. A data error fails the
// file (and, under OnErrorAbort, stops starting new files; the files
// already started finish); an
// unavailable service stops the pass, whose caller backs off; a conflict
// with another process, an object that vanished and a stop leave the file
// to a later pass.
//
// # Observing
//
// Config.Observer, when set, is told of each file's end (loaded, skipped,
// failed, quarantined), each transaction the async pusher commits, each
// retry and its reason, and each round trip to the state or target and to
// the source (a listing page; package source/sqs reports its receives to
// the same kind of hook), for metrics and health checks. The counters
// (Runner.Counters) and gauges (Runner.Inflight, Runner.BacklogFiles) are read
// at any time instead.
// Package source/runner/metrics adapts both to Prometheus; the runner
// itself knows nothing of it.
//
// # Shutdown
//
// Pass reads under ctx and writes under writeCtx. Cancelling ctx stops
// the feed and the reads; chunks already pushed still commit under
// writeCtx, which the caller cancels after its shutdown timeout. Files
// that did not finish resume at their committed positions later.
package runner
