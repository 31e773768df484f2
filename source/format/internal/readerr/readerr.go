// Package readerr keeps a record reader's errors from one call of Next to
// the next, the way all the format readers return them: the records read
// before an error come first, with a nil error, and the error on the next
// call; an error other than a *pusher.RecordError (the end of the stream,
// a read error, broken structure) is final and returned by every later
// call.
package readerr

import (
	"errors"

	"github.com/ferrydata/ferry/pusher"
)

// Errs holds the errors of one reader; the zero value holds none.
type Errs struct {
	pending error // to return on the next call
	final   error
}

// Due returns the error to return at the start of a call, if any: the one
// kept by Fail, or the final one.
func (e *Errs) Due() error {
	if err := e.pending; err != nil {
		e.pending = nil
		if !IsRecordError(err) {
			e.final = err
		}
		return err
	}
	return e.final
}

// Fail returns err when b is empty, and otherwise nil, keeping err for the
// next call.
func (e *Errs) Fail(b *pusher.Batch, err error) error {
	if b.Len() > 0 {
		e.pending = err
		return nil
	}
	if !IsRecordError(err) {
		e.final = err
	}
	return err
}

// Stop makes err final, unless an error is final already. An error kept
// by Fail still comes first (and, unless it is a record error, stays
// final).
func (e *Errs) Stop(err error) {
	if e.final == nil {
		e.final = err
	}
}

// IsRecordError reports whether err is, or wraps, a *pusher.RecordError.
func IsRecordError(err error) bool {
	var re *pusher.RecordError
	return errors.As(err, &re)
}

// None reports whether e holds no error: nothing to return on the next
// call, nothing final.
func (e *Errs) None() bool { return e.pending == nil && e.final == nil }
