// Package json reads JSON documents, one per stream, into batches of
// records. It registers the format "json" with package format.
//
// Contract:
//
//   - The document is streamed through one reused buffer: memory depends
//     on the batch size and Options.MaxRecordBytes, not on the size of the
//     document. A UTF-8 byte order mark at the start is dropped; a stream
//     holding only whitespace has no records.
//   - Which values are records: with Options.RecordsField (a dotted path,
//     "Records" or "data.items") the document must be an object; the keys
//     are followed down the path and each element of the array found there
//     is a record. Other keys' values, before and after, are skipped
//     without being kept (each checked as JSON when it is at most
//     MaxRecordBytes long; a longer one is followed to its end without
//     being checked). Without RecordsField a top-level array's elements
//     are the records, and a top-level object is the only record. A
//     missing path, a path that leads to something other than an array, or
//     a top-level scalar is an error.
//   - Each record must be a JSON object. Objects map to columns as in the
//     JSON-lines reader (package jsonl): columns are discovered in the
//     order keys are first seen and shared by every batch, a missing key is
//     Null, strings are unescaped (pusher.String), numbers and booleans are
//     kept as written (pusher.Number, pusher.Bool), nested objects and
//     arrays as written (pusher.JSON), null is Null.
//   - Pos is the position just after the last record returned: its ordinal
//     (rejected records count) and the byte offset just after its closing
//     brace. A Reader created at such a position reads the head of the
//     document again (down to the array), then skips to the offset (with
//     Options.Seek, by reopening the stream there) and continues with the
//     next element.
//   - A bad record (an element that is not an object, invalid JSON inside
//     an element, an element longer than MaxRecordBytes) is a
//     *pusher.RecordError with its 1-based ordinal, the byte offset where
//     it starts and Raw, its first bytes. The element's end is found by
//     following strings and nesting, without buffering a long one, and
//     reading continues after it: Next may be called again. Records read
//     before an error in the same call are returned first (with a nil
//     error) and the error on the next call.
//   - Invalid JSON outside the records (between elements, in the head or
//     the tail of the document, after the document), a document that ends
//     early and a read error are final: a plain error (never a RecordError)
//     that every later call returns again.
//   - Syntax errors give absolute byte offsets in the decompressed stream.
//   - The Reader is not a format.Splitter: where a record ends inside a
//     document cannot be found without parsing it, so a document is read
//     and parsed on one goroutine (load.Config.ParseWorkers does not
//     apply).
package json
