package pusher

import (
	"context"
	"errors"
	"testing"
)

type fakeTarget struct {
	commits bool
	err     error
	writes  int
}

func (f *fakeTarget) Write(context.Context, *Chunk) error { f.writes++; return f.err }
func (f *fakeTarget) CommitsProgress() bool               { return f.commits }
func (f *fakeTarget) String() string                      { return "fake" }
func (f *fakeTarget) Close() error                        { return nil }

type fakeState struct {
	advanced []*Chunk
}

func (f *fakeState) Advance(_ context.Context, _ string, c *Chunk) error {
	f.advanced = append(f.advanced, c)
	return nil
}

func TestSync(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		target      *fakeTarget
		wantErr     bool
		wantAdvance int
	}{
		{"state kept by pusher", &fakeTarget{}, false, 1},
		{"state kept by target", &fakeTarget{commits: true}, false, 0},
		{"target fails: no progress", &fakeTarget{err: errors.New("boom")}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeState{}
			p := NewSync(tt.target, st, "p")
			c := &Chunk{Last: true}
			err := p.Push(ctx, c)
			if (err != nil) != tt.wantErr || len(st.advanced) != tt.wantAdvance || tt.target.writes != 1 {
				t.Fatalf("err %v, advanced %d, writes %d", err, len(st.advanced), tt.target.writes)
			}
			var res *FileResult
			p.Finish(c.File, err, func(r FileResult) { res = &r })
			if res == nil || res.Err != err {
				t.Fatalf("Finish: done got %+v, want the read's error %v at once", res, err)
			}
		})
	}
}
