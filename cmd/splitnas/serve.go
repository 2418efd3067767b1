package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/fog"
)

// maxTokenBytes bounds a token file.
const maxTokenBytes = 4096

func newServeCmd() *cobra.Command {
	var (
		models                          []string
		addr, tokenFile, certF, keyFile string
		insecure                        bool
	)
	cmd := &cobra.Command{
		Use:   "serve --model M [--model M2 …] --token-file F [--addr 127.0.0.1:8080] [--tls-cert C --tls-key K]",
		Short: "Serve the fog part of split networks over HTTP",
		Long: `Runs an HTTP service that finishes split networks: an edge device runs layers 1..P of a model and
POSTs tensor P to /v1/models/{name}:infer; the service runs layers P+1..L and answers the class, its
label and the scores. Every split point of every model is accepted.

--model is a float (.snnm) or integer (.snqm) model file, repeatable; the model's name in URLs is the
file's base name without its extension, or NAME given as --model NAME=PATH.

Wire format (raw): Content-Type application/octet-stream, headers Splitnas-Split: P and Splitnas-Dtype:
float32 (float models) or int8 (integer models, every split point), body tensor P little-endian,
channel-major. Or JSON: {"split": P, "dtype": "int8", "tensor": [...]}. Answer: {"model", "split",
"class", "label", "scores", "scores_int8" (integer models)}. Errors: 4xx with {"error", "cause"}.
GET /v1/models lists the models (classes, split points, tensor shapes and bytes), GET /healthz needs no
token, GET /metrics is Prometheus's text format.

Every path but /healthz needs "Authorization: Bearer <token>", the token being the content of
--token-file (trailing white space removed). --insecure serves without a token, and only on a loopback
--addr. --tls-cert and --tls-key (PEM) serve HTTPS. The service prints the address it listens on
(--addr 127.0.0.1:0 picks a free port) and stops on SIGINT or SIGTERM, letting the requests in flight
finish (up to 15 s).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(models) == 0 {
				return errors.New("--model is required: a model file to serve (repeatable)")
			}
			if (certF == "") != (keyFile == "") {
				return errors.New("--tls-cert and --tls-key go together: give both or neither")
			}
			var token []byte
			switch {
			case tokenFile != "" && insecure:
				return errors.New("--insecure serves without a token: drop it or --token-file")
			case tokenFile != "":
				t, err := readTokenFile(tokenFile)
				if err != nil {
					return err
				}
				token = []byte(t)
			case !insecure:
				return errors.New("--token-file is required: a file holding the bearer token clients must send (--insecure serves without one, on a loopback --addr only)")
			case !isLoopback(addr):
				return fmt.Errorf("--insecure with --addr %s: serving without a token is allowed on a loopback address only (127.0.0.1, ::1, localhost)", addr)
			}
			ms, err := loadFogModels(models)
			if err != nil {
				return err
			}
			var to = fog.DefaultTimeouts()
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			log := slog.Default()
			srv, err := fog.NewServer(ms, fog.Options{Token: token, Insecure: insecure, Registerer: reg, Logger: log})
			if err != nil {
				return err
			}
			hs := fog.NewHTTPServer(srv, to, nil, log)
			scheme := "http"
			if certF != "" {
				if hs.TLSConfig, err = fog.TLSConfig(certF, keyFile); err != nil {
					return fmt.Errorf("--tls-cert/--tls-key: %w", err)
				}
				scheme = "https"
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("--addr %s: %w", addr, err)
			}
			if ta, ok := ln.Addr().(*net.TCPAddr); insecure && (!ok || !ta.IP.IsLoopback()) {
				ln.Close()
				return fmt.Errorf("--insecure with --addr %s: it listens on %s, not a loopback address", addr, ln.Addr())
			}
			auth := "bearer token required"
			if insecure {
				auth = "no token (--insecure)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving %s on %s://%s (%s)\n", strings.Join(srv.Models(), ", "), scheme, ln.Addr(), auth)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := fog.Run(ctx, hs, ln, to.Shutdown); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "stopped: every request in flight finished")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&models, "model", nil, "model file to serve, float (.snnm) or integer (.snqm), as PATH or NAME=PATH (repeatable)")
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on, host:port (port 0: any free port)")
	f.StringVar(&tokenFile, "token-file", "", "file holding the bearer token clients must send")
	f.BoolVar(&insecure, "insecure", false, "serve without a token (loopback --addr only)")
	f.StringVar(&certF, "tls-cert", "", "TLS certificate (PEM): serve HTTPS")
	f.StringVar(&keyFile, "tls-key", "", "TLS private key (PEM) of --tls-cert")
	return cmd
}

// loadFogModels loads --model specs (PATH or NAME=PATH).
func loadFogModels(specs []string) ([]*fog.Model, error) {
	var ms []*fog.Model
	seen := map[string]string{}
	for _, spec := range specs {
		name, path := fogModelName(spec)
		if prev, ok := seen[name]; ok {
			return nil, fmt.Errorf("--model %s: the name %s is already %s's (use --model NAME=PATH)", spec, name, prev)
		}
		seen[name] = path
		n, err := loadAnyModel(path)
		if err != nil {
			return nil, fmt.Errorf("--model %s: %w", spec, err)
		}
		m, err := fog.NewModel(name, n.Float, n.Int)
		if err != nil {
			return nil, fmt.Errorf("--model %s: %w", spec, err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// fogModelName splits a --model spec into the model's name and its file:
// NAME=PATH, or PATH named by its base name without extension.
func fogModelName(spec string) (name, path string) {
	if n, p, ok := strings.Cut(spec, "="); ok && n != "" && !strings.ContainsAny(n, `/\`) {
		return n, p
	}
	base := filepath.Base(spec)
	return strings.TrimSuffix(base, filepath.Ext(base)), spec
}

// readTokenFile reads a bearer token: the file's content without trailing
// white space, non-empty, at most 4 KiB of visible ASCII.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenBytes+1))
	if err != nil {
		return "", fmt.Errorf("--token-file %s: %w", path, err)
	}
	if len(b) > maxTokenBytes {
		return "", fmt.Errorf("--token-file %s is over %d bytes: want one token", path, maxTokenBytes)
	}
	t := strings.TrimRight(string(b), " \t\r\n")
	if t == "" {
		return "", fmt.Errorf("--token-file %s is empty: want the bearer token", path)
	}
	for i := range len(t) {
		if c := t[i]; c < 0x21 || c > 0x7e {
			return "", fmt.Errorf("--token-file %s: byte %d (%#x) is not visible ASCII: a token is one line of printable characters without spaces", path, i, c)
		}
	}
	return t, nil
}

// isLoopback reports whether a host:port listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
