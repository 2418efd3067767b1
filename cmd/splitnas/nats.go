package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/remote"
)

// natsFlags are a NATS client's flags: where the server is and how to
// authenticate (search --nats, worker).
type natsFlags struct {
	url, tokenFile, creds, tlsCA string
}

func (n *natsFlags) register(cmd *cobra.Command, what string) {
	f := cmd.Flags()
	f.StringVar(&n.url, "nats", "", what)
	f.StringVar(&n.tokenFile, "token-file", "", "with --nats: file holding the server's token")
	f.StringVar(&n.creds, "creds", "", "with --nats: NATS credentials file (user JWT and NKey seed) instead of a token")
	f.StringVar(&n.tlsCA, "tls-ca", "", "with --nats: CA certificate (PEM) to verify a TLS server with")
}

// connect connects as name, or reports which flag is wrong.
func (n *natsFlags) connect(name string) (*nats.Conn, error) {
	o := remote.ConnectOptions{Name: name, CredsFile: n.creds, TLSCAFile: n.tlsCA}
	switch {
	case n.tokenFile != "" && n.creds != "":
		return nil, errors.New("--token-file and --creds: give one way to authenticate")
	case n.tokenFile != "":
		t, err := readTokenFile(n.tokenFile)
		if err != nil {
			return nil, err
		}
		o.Token = t
	}
	nc, err := remote.Connect(n.url, o)
	if err != nil {
		return nil, fmt.Errorf("--nats %s: %w", n.url, err)
	}
	return nc, nil
}

// remoteEngine connects a search to its workers: the engine, and a
// function that logs the state of the remote work every interval until
// the returned stop is called (which also closes the connection).
func (n *natsFlags) remoteEngine(ctx context.Context, interval time.Duration) (*remote.Engine, func(), error) {
	nc, err := n.connect("splitnas search")
	if err != nil {
		return nil, nil, err
	}
	e, err := remote.NewEngine(ctx, nc, remote.EngineOptions{})
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("--nats %s: %w", n.url, err)
	}
	slog.Info("remote: trainings go to workers on " + n.url)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				logRemote(ctx, e)
			}
		}
	}()
	return e, func() {
		close(done)
		logRemote(ctx, e)
		e.Close()
		nc.Close()
	}, nil
}

// logRemote logs the workers' queue and what the engine has done.
func logRemote(ctx context.Context, e *remote.Engine) {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	attrs := []any{}
	if q, err := e.Queue(qctx); err == nil {
		attrs = append(attrs, "queued", q.Queued, "in_flight", q.InFlight, "redelivered_in_flight", q.Redelivered)
	}
	slog.Info("remote: "+e.Stats().String(), attrs...)
}

func newWorkerCmd() *cobra.Command {
	var (
		nf      natsFlags
		w       remote.Worker
		ackWait time.Duration
	)
	cmd := &cobra.Command{
		Use:   "worker --nats URL [--concurrency N] [--token-file F | --creds F] [--tls-ca F]",
		Short: "Train a search's candidates for coordinators on a NATS JetStream server",
		Long: `worker takes candidate trainings from the job queue of a NATS JetStream server (started by
"splitnas nats" or any nats-server with JetStream), trains them with the native engine and
stores each result in the server's results bucket before acknowledging the job. A job that
is not acknowledged within --ack-wait (a worker killed, or cut off) goes to another worker;
a training in progress sends notices, so it is never taken away while its worker lives.
Ctrl-C hands the jobs in progress back at once. Any number of workers on any machines may
serve one search; the search's result does not depend on them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if nf.url == "" {
				return errors.New("--nats is required: the URL of the NATS server, e.g. nats://host:4222")
			}
			if w.Concurrency < 0 {
				return fmt.Errorf("--concurrency %d: want ≥ 1 (0: one per core)", w.Concurrency)
			}
			if ackWait < time.Second {
				return fmt.Errorf("--ack-wait %v: want at least 1s", ackWait)
			}
			w.AckWait = ackWait
			nc, err := nf.connect("splitnas worker " + w.Name)
			if err != nil {
				return err
			}
			defer nc.Close()
			return w.Run(cmd.Context(), nc)
		},
	}
	nf.register(cmd, "URL of the NATS server (required), e.g. nats://host:4222")
	f := cmd.Flags()
	f.IntVar(&w.Concurrency, "concurrency", 0, "trainings at once (default: one per core)")
	f.StringVar(&w.Name, "name", "", "name in results and logs (default: host name and process id)")
	f.DurationVar(&ackWait, "ack-wait", remote.DefaultAckWait, "time after which a job whose worker sent no notice goes to another worker (the last worker to connect sets it)")
	return cmd
}

func newNATSCmd() *cobra.Command {
	var (
		dir, listen, tokenFile, certFile, keyFile string
		insecure                                  bool
	)
	cmd := &cobra.Command{
		Use:   "nats --dir D [--listen 127.0.0.1:4222] --token-file F [--tls-cert C --tls-key K]",
		Short: "Run an embedded NATS server with JetStream for searches across machines",
		Long: `nats runs a NATS server (nats-server, built in) with JetStream storing its streams and
buckets in files under --dir, until Ctrl-C. Coordinators ("splitnas search --nats URL") and
workers ("splitnas worker --nats URL") connect to it with the token in --token-file. Stopped
and started again on the same --dir, it keeps every queued job and stored result.

--insecure runs without a token, and only on a loopback --listen address. --tls-cert and
--tls-key (PEM) make clients connect over TLS (they pass --tls-ca).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return errors.New("--dir is required: the directory JetStream stores its files in")
			}
			host, portText, err := net.SplitHostPort(listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %w", listen, err)
			}
			port, err := strconv.Atoi(portText)
			if err != nil || port < 0 || port > 65535 {
				return fmt.Errorf("--listen %s: port %q is not a number from 0 to 65535", listen, portText)
			}
			if port == 0 {
				port = -1 // any free port
			}
			cfg := remote.ServerConfig{Dir: dir, Host: host, Port: port}
			switch {
			case tokenFile != "" && insecure:
				return errors.New("--insecure runs without a token: drop it or --token-file")
			case tokenFile != "":
				if cfg.Token, err = readTokenFile(tokenFile); err != nil {
					return err
				}
			case !insecure:
				return errors.New("--token-file is required: a file holding the token clients must present (--insecure runs without one, on a loopback --listen only)")
			case !isLoopback(listen):
				return fmt.Errorf("--insecure with --listen %s: running without a token is allowed on a loopback address only (127.0.0.1, ::1, localhost)", listen)
			}
			if (certFile == "") != (keyFile == "") {
				return errors.New("--tls-cert and --tls-key go together: give both or neither")
			}
			if certFile != "" {
				cert, err := tls.LoadX509KeyPair(certFile, keyFile)
				if err != nil {
					return fmt.Errorf("--tls-cert/--tls-key: %w", err)
				}
				cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
			}
			s, err := remote.StartServer(cfg)
			if err != nil {
				return fmt.Errorf("--listen %s: %w", listen, err)
			}
			auth := "token required"
			if insecure {
				auth = "no token (--insecure)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "NATS with JetStream on %s (storage %s, %s); Ctrl-C stops\n", s.ClientURL(), dir, auth)
			<-cmd.Context().Done()
			s.Shutdown()
			s.WaitForShutdown()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "JetStream storage directory (required)")
	f.StringVar(&listen, "listen", "127.0.0.1:4222", "host:port to listen on (port 0: any free port); 0.0.0.0:4222 for other machines")
	f.StringVar(&tokenFile, "token-file", "", "file holding the token clients must present")
	f.BoolVar(&insecure, "insecure", false, "run without a token (loopback --listen only)")
	f.StringVar(&certFile, "tls-cert", "", "TLS certificate (PEM)")
	f.StringVar(&keyFile, "tls-key", "", "TLS private key (PEM) of --tls-cert")
	return cmd
}
