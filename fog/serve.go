package fog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Timeouts bound what a client can hold of an http.Server.
type Timeouts struct {
	ReadHeader time.Duration // to read a request's headers
	Read       time.Duration // to read a whole request, body included
	Write      time.Duration // from the end of the request's headers to the end of the response
	Idle       time.Duration // a kept-alive connection waiting for its next request
	Shutdown   time.Duration // in-flight requests' grace after the server is told to stop
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes int
}

// DefaultTimeouts are the serve command's: a slow client loses its
// connection after 5 s without complete headers or 30 s without a complete
// body; a tensor of the largest network splitnas searches is a few KB.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		ReadHeader: 5 * time.Second, Read: 30 * time.Second, Write: 30 * time.Second,
		Idle: 120 * time.Second, Shutdown: 15 * time.Second, MaxHeaderBytes: 16 << 10,
	}
}

// NewHTTPServer returns an http.Server for h with t's timeouts, logging its
// own errors (TLS handshakes, broken connections) to log at Warn (nil:
// discarded). tlsConfig, if not nil, is used by Run to serve HTTPS.
func NewHTTPServer(h http.Handler, t Timeouts, tlsConfig *tls.Config, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    t.MaxHeaderBytes,
		TLSConfig:         tlsConfig,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Run serves srv on ln (HTTPS if srv.TLSConfig is set) until ctx is done,
// then shuts down gracefully: it stops accepting connections and waits up to
// grace for the requests in flight to finish, then closes what is left. It
// returns nil after a graceful shutdown, an error wrapping
// context.DeadlineExceeded if requests were still running after grace, or
// the error that stopped serving.
func Run(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("fog: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("fog: serving on %s: %w", ln.Addr(), serr)
	}
	if err != nil {
		srv.Close()
		return fmt.Errorf("fog: shutdown: requests still in flight after %v: %w", grace, err)
	}
	return nil
}

// TLSConfig loads a certificate and its key (PEM files) for Run: TLS 1.2 at
// least.
func TLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("fog: TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
