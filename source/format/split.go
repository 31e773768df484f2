package format

import (
	"bytes"
	"io"

	"github.com/ferrydata/ferry/pusher"
)

// Splitter is a Reader whose stream can be cut into blocks at record
// boundaries without parsing it, so that blocks parse in parallel (see
// NewParallel). CSV and TSV (without an escape byte other than the quote,
// and without a comment byte), JSON lines and lines implement it; JSON
// documents and Parquet read sequentially.
type Splitter interface {
	Reader
	// CanSplit reports whether the reader's options allow cutting its
	// stream without parsing it. When false, Split never succeeds.
	CanSplit() bool
	// Split ends sequential reading and hands the rest of the stream
	// over, from a record boundary at or after Pos. It first does what
	// the first Next would (the CSV header, skipped rows, skipping to the
	// start position). ok is false when the reader cannot hand over now
	// (it has an error to return, it is skipping a bad record, the CSV
	// width is not known yet): the reader is unchanged and Next goes on;
	// Split may be tried again after a batch. After a successful Split
	// the reader must not be used.
	Split() (s Split, ok bool)
}

// Split is the rest of a stream handed over by a Splitter, and how to read
// it: cut into blocks, each parsed by its own Reader, or sequentially.
type Split struct {
	// At is where Rest starts, a record boundary: the records (good and
	// bad) before it and its stream offset.
	At pusher.Position
	// Rest is the stream from At.Offset on.
	Rest io.Reader
	// Cols are the columns known at At.
	Cols []string
	// Cut returns the length of the longest prefix of data (which starts
	// at a record boundary) that ends at a record boundary, found without
	// parsing; 0 when there is none. It is safe for concurrent use.
	Cut func(data []byte) int
	// Block returns a Reader of data, the stream from at.Offset, as cut by
	// Cut or running to the end of the stream; the Reader treats its end
	// as the end of the stream. Its record ordinals (Pos, RecordError)
	// count from at.Records; its byte offsets are stream offsets. cols are
	// the columns known so far (JSON lines discovers more). It does not
	// write to data and is safe to call concurrently.
	Block func(data []byte, at pusher.Position, cols []string) Reader
	// Resume returns a Reader of the stream from at, a record boundary,
	// r yielding its bytes from at.Offset on: it reads on sequentially in
	// the state the Splitter was in (header read, columns cols), and is a
	// Splitter itself.
	Resume func(r io.Reader, at pusher.Position, cols []string) Reader
	// Realign, when set, reports whether the cuts after the bad record e
	// can no longer be trusted (CSV: malformed quoting may leave the
	// quotes counted by Cut out of step with the records): the stream
	// from e's offset on must then be read again sequentially.
	Realign func(e *pusher.RecordError) bool
}

// CutLines is Split.Cut for formats whose records are lines: the prefix
// up to the last LF.
func CutLines(data []byte) int { return bytes.LastIndexByte(data, '\n') + 1 }

// CutQuoted is Split.Cut for CSV without an escape or comment byte: the
// prefix up to the last LF preceded by an even number of quote bytes
// (counted from the start of data). An LF inside a quoted field always
// follows an odd number of them, since a quoted field opens with a quote
// and a quote inside it is doubled; so in well-formed CSV such an LF ends
// a record.
func CutQuoted(quote byte) func(data []byte) int {
	q := []byte{quote}
	return func(data []byte) int {
		n := bytes.Count(data, q)
		end := len(data)
		for {
			i := bytes.LastIndexByte(data[:end], '\n')
			if i < 0 {
				return 0
			}
			n -= bytes.Count(data[i+1:end], q)
			if n%2 == 0 {
				return i + 1
			}
			end = i
		}
	}
}
