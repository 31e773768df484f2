package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/compress"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/state"
)

// This file is --on-change resume: a new version of a key that only grew
// (a log being appended to) loads only the bytes past the position where
// an older version's load ended, once the bytes just before that
// position (a checksum kept in the state, state.Tail) are found
// unchanged; otherwise it loads whole, as Options.ResumeFallback says.

// tailBytes is how many bytes before the end of a loaded version the
// checksum covers: its last block.
const tailBytes = 64 << 10

// resumeBase is a done version of a key that a new version may continue.
type resumeBase struct {
	obj pusher.Object
	pos pusher.Position
}

// resumeBase returns, under OnChangeResume, the done version of obj's key
// (other than obj) loaded furthest, or nil when there is none.
func (r *Runner) resumeBase(obj pusher.Object, progress map[string]state.Progress) *resumeBase {
	if r.opts.OnChange != OnChangeResume {
		return nil
	}
	if _, ok := progress[obj.ID()]; ok {
		return nil // started before: it resumes at its own position
	}
	var b *resumeBase
	for id, p := range progress {
		if p.Status != state.Done || state.KeyOf(id) != obj.Key {
			continue
		}
		if b == nil || p.Pos.Offset > b.pos.Offset {
			b = &resumeBase{obj: pusher.Object{Key: obj.Key, ETag: id[len(obj.Key)+1:]}, pos: p.Pos}
		}
	}
	return b
}

// appendable says whether obj's format can grow by appending, read as is:
// a line-based format (CSV, TSV, JSON lines, lines), not compressed.
func (r *Runner) appendable(obj pusher.Object) bool {
	name := r.load.Format.Format
	if name == "" || name == "auto" {
		name, _ = format.Detect(obj.Key)
	}
	switch name {
	case format.CSV, format.TSV, format.JSONL, format.Lines:
	default:
		return false
	}
	switch r.load.Compression {
	case "", compress.Auto:
		return compress.FromExt(obj.Key) == ""
	case compress.None:
		return true
	}
	return false
}

// resume decides where f's new version starts: past its base's position
// when the bytes before that position are unchanged, else (with a
// warning) at its start, to be loaded whole as ResumeFallback says.
func (ps *pass) resume(f *flight) {
	r, b := ps.r, f.base
	log := r.log.With().Str("file", f.obj.Key).Logger()
	rs, ok := r.state.(state.Resumer)
	if !ok {
		return
	}
	why, err := ps.prefixChanged(f.obj, b, rs)
	if err != nil {
		why = "cannot check the loaded part: " + err.Error()
	}
	if why == "" {
		err := rs.StartAt(ps.ctx, r.pipeline, f.obj, b.pos)
		r.stateRoundTrip(err)
		if err == nil {
			log.Info().Int64("record", b.pos.Records).Int64("offset", b.pos.Offset).
				Msg("file grew: loading what follows the part already loaded")
			f.pos = b.pos
			return
		}
		why = err.Error()
	}
	log.Warn().Str("on_change", string(r.opts.ResumeFallback)).
		Msg(fmt.Sprintf("file changed (%s): loading it whole (--on-change resume falls back to %s)", why, r.opts.ResumeFallback))
}

// prefixChanged returns why obj does not continue b ("" when it does):
// b has no checksum, obj is shorter, or the bytes before b's end differ.
func (ps *pass) prefixChanged(obj pusher.Object, b *resumeBase, rs state.Resumer) (string, error) {
	if !ps.r.appendable(obj) {
		return "only plain CSV, TSV, JSON-lines and lines files resume", nil
	}
	t, err := rs.Tail(ps.ctx, ps.r.pipeline, b.obj)
	ps.r.stateRoundTrip(err)
	switch {
	case err != nil:
		return "", err
	case t.Len == 0 && t.Offset == 0 && t.Sum == "":
		return "no checksum of the part loaded", nil
	case t.Offset != b.pos.Offset:
		return fmt.Sprintf("the checksum is at byte %d, the part loaded ends at %d", t.Offset, b.pos.Offset), nil
	case obj.Size < t.Offset:
		return fmt.Sprintf("it is shorter (%d bytes) than the part loaded (%d)", obj.Size, t.Offset), nil
	}
	sum, err := ps.tailSum(ps.ctx, obj, t.Offset, t.Len)
	if err != nil {
		return "", err
	}
	if sum != t.Sum {
		return fmt.Sprintf("its bytes %d to %d differ from the part loaded", t.Offset-int64(t.Len), t.Offset), nil
	}
	return "", nil
}

// tailSum returns the hex SHA-256 of obj's bytes [end-n, end).
func (ps *pass) tailSum(ctx context.Context, obj pusher.Object, end int64, n int) (string, error) {
	body, err := ps.r.store.Open(ctx, obj, end-int64(n))
	if err != nil {
		return "", err
	}
	defer body.Close()
	h := sha256.New()
	if _, err := io.CopyN(h, body, int64(n)); err != nil {
		return "", fmt.Errorf("read %q: %w", obj.Key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// recordTail keeps, under OnChangeResume, the checksum of the last block
// of obj before its committed end, for a later version to be checked
// against. A failure is logged: the next version then loads whole.
func (ps *pass) recordTail(obj pusher.Object) {
	r := ps.r
	rs, ok := r.state.(state.Resumer)
	if r.opts.OnChange != OnChangeResume || !ok || !r.appendable(obj) {
		return
	}
	ctx := context.WithoutCancel(ps.ctx)
	err := func() error {
		// The end committed: a local file may have grown past its listed
		// size while it loaded.
		progress, err := r.state.Lookup(ctx, r.pipeline, []pusher.Object{obj})
		r.stateRoundTrip(err)
		if err != nil {
			return err
		}
		end := progress[obj.ID()].Pos.Offset
		n := int(min(end, tailBytes))
		sum, err := ps.tailSum(ctx, obj, end, n)
		if err != nil {
			return err
		}
		err = rs.SetTail(ctx, r.pipeline, obj, state.Tail{Offset: end, Len: n, Sum: sum})
		r.stateRoundTrip(err)
		return err
	}()
	if err != nil {
		r.log.Warn().Str("file", obj.Key).Msg("cannot keep the checksum of the part loaded (its next version will load whole): " + err.Error())
	}
}
