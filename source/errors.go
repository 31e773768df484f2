package source

import "errors"

// ErrNotFound is wrapped by Store.Open when the object no longer exists.
var ErrNotFound = errors.New("object not found")
