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
)

// UnmarshalText sets a policy from its name (a flag's value).
func (o *OnChange) UnmarshalText(b []byte) error {
	switch v := OnChange(b); v {
	case OnChangeAppend, OnChangeReplace, OnChangeIgnore:
		*o = v
		return nil
	}
	return errors.New("expected append, replace or ignore")
}

// MarshalText returns the policy's name.
func (o OnChange) MarshalText() ([]byte, error) { return []byte(o), nil }

// replaced records, once a new version is loaded under OnChangeReplace,
// that it replaced the key's other versions, when the target did not
// record it in the transaction that deleted their rows (the state is not
// in the target's database). A failure is logged: the versions stay done
// in the state, which changes nothing for a later listing.
func (r *Runner) replaced(ctx context.Context, obj pusher.Object) {
	if r.opts.OnChange != OnChangeReplace || r.target.CommitsProgress() {
		return
	}
	rp, ok := r.state.(state.Replacer)
	if !ok {
		return
	}
	err := rp.Replace(context.WithoutCancel(ctx), r.pipeline, obj)
	r.stateRoundTrip(err)
	if err != nil {
		r.log.Warn().Str("file", obj.Key).Msg("cannot mark the older versions replaced: " + err.Error())
	}
}
