// Package source holds what every object store and file format in ferry
// shares: the Object a store lists, the Store contract, and the Chunk a
// format reader emits.
//
// A Chunk is one batch of records from one file. It carries the file's
// identity, the ordinal of its first record, the position just after its
// last record (record count and byte offset in the decompressed stream) and
// whether it is the file's last chunk. Positions are what progress state
// stores: a reader started at a committed position resumes at the record
// after it, so a file is never re-read from the start after a crash.
//
// Sub-packages: local and s3 (stores), discover (listing with include and
// exclude globs), compress (gzip/zstd detection), format (record readers),
// load (one file into a pusher).
package source
