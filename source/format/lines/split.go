package lines

import (
	"io"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
)

var _ format.Splitter = (*Reader)(nil)

// CanSplit is true: every LF ends a line.
func (r *Reader) CanSplit() bool { return true }

// Split hands the rest of the stream over, cut at line ends (see
// format.Splitter).
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
		Cols: r.cols,
		Cut:  format.CutLines,
		Block: func(data []byte, at pusher.Position, _ []string) format.Reader {
			return r.follow(format.BlockStream(data, at.Offset, "lines", r.o), at)
		},
		Resume: func(rd io.Reader, at pusher.Position, _ []string) format.Reader {
			o := r.o
			o.Seek = nil
			return r.follow(format.NewStreamAt(rd, at.Offset, "lines", bufSize, o), at)
		},
	}, true
}

// follow returns a Reader with r's options reading s from at.
func (r *Reader) follow(s format.Stream, at pusher.Position) *Reader {
	return &Reader{o: r.o, start: at, pat: r.pat, cols: r.cols, Stream: s, started: true, nrec: at.Records, pos: at}
}
