// Package source is the top of ferry's flow: everything about reading the
// source. This package holds the Store contract that object stores
// implement (List, Open, Rel); the records a store's files hold travel as
// the model of package pusher (Object, Chunk, Batch, Position).
//
// Sub-packages: local and s3 (stores), stores (opens the store a --source
// value names), discover (listing with include and exclude globs),
// compress (gzip/zstd detection), format (record readers), load (one file
// into a pusher), sqs (S3 event notifications on a queue).
package source
