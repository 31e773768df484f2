package source

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ferrydata/ferry/pusher"
)

// AfterLoadKind is what --after-load does with an object once its rows
// are committed.
type AfterLoadKind string

// The --after-load actions.
const (
	// AfterLoadKeep leaves the object as it is (the default).
	AfterLoadKeep AfterLoadKind = "keep"
	// AfterLoadDelete deletes the object (the version loaded only).
	AfterLoadDelete AfterLoadKind = "delete"
	// AfterLoadMove copies the object under a prefix, then deletes it.
	AfterLoadMove AfterLoadKind = "move"
	// AfterLoadTag sets a tag on the object (S3 only).
	AfterLoadTag AfterLoadKind = "tag"
)

// AfterLoad is an --after-load action: keep, delete, move:PREFIX or
// tag:KEY=VALUE. The zero value is keep. It is a flag's value
// (encoding.TextUnmarshaler), and its text (String) is what the state
// records with a file whose action is pending.
type AfterLoad struct {
	Kind AfterLoadKind
	// Prefix (move) is where the object goes: a key prefix in the same
	// bucket, or a directory, which the object's key relative to the
	// source is appended to.
	Prefix string
	// TagKey and TagValue (tag) is the tag set on the object.
	TagKey, TagValue string
}

// ParseAfterLoad parses keep, delete, move:PREFIX or tag:KEY=VALUE.
func ParseAfterLoad(s string) (AfterLoad, error) {
	kind, arg, hasArg := strings.Cut(s, ":")
	switch a := (AfterLoad{Kind: AfterLoadKind(kind)}); a.Kind {
	case "", AfterLoadKeep, AfterLoadDelete:
		if hasArg {
			return AfterLoad{}, fmt.Errorf("after-load %q: %s takes no argument", s, kind)
		}
		if a.Kind == "" {
			a.Kind = AfterLoadKeep
		}
		return a, nil
	case AfterLoadMove:
		if strings.Trim(arg, "/") == "" {
			return AfterLoad{}, fmt.Errorf("after-load %q: move needs a prefix (move:archive/)", s)
		}
		a.Prefix = arg
		return a, nil
	case AfterLoadTag:
		k, v, ok := strings.Cut(arg, "=")
		if !ok || k == "" {
			return AfterLoad{}, fmt.Errorf("after-load %q: tag needs KEY=VALUE (tag:ferry=loaded)", s)
		}
		if len(k) > 128 || len(v) > 256 {
			return AfterLoad{}, fmt.Errorf("after-load %q: a tag key has at most 128 characters, a value at most 256", s)
		}
		a.TagKey, a.TagValue = k, v
		return a, nil
	}
	return AfterLoad{}, fmt.Errorf("after-load %q: expected keep, delete, move:PREFIX or tag:KEY=VALUE", s)
}

// String spells the action as the flag takes it.
func (a AfterLoad) String() string {
	switch a.Kind {
	case "", AfterLoadKeep:
		return string(AfterLoadKeep)
	case AfterLoadMove:
		return "move:" + a.Prefix
	case AfterLoadTag:
		return "tag:" + a.TagKey + "=" + a.TagValue
	}
	return string(a.Kind)
}

// Active says whether the action does something (it is not keep).
func (a AfterLoad) Active() bool { return a.Kind != "" && a.Kind != AfterLoadKeep }

// Removes says whether the action takes the object away from its key
// (delete, move): its removal is ferry's own, not a removal to act on.
func (a AfterLoad) Removes() bool { return a.Kind == AfterLoadDelete || a.Kind == AfterLoadMove }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *AfterLoad) UnmarshalText(b []byte) error {
	v, err := ParseAfterLoad(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (a AfterLoad) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// ErrBadAfterLoad is wrapped by CheckAfterLoad's errors: the action is
// not one the source can do (a usage error).
var ErrBadAfterLoad = errors.New("bad --after-load")

// ActionStore is a Store that can act on an object once it is loaded
// (--after-load delete and move). Every method acts on the version obj
// names only: a newer version at the key (a rewritten object) is left as
// it is, and the method fails with an error of class pusher.ClassGone.
type ActionStore interface {
	Store
	// Delete deletes the version obj. An object already gone is no error
	// (a delete done before whose answer was lost).
	Delete(ctx context.Context, obj pusher.Object) error
	// Copy copies the version obj to dst, a name Dest returned. A copy
	// already there (the same size) is overwritten.
	Copy(ctx context.Context, obj pusher.Object, dst string) error
	// Dest is where move:prefix puts the object at key: the key relative
	// to the source appended to prefix, in the same bucket or, for a
	// directory, under the directory prefix names. It fails when the
	// destination would be listed as a source object again (it is under
	// the source).
	Dest(prefix, key string) (string, error)
}

// Tagger is a Store that can tag an object (--after-load tag; S3).
type Tagger interface {
	// Tag adds key=value to the tags of the version obj (the others
	// stay).
	Tag(ctx context.Context, obj pusher.Object, key, value string) error
}

// CheckAfterLoad says whether st can do a: a usage error when it cannot
// (tag on a local directory, move under the source).
func CheckAfterLoad(st Store, a AfterLoad) error {
	switch a.Kind {
	case "", AfterLoadKeep:
		return nil
	case AfterLoadTag:
		if _, ok := st.(Tagger); !ok {
			return fmt.Errorf("%w %s: tags are for S3 sources only, not %s", ErrBadAfterLoad, a, st)
		}
		return nil
	}
	as, ok := st.(ActionStore)
	if !ok {
		return fmt.Errorf("%w %s: %s cannot delete or move its objects", ErrBadAfterLoad, a, st)
	}
	if a.Kind == AfterLoadMove {
		if _, err := as.Dest(a.Prefix, "x"); err != nil {
			return fmt.Errorf("%w %s: %w", ErrBadAfterLoad, a, err)
		}
	}
	return nil
}
