package runner

import (
	"context"
	"errors"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// OnChange is what a new version (new ETag) of a key already loaded does.
type OnChange string

// The --on-change policies.
const (
	// OnChangeAppend: the new version loads as a file of its own; the
	// older versions' rows stay.
	OnChangeAppend OnChange = "append"
	// OnChangeReplace: the new version's first chunk deletes the key's
	// rows (the target finds them by the file column) in its own
	// transaction, so the older versions' rows give way to the new one's.
	OnChangeReplace OnChange = "replace"
	// OnChangeIgnore: a key loads once; later versions are skipped.
	OnChangeIgnore OnChange = "ignore"
	// OnChangeResume: a new version that only grew loads only what
	// follows the part an older version loaded (see resume.go); another
	// loads whole, as Options.ResumeFallback says.
	OnChangeResume OnChange = "resume"
)

// UnmarshalText sets a policy from its name (a flag's value).
func (o *OnChange) UnmarshalText(b []byte) error {
	switch v := OnChange(b); v {
	case OnChangeAppend, OnChangeReplace, OnChangeIgnore, OnChangeResume:
		*o = v
		return nil
	}
	return errors.New("expected append, replace, resume or ignore")
}

// MarshalText returns the policy's name.
func (o OnChange) MarshalText() ([]byte, error) { return []byte(o), nil }

// replaces says whether f's file, loaded from its start, replaced the
// older versions of its key: under OnChangeReplace, or OnChangeResume
// falling back to it.
func (r *Runner) replaces(f *flight) bool {
	switch r.opts.OnChange {
	case OnChangeReplace:
		return true
	case OnChangeResume:
		return r.opts.ResumeFallback == OnChangeReplace && f.pos == (pusher.Position{})
	}
	return false
}

// replaced records, once a new version that replaced its key's rows is
// loaded, that it replaced the key's other versions, when the target did
// not record it in the transaction that deleted their rows (the state is
// not in the target's database). A failure is logged: the versions stay
// done in the state, which changes nothing for a later listing.
func (r *Runner) replaced(ctx context.Context, f *flight) {
	if !r.replaces(f) {
		return
	}
	// Named again (the old content uploaded again), they load.
	r.done.forget(f.obj.Key, f.obj.ETag)
	if r.target.CommitsProgress() {
		return
	}
	rp, ok := r.state.(state.Replacer)
	if !ok {
		return
	}
	err := rp.Replace(context.WithoutCancel(ctx), r.pipeline, f.obj)
	r.stateRoundTrip(err)
	if err != nil {
		r.log.Warn().Str("file", f.obj.Key).Msg("cannot mark the older versions replaced: " + err.Error())
	}
}
