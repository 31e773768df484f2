package runner

import (
	"context"
	"io"
	"sync"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
)

// A fetch is a GET of a file started while the file waits for a worker,
// so that the store's latency overlaps with the loads before it. Bodies
// open at once are bounded by Options.FetchAhead (each holds a
// connection, its data waiting in the socket's buffer).
type fetch struct {
	done chan struct{} // closed once body and err are set
	body io.ReadCloser
	err  error

	mu    sync.Mutex
	taken bool // by the load, or discarded
}

// prefetch starts f's GET when the pass fetches ahead and f's format
// reads a stream (random-access formats read ranges as they go). It waits
// for a slot first: slots are taken in the order the files go to the
// workers, so the file a worker takes next never waits for a slot held by
// a file behind it.
func (ps *pass) prefetch(f *flight) {
	if ps.fetchSlots == nil || ps.randomAccess(f.obj) {
		return
	}
	select {
	case ps.fetchSlots <- struct{}{}:
	case <-ps.dispatch.Done():
		return
	}
	fe := &fetch{done: make(chan struct{})}
	f.fetch = fe
	// A slot is held per queued fetch, so the queue (as long as the
	// slots) never blocks.
	ps.fetches <- func() {
		defer close(fe.done)
		// Its own context, so that a load whose read of the body stalls
		// can abandon the request (Abort).
		ctx, cancel := context.WithCancel(ps.ctx)
		body, err := ps.r.store.Open(ctx, f.obj, 0)
		if err != nil {
			cancel()
			<-ps.fetchSlots
			fe.err = err
			return
		}
		fe.body = &slotBody{ReadCloser: body, free: func() { <-ps.fetchSlots }, cancel: cancel}
	}
}

func (ps *pass) randomAccess(obj pusher.Object) bool {
	name := ps.r.load.Format.Format
	if name == "" || name == "auto" {
		name, _ = format.Detect(obj.Key)
	}
	return format.RandomAccess(name)
}

// take returns the fetched body, once, or nil when the GET failed (the
// load opens the object itself).
func (fe *fetch) take(ctx context.Context) io.ReadCloser {
	select {
	case <-fe.done:
	case <-ctx.Done():
		fe.discard()
		return nil
	}
	fe.mu.Lock()
	defer fe.mu.Unlock()
	if fe.taken || fe.err != nil {
		return nil
	}
	fe.taken = true
	return fe.body
}

// discard closes the body unless the load took it.
func (fe *fetch) discard() {
	go func() {
		<-fe.done
		fe.mu.Lock()
		defer fe.mu.Unlock()
		if !fe.taken && fe.body != nil {
			fe.body.Close()
		}
		fe.taken = true
	}()
}

// slotBody frees its fetch slot once closed.
type slotBody struct {
	io.ReadCloser
	once   sync.Once
	free   func()
	cancel context.CancelFunc // the GET's context
}

func (b *slotBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	b.once.Do(b.free)
	return err
}

// Abort abandons the GET: a read under way returns an error.
func (b *slotBody) Abort() { b.cancel() }

// fetchedStore is the store as one load sees it: its first Open of the
// whole object returns the body fetched ahead.
type fetchedStore struct {
	source.Store
	fetch *fetch
	obj   pusher.Object
}

func (s *fetchedStore) Open(ctx context.Context, obj pusher.Object, off int64) (io.ReadCloser, error) {
	if off == 0 && obj == s.obj {
		if body := s.fetch.take(ctx); body != nil {
			return body, nil
		}
	}
	return s.Store.Open(ctx, obj, off)
}
