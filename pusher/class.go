package pusher

import (
	"context"
	"errors"
)

// Class is what an error means to the engine: whether the file is at
// fault, or it should simply be tried again later. Components (stores,
// targets, state stores, queues) classify their own errors by marking
// them with Unavailable, Retry or Gone (or by returning errors that
// implement Classed); the engine asks ClassOf and nothing else.
type Class int

const (
	// ClassData: the data is bad (a record, a file, a value that does not
	// convert). Reading the same bytes again fails the same way: the file
	// fails, and counts an attempt.
	ClassData Class = iota
	// ClassUnavailable: a service (object store, database, queue) is
	// unavailable or overloaded. The file is not at fault and resumes at
	// its committed position later; other files would fail the same way
	// now, so the caller backs off.
	ClassUnavailable
	// ClassRetry: the file is not at fault and the services work, but the
	// load cannot go on now (another process claims or moved the file).
	// The file resumes later; other files go on.
	ClassRetry
	// ClassGone: the object was deleted or replaced since it was listed.
	// Not a failure: there is nothing of this version left to load.
	ClassGone
	// ClassCanceled: the load was stopped (a graceful shutdown).
	ClassCanceled
)

func (c Class) String() string {
	switch c {
	case ClassData:
		return "data"
	case ClassUnavailable:
		return "unavailable"
	case ClassRetry:
		return "retry"
	case ClassGone:
		return "gone"
	case ClassCanceled:
		return "canceled"
	}
	return "unknown"
}

// Classed is implemented by errors that know their class.
type Classed interface {
	error
	Class() Class
}

// ClassOf returns the class of err: the class of the first error in its
// chain that implements Classed; else ClassCanceled for a cancelled
// context, ClassUnavailable for a deadline that expired, and ClassData for
// everything else (and nil).
func ClassOf(err error) Class {
	if err == nil {
		return ClassData
	}
	var c Classed
	if errors.As(err, &c) {
		return c.Class()
	}
	switch {
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return ClassUnavailable
	}
	return ClassData
}

// Unavailable marks err as ClassUnavailable (nil stays nil).
func Unavailable(err error) error { return mark(err, ClassUnavailable) }

// Retry marks err as ClassRetry (nil stays nil).
func Retry(err error) error { return mark(err, ClassRetry) }

// Gone marks err as ClassGone (nil stays nil).
func Gone(err error) error { return mark(err, ClassGone) }

func mark(err error, c Class) error {
	if err == nil {
		return nil
	}
	return &classedError{err: err, class: c}
}

type classedError struct {
	err   error
	class Class
}

func (e *classedError) Error() string { return e.err.Error() }
func (e *classedError) Unwrap() error { return e.err }
func (e *classedError) Class() Class  { return e.class }
