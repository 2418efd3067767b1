package remote

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ServerConfig sets up an embedded NATS server (nats-server as a library)
// with JetStream on file storage: what `splitnas nats` runs, and what the
// tests run.
type ServerConfig struct {
	Dir  string // JetStream's storage directory (created if missing); required
	Host string // "" : 127.0.0.1
	Port int    // 0: 4222, the NATS default; -1: any free port
	// Token, if not empty, is the token every client must present; an
	// empty Token lets anyone connect (the caller decides when that is
	// acceptable).
	Token string
	// TLS, if not nil, makes clients connect over TLS with it.
	TLS *tls.Config
}

// StartServer starts the server and waits until it accepts connections.
// Its ClientURL is where clients connect; Shutdown stops it.
func StartServer(cfg ServerConfig) (*server.Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("remote: the server needs a storage directory")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("remote: storage directory: %w", err)
	}
	opts := &server.Options{
		ServerName:    "splitnas",
		Host:          cfg.Host,
		Port:          cfg.Port,
		JetStream:     true,
		StoreDir:      cfg.Dir,
		Authorization: cfg.Token,
		NoSigs:        true, // the embedding program handles signals
		NoLog:         true,
		TLSConfig:     cfg.TLS,
		TLS:           cfg.TLS != nil,
		TLSTimeout:    2,
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = server.DEFAULT_PORT
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("remote: the NATS server on %s:%d did not start within 10 s (port in use?)", opts.Host, opts.Port)
	}
	return s, nil
}

// ConnectOptions are a client's credentials and identity. Token and
// CredsFile are the two ways to authenticate (a token the server was given,
// or a NATS credentials file with a user JWT and its NKey seed); TLSCAFile
// trusts the server certificate's issuer.
type ConnectOptions struct {
	Name          string
	Token         string
	CredsFile     string
	TLSCAFile     string
	ReconnectWait time.Duration // 0: 1 s
}

// Connect connects to a NATS server and keeps reconnecting forever when
// the connection drops, so that a restarting server interrupts nothing. The
// first connection must succeed: a refused one (wrong address, no or
// wrong credentials) is an error.
func Connect(url string, o ConnectOptions) (*nats.Conn, error) {
	if o.ReconnectWait <= 0 {
		o.ReconnectWait = time.Second
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(o.ReconnectWait),
		nats.Timeout(5 * time.Second),
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.CredsFile != "" {
		if _, err := os.Stat(o.CredsFile); err != nil {
			return nil, fmt.Errorf("remote: credentials: %w", err)
		}
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.TLSCAFile != "" {
		pem, err := os.ReadFile(o.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("remote: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("remote: CA file %s holds no PEM certificate", o.TLSCAFile)
		}
		opts = append(opts, nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("remote: connecting to %s: %w", url, err)
	}
	return nc, nil
}
