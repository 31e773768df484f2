// Package jsonl reads JSON lines (one JSON object per line) into batches of
// records. It registers the format "jsonl" with package format.
//
// Contract:
//
//   - The stream is read in large blocks into one reused buffer; a line
//     split across blocks is carried over. Lines end with LF or CRLF. A line
//     holding only JSON whitespace is skipped: it is not a record but it
//     counts in byte offsets. A UTF-8 byte order mark at the start of the
//     stream is dropped.
//   - Each other line must be exactly one JSON object, with optional
//     surrounding whitespace. Anything else (invalid JSON, an array or a
//     scalar, trailing data) is a bad record.
//   - Columns are discovered: each new top-level key appends a column, in
//     the order keys are first seen. Every batch's Columns is the reader's
//     growing list; a record has one field per column known when it was
//     read, and a key it lacks is Null. A key repeated in one object: the
//     last value wins. Columns first seen in a bad record are forgotten.
//   - Values: a string is pusher.String holding the unescaped UTF-8 (an
//     unpaired surrogate escape becomes U+FFFD, as in encoding/json); a
//     number is pusher.Number holding the literal as written; true and
//     false are pusher.Bool ("true", "false"); null is pusher.Null; an
//     object or array is pusher.JSON holding its bytes exactly as written,
//     validated, nested at most 1000 deep. Bytes are not checked for valid
//     UTF-8, as in encoding/json.
//   - The scanner (package internal/jsonscan, shared with the JSON document
//     reader) is hand-written and copies values into the batch's shared
//     buffer: no allocation per field or per record (only the first time a
//     key is seen).
//   - A line longer than Options.MaxRecordBytes (not counting the CR of a
//     CRLF) is a bad record; the buffer never grows much past that bound.
//   - Pos is the position just after the last record returned: its ordinal
//     (blank lines are not records) and the byte offset after its line
//     terminator. A Reader created at such a position skips to the offset
//     without parsing and continues with the next line.
//   - A bad line is a *pusher.RecordError with its 1-based ordinal, the
//     byte offset where the line starts and Raw, the line without its
//     terminator cut to pusher.MaxRawBytes (of an over-long line, its first
//     MaxRawBytes bytes). Records read before it in the same call are
//     returned first (with a nil error) and the error on the next call, so
//     Pos never moves past a bad record. Next may be called again after a
//     RecordError: reading continues with the next line, and the bad line
//     keeps its ordinal. Any other error (reading the stream) is final.
//   - The Reader is a format.Splitter: every LF ends a line (a JSON string
//     cannot hold one), so the stream is cut at LFs. A block's Reader
//     starts with the columns known so far; format.Parallel maps the ones
//     it finds onto the stream's.
package jsonl
