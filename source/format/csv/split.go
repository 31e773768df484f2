package csv

import (
	"errors"
	"io"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
)

var _ format.Splitter = (*Reader)(nil)

// CanSplit reports whether records can be cut by counting quotes: not
// with an escape byte (an escaped quote does not count) nor a comment byte
// (a comment line may hold any number of quotes).
func (r *Reader) CanSplit() bool { return r.escape == 0 && r.comment == 0 }

// Split hands the rest of the stream over after the header and skipped
// rows (see format.Splitter). Blocks are cut at an LF preceded by an even
// number of quotes; a malformed record other than one with the wrong
// number of fields makes the reading after it start again sequentially
// (Realign).
func (r *Reader) Split() (format.Split, bool) {
	if !r.CanSplit() {
		return format.Split{}, false
	}
	if !r.started {
		r.started = true
		if err := r.begin(); err != nil {
			r.errs.Stop(err)
			return format.Split{}, false
		}
	}
	if !r.errs.None() || r.ReadErr != nil || r.skipLine || r.skipRecord || !r.haveWidth {
		return format.Split{}, false
	}
	return format.Split{
		At:   pusher.Position{Records: r.nrec, Offset: r.Base + int64(r.P)},
		Rest: r.Rest(),
		Cols: r.cols,
		Cut:  format.CutQuoted(r.quote),
		Block: func(data []byte, at pusher.Position, _ []string) format.Reader {
			return r.follow(format.BlockStream(data, at.Offset, "csv", r.o), at)
		},
		Resume: func(rd io.Reader, at pusher.Position, _ []string) format.Reader {
			o := r.o
			o.Seek = nil
			return r.follow(format.NewStreamAt(rd, at.Offset, "csv", bufSize, o), at)
		},
		Realign: func(e *pusher.RecordError) bool {
			var we *widthError
			return !errors.As(e.Err, &we)
		},
	}, true
}

// follow returns a Reader with r's options and columns, past the header,
// reading s from at.
func (r *Reader) follow(s format.Stream, at pusher.Position) *Reader {
	return &Reader{
		o:         r.o,
		delim:     r.delim,
		quote:     r.quote,
		escape:    r.escape,
		comment:   r.comment,
		null:      r.null,
		errBare:   r.errBare,
		header:    r.header,
		start:     at,
		haveWidth: true,
		cols:      r.cols,
		Stream:    s,
		started:   true,
		nrec:      at.Records,
		pos:       at,
	}
}
