package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves /metrics (the Registry, in the Prometheus text format),
// /healthz (200 while it runs) and /readyz (200 "ready", or 503 with a
// one-line reason; 503 "starting" until SetReady).
type Server struct {
	// Registry holds the metrics served: the Go runtime's and the
	// process's from the start, the pipeline's once registered.
	Registry *prometheus.Registry

	ln    net.Listener
	srv   *http.Server
	ready atomic.Pointer[func(context.Context) (bool, string)]
	done  chan struct{}
}

// Listen listens on addr (HOST:PORT; port 0 picks a free port) and serves
// in the background until Close. A port already in use fails here.
func Listen(addr string) (*Server, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, &AddrError{Addr: addr, Err: errors.New("expected HOST:PORT, e.g. 127.0.0.1:9090 or :9090")}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, unwrapOp(err))
	}
	s := &Server{Registry: prometheus.NewRegistry(), ln: ln, done: make(chan struct{})}
	s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.readyz)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln) // http.ErrServerClosed after Close
	}()
	return s, nil
}

// AddrError is a --metrics-addr that is not HOST:PORT (a usage error).
type AddrError struct {
	Addr string
	Err  error
}

func (e *AddrError) Error() string { return fmt.Sprintf("--metrics-addr %q: %v", e.Addr, e.Err) }
func (e *AddrError) Unwrap() error { return e.Err }

// Usage says the error is the user's command line (exit status 2).
func (e *AddrError) Usage() bool { return true }

// unwrapOp drops net.OpError's "listen tcp ADDR:" prefix, which the
// caller's message already says.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// Addr is the address listened on (with the port picked for port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// SetReady sets what /readyz asks (a Health's Ready).
func (s *Server) SetReady(ready func(context.Context) (bool, string)) { s.ready.Store(&ready) }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ok, why := false, "starting"
	if f := s.ready.Load(); f != nil {
		ok, why = (*f)(r.Context())
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, why)
}

// Close stops serving, letting requests under way finish for a moment.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}
