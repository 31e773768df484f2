package jsonl

import (
	"io"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
)

var _ format.Splitter = (*Reader)(nil)

// CanSplit is true: every LF ends a line (JSON strings cannot hold one).
func (r *Reader) CanSplit() bool { return true }

// Split hands the rest of the stream over, cut at line ends (see
// format.Splitter). A block's Reader starts with the columns known so far
// and appends those it finds; the caller maps them onto the columns of
// the whole stream.
func (r *Reader) Split() (format.Split, bool) {
	if !r.started {
		r.started = true
		if r.start.Offset > 0 {
			if err := r.SkipTo(r.start.Offset); err != nil {
				r.errs.Stop(err)
				return format.Split{}, false
			}
		}
	}
	if !r.errs.None() || r.ReadErr != nil || r.skipLine {
		return format.Split{}, false
	}
	return format.Split{
		At:   pusher.Position{Records: r.nrec, Offset: r.Base + int64(r.P)},
		Rest: r.Rest(),
		Cols: r.dec.Cols,
		Cut:  format.CutLines,
		Block: func(data []byte, at pusher.Position, cols []string) format.Reader {
			return r.follow(format.BlockStream(data, at.Offset, "jsonl", r.o), at, cols)
		},
		Resume: func(rd io.Reader, at pusher.Position, cols []string) format.Reader {
			o := r.o
			o.Seek = nil
			return r.follow(format.NewStreamAt(rd, at.Offset, "jsonl", bufSize, o), at, cols)
		},
	}, true
}

// follow returns a Reader with r's options reading s from at, knowing the
// columns cols.
func (r *Reader) follow(s format.Stream, at pusher.Position, cols []string) *Reader {
	nr := &Reader{o: r.o, start: at, Stream: s, started: true, nrec: at.Records, pos: at}
	nr.dec.SetCols(cols)
	return nr
}
