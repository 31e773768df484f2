package source

import (
	"errors"

	"github.com/ferrydata/ferry/pusher"
)

// ErrNotFound is wrapped by Store.Open when the object no longer exists.
// It is classed pusher.ClassGone: there is nothing left to load.
var ErrNotFound = pusher.Gone(errors.New("object not found"))
